"""The local linear code of Ferret's primal LPN: ``y = A·x`` with ``d = 10`` ones per row.

Row ``i`` of the public ``n × k`` matrix ``A`` has ones at ten positions in
``[0, k)`` drawn from a fixed-key AES counter-mode stream under a public
16-byte seed both parties agree on at setup: outputs ``2p`` and ``2p + 1``
take the twenty 32-bit words of ``AES_seed(5p), …, AES_seed(5p + 4)`` (counter
as a little-endian 128-bit block), the first ten for ``2p``, masked to
``k − 1`` (``k`` is a power of two, so the positions are uniform). Rows are
addressed by their global index, so any slice of a round can be encoded on
its own, in any order, by either party.

Ferret needs the encoding on both sides of a correlated OT: the sender
computes ``z = A·x_s ⊕ v``, the receiver ``z' = A·x_r ⊕ w`` and its choice bits
``A·u ⊕ e``; the kernels here add ``A·x`` into a buffer that already holds
the SPCOT output, so ``v``/``w`` never needs a second copy. Security: the
output is pseudo-random under the (regular-noise) LPN assumption for a local
code, which is believed to resist quantum computers too; Python cannot
promise constant time (the gathers are data-independent, the data is not).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ...errors import ParameterError
from ...primitives.aes import aes_ecb
from ...primitives.aes_kernels import aes128_encrypt, aes128_load_keys, round_keys
from .ferret_params import LPN_D

_aes = aes128_encrypt
_load = aes128_load_keys
_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_Z = np.uint64(0)


#: Pairs of rows whose positions are computed (and prefetched) ahead of their gathers.
AHEAD = 8


@intrinsic
def _prefetch_row(typingctx, arr, row):
    """``llvm.prefetch`` of ``arr[row]``: a hint only, valid on every target (no-op where unsupported)."""
    if not isinstance(arr, types.Array) or not isinstance(row, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        aty = sig.args[0]
        ary = context.make_array(aty)(context, builder, args[0])
        idx = [context.cast(builder, args[1], sig.args[1], types.intp)]
        idx += [ir.Constant(ir.IntType(64), 0)] * (aty.ndim - 1)
        ptr = cgutils.get_item_pointer(context, builder, aty, ary, idx)
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                            "llvm.prefetch.p0")
        # read, keep in all cache levels, data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(arr, row), codegen


@njit(inline="always")
def _store4(ring, slot, o, b, mask, x):
    w0 = b[0] & mask
    w1 = (b[0] >> _S32) & mask
    w2 = b[1] & mask
    w3 = (b[1] >> _S32) & mask
    ring[slot, o] = w0
    ring[slot, o + 1] = w1
    ring[slot, o + 2] = w2
    ring[slot, o + 3] = w3
    _prefetch_row(x, w0)
    _prefetch_row(x, w1)
    _prefetch_row(x, w2)
    _prefetch_row(x, w3)


@njit(inline="always")
def _fill(ring, slot, ks, p, mask, x):
    # Positions of rows 2p, 2p+1: five AES counter blocks, twenty 32-bit words.
    c = np.uint64(5) * np.uint64(p)
    _store4(ring, slot, 0, _aes(ks, (c, _Z)), mask, x)
    _store4(ring, slot, 4, _aes(ks, (c + np.uint64(1), _Z)), mask, x)
    _store4(ring, slot, 8, _aes(ks, (c + np.uint64(2), _Z)), mask, x)
    _store4(ring, slot, 12, _aes(ks, (c + np.uint64(3), _Z)), mask, x)
    _store4(ring, slot, 16, _aes(ks, (c + np.uint64(4), _Z)), mask, x)


@njit(inline="always")
def _row(x, r, s, o, out, i):
    a0 = out[i, 0] ^ x[r[s, o], 0] ^ x[r[s, o + 1], 0] ^ x[r[s, o + 2], 0] ^ x[r[s, o + 3], 0] ^ x[r[s, o + 4], 0]
    a1 = out[i, 1] ^ x[r[s, o], 1] ^ x[r[s, o + 1], 1] ^ x[r[s, o + 2], 1] ^ x[r[s, o + 3], 1] ^ x[r[s, o + 4], 1]
    a0 ^= x[r[s, o + 5], 0] ^ x[r[s, o + 6], 0] ^ x[r[s, o + 7], 0] ^ x[r[s, o + 8], 0] ^ x[r[s, o + 9], 0]
    a1 ^= x[r[s, o + 5], 1] ^ x[r[s, o + 6], 1] ^ x[r[s, o + 7], 1] ^ x[r[s, o + 8], 1] ^ x[r[s, o + 9], 1]
    out[i, 0] = a0
    out[i, 1] = a1


@njit(inline="always")
def _bit(u, r, s, o):
    return (u[r[s, o]] ^ u[r[s, o + 1]] ^ u[r[s, o + 2]] ^ u[r[s, o + 3]] ^ u[r[s, o + 4]]
            ^ u[r[s, o + 5]] ^ u[r[s, o + 6]] ^ u[r[s, o + 7]] ^ u[r[s, o + 8]] ^ u[r[s, o + 9]])


@njit(cache=True, nogil=True)
def _encode_sender(rk, first_pair, mask, x, out):
    # Software pipeline: positions for pair p + AHEAD are computed and prefetched while pair p is gathered,
    # so the random reads into x (megabytes, beyond L2) overlap instead of stalling one by one.
    ks = _load(rk)
    m = np.uint64(mask)
    npairs = out.shape[0] // 2
    ring = np.empty((AHEAD, 2 * LPN_D), dtype=np.uint64)
    for p in range(min(AHEAD, npairs)):
        _fill(ring, p, ks, first_pair + p, m, x)
    for p in range(npairs):
        s = p % AHEAD
        _row(x, ring, s, 0, out, 2 * p)
        _row(x, ring, s, LPN_D, out, 2 * p + 1)
        if p + AHEAD < npairs:
            _fill(ring, s, ks, first_pair + p + AHEAD, m, x)


@njit(cache=True, nogil=True)
def _encode_receiver(rk, first_pair, mask, x, u, out, bits):
    ks = _load(rk)
    m = np.uint64(mask)
    npairs = out.shape[0] // 2
    ring = np.empty((AHEAD, 2 * LPN_D), dtype=np.uint64)
    for p in range(min(AHEAD, npairs)):
        _fill(ring, p, ks, first_pair + p, m, x)
    for p in range(npairs):
        s = p % AHEAD
        _row(x, ring, s, 0, out, 2 * p)
        _row(x, ring, s, LPN_D, out, 2 * p + 1)
        bits[2 * p] ^= _bit(u, ring, s, 0)
        bits[2 * p + 1] ^= _bit(u, ring, s, LPN_D)
        if p + AHEAD < npairs:
            _fill(ring, s, ks, first_pair + p + AHEAD, m, x)


class LocalCode:
    """The public ``n × k`` matrix ``A`` (``d = 10`` ones per row) given by a 16-byte seed."""

    def __init__(self, seed: bytes, k: int):
        seed = bytes(seed)
        if len(seed) != 16:
            raise ParameterError(f"LPN seed must be 16 bytes, got {len(seed)}")
        if k <= 0 or k & (k - 1) or k > 1 << 30:
            raise ParameterError(f"k must be a power of two up to 2^30, got {k}")
        self.seed = seed
        self.k = k
        self._rk = round_keys(seed)

    def _check(self, start: int, out, x, name):
        if start < 0 or start % 2:
            raise ParameterError(f"{name}: the first row must be even and >= 0, got {start}")
        if out.shape[0] % 2:
            raise ParameterError(f"{name}: the number of rows must be even, got {out.shape[0]}")
        if x.shape != (self.k, 16) or x.dtype != np.uint8 or not x.flags.c_contiguous:
            raise ParameterError(f"{name}: x must be a C-contiguous ({self.k}, 16) uint8 array")
        if out.ndim != 2 or out.shape[1] != 16 or out.dtype != np.uint8 or not out.flags.c_contiguous:
            raise ParameterError(f"{name}: out must be a C-contiguous (m, 16) uint8 array")

    def add_encoded(self, start: int, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out[i] ^= (A·x)[start + i]`` for every row of ``out`` (blocks), in place."""
        self._check(start, out, x, "LocalCode.add_encoded")
        _encode_sender(self._rk, start // 2, self.k - 1, x.view(np.uint64), out.view(np.uint64))
        return out

    def add_encoded_with_bits(self, start: int, x: np.ndarray, u: np.ndarray, out: np.ndarray,
                              bits: np.ndarray) -> None:
        """As :meth:`add_encoded`, and ``bits[i] ^= (A·u)[start + i]`` with the same rows."""
        self._check(start, out, x, "LocalCode.add_encoded_with_bits")
        if u.shape != (self.k,) or u.dtype != np.uint8 or bits.shape != (out.shape[0],) or bits.dtype != np.uint8:
            raise ParameterError("u must be (k,) uint8 and bits (m,) uint8")
        _encode_receiver(self._rk, start // 2, self.k - 1, x.view(np.uint64), u, out.view(np.uint64), bits)

    def row_positions(self, start: int, m: int) -> np.ndarray:
        """The ``d`` positions of rows ``start … start + m − 1`` as ``(m, d)`` int64 (reference path).

        Computed with one bulk OpenSSL call, independently of the kernels, so
        tests can check those against a plain matrix product.
        """
        if start < 0 or start % 2 or m % 2:
            raise ParameterError("row_positions needs an even start and an even count")
        pairs = m // 2
        ctr = np.zeros((5 * pairs, 2), dtype=np.uint64)
        ctr[:, 0] = np.arange(5 * (start // 2), 5 * (start // 2 + pairs), dtype=np.uint64)
        words = aes_ecb(self.seed, ctr.view(np.uint8)).view(np.uint32).reshape(pairs, 2 * LPN_D)
        return (words & np.uint32(self.k - 1)).astype(np.int64).reshape(m, LPN_D)


def kernel_specs() -> list:
    """The code's kernels (both roles), for :func:`pqmpc.primitives.preload.preload`."""
    from ...primitives.preload import I64, arr

    u64 = arr("uint64", 2)
    return [(_encode_sender, (u64, I64, I64, u64, u64)),
            (_encode_receiver, (u64, I64, I64, u64, arr("uint8", 1), u64, arr("uint8", 1)))]


__all__ = ["LocalCode", "kernel_specs"]
