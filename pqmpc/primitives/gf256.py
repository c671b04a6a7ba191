"""Batched arithmetic in GF(2^256) = GF(2)[x] / (x^256 + x^10 + x^5 + x^2 + 1).

The field of the consistency checks of the 256-bit (post-quantum) mode of the
actively secure OT extensions (KOS, SoftSpokenOT with κ = 256), where rows and
Δ are 32-byte blocks. A block is a little-endian 256-bit integer whose bit i is
the coefficient of x^i (as :mod:`.gf128`), i.e. four uint64 words, lowest first.
The pentanomial is irreducible (the test checks it with Rabin's test).

Bulk: :func:`mul` (row-wise products) and :func:`dot` (``Σ a_i·b_i``, one reduction
per call); the checks' sums with their polynomial challenges are :mod:`.gf_poly`.
A product is three 128 × 128 Karatsuba products, each three 64 × 64 carry-less
multiplies (PCLMULQDQ where numba's target has it; otherwise the constant-time
integer-multiply carry-less product of :mod:`.gf128`, same bytes): nine per row.
The sums stay unreduced (reduction is GF(2)-linear) and are folded once.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ParameterError
from .blocks import as_blocks, out_blocks
from .cpu import HAVE_PCLMUL
from .gf128 import _clmul64_soft
from .llvm_ir import clmul_00

__all__ = ["WIDTH", "dot", "finish", "mul", "reduce512"]

WIDTH = 32
_Z = np.uint64(0)
_ZERO18 = (_Z,) * 18


@njit(inline="always")
def _cl_ni(x, y):
    return clmul_00((x, _Z), (y, _Z))


@njit(inline="always")
def _cl_soft(x, y):
    return _clmul64_soft(x, y)


_cl = _cl_ni if HAVE_PCLMUL else _cl_soft


@njit(inline="always")
def _kara(a0, a1, b0, b1):
    # 128 × 128 → (lo, hi, mm): the product is lo ⊕ (mm ⊕ lo ⊕ hi)·x^64 ⊕ hi·x^128.
    lo = _cl(a0, b0)
    hi = _cl(a1, b1)
    mm = _cl(a0 ^ a1, b0 ^ b1)
    return lo[0], lo[1], hi[0], hi[1], mm[0], mm[1]


@njit(inline="always")
def _row_terms(a, b):
    # 256 × 256 as three 128-bit Karatsuba products: X = A0·B0, Y = A1·B1, Z = (A0⊕A1)(B0⊕B1).
    x = _kara(a[0], a[1], b[0], b[1])
    y = _kara(a[2], a[3], b[2], b[3])
    z = _kara(a[0] ^ a[2], a[1] ^ a[3], b[0] ^ b[2], b[1] ^ b[3])
    return x, y, z


@njit(inline="always")
def _acc_add(acc, t):
    x, y, z = t
    return (acc[0] ^ x[0], acc[1] ^ x[1], acc[2] ^ x[2], acc[3] ^ x[3], acc[4] ^ x[4], acc[5] ^ x[5],
            acc[6] ^ y[0], acc[7] ^ y[1], acc[8] ^ y[2], acc[9] ^ y[3], acc[10] ^ y[4], acc[11] ^ y[5],
            acc[12] ^ z[0], acc[13] ^ z[1], acc[14] ^ z[2], acc[15] ^ z[3], acc[16] ^ z[4], acc[17] ^ z[5])


@njit(inline="always")
def _k256(lo0, lo1, hi0, hi1, mm0, mm1):
    m0 = mm0 ^ lo0 ^ hi0
    m1 = mm1 ^ lo1 ^ hi1
    return lo0, lo1 ^ m0, hi0 ^ m1, hi1


@njit
def reduce512(r0, r1, r2, r3, r4, r5, r6, r7):
    """A 512-bit carry-less product (words lowest first) reduced mod x^256 + x^10 + x^5 + x^2 + 1 (njit)."""
    # x^256 = x^10 + x^5 + x^2 + 1: the top 256 bits times that lands in bits 0..265;
    # the <= 10 bits past x^255 fold once more (into word 0: at most bit 19).
    # Written out (no list): a list here is a heap allocation per call.
    t0, t1, t2, t3 = r4, r5, r6, r7
    t4 = np.uint64(0)
    for s in (2, 5, 10):
        su, back = np.uint64(s), np.uint64(64 - s)
        t0 ^= r4 << su
        t1 ^= (r5 << su) | (r4 >> back)
        t2 ^= (r6 << su) | (r5 >> back)
        t3 ^= (r7 << su) | (r6 >> back)
        t4 ^= r7 >> back
    f = t4 ^ (t4 << np.uint64(2)) ^ (t4 << np.uint64(5)) ^ (t4 << np.uint64(10))
    return r0 ^ t0 ^ f, r1 ^ t1, r2 ^ t2, r3 ^ t3


@njit(inline="always")
def finish(acc):
    """The 18 unreduced Karatsuba accumulators of a sum of products → the reduced 4-word sum."""
    x = _k256(acc[0], acc[1], acc[2], acc[3], acc[4], acc[5])
    y = _k256(acc[6], acc[7], acc[8], acc[9], acc[10], acc[11])
    z = _k256(acc[12], acc[13], acc[14], acc[15], acc[16], acc[17])
    m = (z[0] ^ x[0] ^ y[0], z[1] ^ x[1] ^ y[1], z[2] ^ x[2] ^ y[2], z[3] ^ x[3] ^ y[3])
    # X + M·x^128 + Y·x^256
    return reduce512(x[0], x[1], x[2] ^ m[0], x[3] ^ m[1], y[0] ^ m[2], y[1] ^ m[3], y[2], y[3])


@njit(cache=True, nogil=True)
def _dot_kernel(a, b):
    acc = _ZERO18
    for i in range(a.shape[0]):
        acc = _acc_add(acc, _row_terms(a[i], b[i]))
    return finish(acc)


@njit(cache=True, nogil=True)
def _mul_kernel(a, b, out):
    for i in range(a.shape[0]):
        r = finish(_acc_add(_ZERO18, _row_terms(a[i], b[i])))
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = r


def _pair(a, b):
    a = as_blocks(a, WIDTH, name="a")
    b = as_blocks(b, WIDTH, name="b")
    if a.shape != b.shape:
        raise ParameterError(f"operands differ in shape: {a.shape} vs {b.shape}")
    return a.view(np.uint64), b.view(np.uint64)


def mul(a, b, out=None) -> np.ndarray:
    """Row-wise products of two ``(n, 32)`` block arrays."""
    av, bv = _pair(a, b)
    out = out_blocks(out, av.shape[0], WIDTH)
    _mul_kernel(av, bv, out.view(np.uint64))
    return out


def dot(a, b) -> np.ndarray:
    """``Σ_i a_i·b_i`` over the rows of two ``(n, 32)`` block arrays, as one ``(32,)`` block."""
    av, bv = _pair(a, b)
    r = _dot_kernel(av, bv)
    return np.array(r, dtype=np.uint64).view(np.uint8)
