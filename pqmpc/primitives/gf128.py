"""Batched multiplication in GF(2^128) = GF(2)[x] / (x^128 + x^7 + x^2 + x + 1).

A block is a little-endian 128-bit integer whose bit i is the coefficient of
x^i (not GCM's bit-reflected order). Used by consistency checks (KOS-style
and malicious Ferret) and universal hashing.
"""

from __future__ import annotations

import numpy as np

from . import aesni


def mul(a, b) -> np.ndarray:
    """Row-wise products of two ``(n, 16)`` block arrays.

    PCLMULQDQ kernel where the CPU/numba target has it, otherwise a
    constant-time carry-less multiply in plain numba (same bytes). Inside
    njit code use :func:`pqmpc.primitives.aesni.gf128_mul_block` on
    ``(uint64, uint64)`` blocks.
    """
    return aesni.gf128_mul(a, b)


def dot(a, b) -> np.ndarray:
    """``Σ_i a_i · b_i`` over the rows of two ``(n, 16)`` block arrays, as one ``(16,)`` block."""
    return aesni.gf128_dot(a, b)
