"""Expand-Convolute codes for dual-LPN silent VOLE (Raghuraman–Rindal–Tanguy, CRYPTO 2023).

Dual LPN compresses a regular-noise vector ``e`` of length ``N`` to ``k``
pseudorandom values with a public matrix ``G`` (``k × N``, binary). Because
``G`` is binary, the same map sends a VOLE correlation ``w = v + e·Δ`` of
length N to one of length k: ``G·w = G·v + (G·e)·Δ``. We use the
Expand-Convolute code of RRT23 (ePrint 2023/882), the ``ExConv7x24``
instance that libOTe ships as its default: systematic, ``G = [I | B·A]``
with

* ``A`` (``L × L``, ``L = N − k``): a convolution — lower triangular with ones
  on the diagonal, the 24 diagonals below it uniformly random and the 25th
  all ones — applied twice with independent coefficients (the "accumulate
  twice" guard against expanders that land in a short tail; the tail wraps
  around modulo L);
* ``B`` (``k × L``): an expander of row weight 7 — four "regular" positions,
  one uniform in each quarter of ``[0, L)``, and three uniform positions.

So ``dual_encode(x)[i] = x[i] ⊕ Σ_{j ∈ B_i} (A·x[k:])_j``. Linear over GF(2),
hence over any characteristic-2 field acting on blocks.

The code is public and fixed by a seed. Its coefficients come from a
counter-based splitmix64 stream: it needs no secrecy or unpredictability, only
to be a fixed "random-looking" code, as libOTe's (non-cryptographic, AES-round
based) coefficient generator is. Parameters and security are stated in
:mod:`pqmpc.ot.ext.vole`.

Kernels are numba over the whole vector, one pass per accumulation and one
for the expander; Python only dispatches.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ...errors import ParameterError

#: Expander row weight (ExConv7x24).
EXPANDER_WEIGHT = 7
#: Random diagonals of the convolution (ExConv7x24).
ACCUMULATOR_WIDTH = 24
#: The public code seed (any fixed value works; changing it changes every VOLE output).
CODE_SEED = 0x5151_7670_6D70_6301

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_G = np.uint64(0x9E3779B97F4A7C15)


@njit(inline="always")
def _mix(z):
    # splitmix64 finaliser
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(inline="always")
def _below(r, bound):
    # 32-bit fraction times bound: a public code, a 2^-32 bias is irrelevant.
    return np.int64(((r >> np.uint64(32)) * np.uint64(bound)) >> np.uint64(32))


@njit(cache=True, nogil=True)
def _accumulate(x, seed):
    """x[(i+1+j) mod L] ^= bit_j(r_i)·x[i] for j < 24, and x[(i+25) mod L] ^= x[i], for i = 0..L-1."""
    L = x.shape[0]
    W = x.shape[1]
    s = np.uint64(seed)
    one = np.uint64(1)
    main = max(L - 26, 0)
    # Rows whose 25 targets do not wrap: no index check, masks instead of branches on random bits.
    for i in range(main):
        r = _mix(s + np.uint64(i) * _G)
        for w in range(W):
            xi = x[i, w]
            for b in range(24):
                x[i + 1 + b, w] ^= xi & (np.uint64(0) - ((r >> np.uint64(b)) & one))
            x[i + 25, w] ^= xi
    for i in range(main, L):
        r = _mix(s + np.uint64(i) * _G)
        for w in range(W):
            xi = x[i, w]
            j = i + 1
            for b in range(24):
                if j >= L:
                    j -= L
                x[j, w] ^= xi & (np.uint64(0) - ((r >> np.uint64(b)) & one))
                j += 1
            if j >= L:
                j -= L
            x[j, w] ^= xi


@intrinsic
def prefetch(typingctx, arr, i):
    """Hint the CPU to fetch element ``i`` (row ``i`` of a 2-D array) of ``arr``; no effect on results.

    For kernels whose random reads are known some iterations ahead: many misses in flight at once."""
    if not (isinstance(arr, types.Array) and arr.ndim in (1, 2) and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        aty = sig.args[0]
        ary = context.make_array(aty)(context, builder, args[0])
        idx = context.cast(builder, args[1], sig.args[1], types.intp)
        zero = ir.Constant(context.get_value_type(types.intp), 0)
        ptr = cgutils.get_item_pointer(context, builder, aty, ary, [idx, zero][:aty.ndim])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                            "llvm.prefetch.p0i8")
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(arr, i), codegen


_prefetch = prefetch


@njit(inline="always")
def _positions(k, L, step, s, i, ring, slot):
    base = s + np.uint64(i) * np.uint64(8) * _G
    ring[slot, 0] = k + _below(_mix(base), step)
    ring[slot, 1] = k + step + _below(_mix(base + _G), step)
    ring[slot, 2] = k + 2 * step + _below(_mix(base + np.uint64(2) * _G), step)
    ring[slot, 3] = k + 3 * step + _below(_mix(base + np.uint64(3) * _G), step)
    ring[slot, 4] = k + _below(_mix(base + np.uint64(4) * _G), L)
    ring[slot, 5] = k + _below(_mix(base + np.uint64(5) * _G), L)
    ring[slot, 6] = k + _below(_mix(base + np.uint64(6) * _G), L)


_AHEAD = 16


@njit(cache=True, nogil=True)
def _expand(x, k, seed):
    """x[i] ^= Σ over the 7 expander positions of row i in x[k:], for i < k.

    Seven random reads per row over a vector far larger than the cache: the
    positions of row ``i + 16`` are computed and prefetched while row ``i`` is
    summed, so many misses are in flight at once (≈ 5x faster than waiting
    for each).
    """
    L = x.shape[0] - k
    W = x.shape[1]
    step = L // 4
    s = np.uint64(seed)
    ring = np.empty((_AHEAD, 7), dtype=np.int64)
    for i in range(min(_AHEAD, k)):
        _positions(k, L, step, s, i, ring, i)
        for t in range(7):
            _prefetch(x, ring[i, t])
    for i in range(k):
        slot = i % _AHEAD
        p0, p1, p2, p3 = ring[slot, 0], ring[slot, 1], ring[slot, 2], ring[slot, 3]
        p4, p5, p6 = ring[slot, 4], ring[slot, 5], ring[slot, 6]
        for w in range(W):
            x[i, w] ^= x[p0, w] ^ x[p1, w] ^ x[p2, w] ^ x[p3, w] ^ x[p4, w] ^ x[p5, w] ^ x[p6, w]
        j = i + _AHEAD
        if j < k:
            _positions(k, L, step, s, j, ring, slot)
            for t in range(7):
                _prefetch(x, ring[slot, t])


class ExConvCode:
    """The ExConv7x24 code compressing ``N`` values to ``k`` (``N ≥ 2k``, ``k ≥ 1``)."""

    def __init__(self, k: int, n_code: int, seed: int = CODE_SEED):
        if k < 1 or n_code < 2 * k or n_code - k < 4 + ACCUMULATOR_WIDTH:
            raise ParameterError(f"ExConv code needs k >= 1 and N >= max(2k, k + 28), got k={k}, N={n_code}")
        self.k = int(k)
        self.n = int(n_code)
        self.seed = int(seed) & 0xFFFF_FFFF_FFFF_FFFF

    def __repr__(self) -> str:
        return f"ExConvCode(k={self.k}, N={self.n}, weight={EXPANDER_WEIGHT}, acc={ACCUMULATOR_WIDTH})"

    def dual_encode(self, x: np.ndarray) -> np.ndarray:
        """Compress ``x`` ``(N, 16)`` uint8 in place; returns the view ``x[:k]`` (``G·x``)."""
        if x.dtype != np.uint8 or x.ndim != 2 or x.shape[0] != self.n or x.shape[1] % 8 or not x.flags.c_contiguous:
            raise ParameterError(f"dual_encode needs a C-contiguous ({self.n}, 16·w) uint8 array, got {x.shape}")
        u = x.view(np.uint64)
        tail = u[self.k:]
        _accumulate(tail, np.uint64(self.seed ^ 0x0A))
        _accumulate(tail, np.uint64(self.seed ^ 0xA0A0_A0A0_A0A0_A0A0))
        _expand(u, self.k, np.uint64(self.seed ^ 0x3C3C))
        return x[:self.k]


__all__ = ["ExConvCode", "prefetch", "EXPANDER_WEIGHT", "ACCUMULATOR_WIDTH", "CODE_SEED"]
