"""Batched multiplication in GF(2^128) = GF(2)[x] / (x^128 + x^7 + x^2 + x + 1).

A block is a little-endian 128-bit integer whose bit i is the coefficient of
x^i (not GCM's bit-reflected order). Used by consistency checks (KOS-style
and malicious Ferret) and universal hashing.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ParameterError
from .aes import as_blocks


@njit(cache=True)
def _clmul64(a, b):
    lo = np.uint64(0)
    hi = np.uint64(0)
    for i in range(64):
        if (b >> np.uint64(i)) & np.uint64(1):
            lo ^= a << np.uint64(i)
            if i:
                hi ^= a >> np.uint64(64 - i)
    return lo, hi


@njit(cache=True)
def _reduce(r0, r1, r2, r3):
    # Fold the top 128 bits down twice using x^128 = x^7 + x^2 + x + 1.
    for _ in range(2):
        h0, h1 = r2, r3
        r2 = np.uint64(0)
        r3 = np.uint64(0)
        for s in (0, 1, 2, 7):
            su = np.uint64(s)
            r0 ^= h0 << su
            r1 ^= h1 << su
            if s:
                r1 ^= h0 >> np.uint64(64 - s)
                r2 ^= h1 >> np.uint64(64 - s)
    return r0, r1


@njit(cache=True)
def _mul_kernel(a, b, out):
    for i in range(a.shape[0]):
        a0, a1, b0, b1 = a[i, 0], a[i, 1], b[i, 0], b[i, 1]
        l0, l1 = _clmul64(a0, b0)
        h0, h1 = _clmul64(a1, b1)
        m0, m1 = _clmul64(a0, b1)
        n0, n1 = _clmul64(a1, b0)
        r0 = l0
        r1 = l1 ^ m0 ^ n0
        r2 = h0 ^ m1 ^ n1
        r3 = h1
        out[i, 0], out[i, 1] = _reduce(r0, r1, r2, r3)


def mul(a, b) -> np.ndarray:
    """Row-wise products of two ``(n, 16)`` block arrays."""
    a = as_blocks(a, name="a")
    b = as_blocks(b, name="b")
    if a.shape != b.shape:
        raise ParameterError(f"operands differ in shape: {a.shape} vs {b.shape}")
    out = np.empty((a.shape[0], 2), dtype=np.uint64)
    _mul_kernel(a.view(np.uint64), b.view(np.uint64), out)
    return out.view(np.uint8)
