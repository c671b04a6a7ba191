"""Bit vectors and bit matrices (packed little-endian, see docs/conventions.md)."""

from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ParameterError


def pack_bits(bits) -> np.ndarray:
    """0/1 values → bytes, bit i at ``(out[i // 8] >> (i % 8)) & 1``."""
    return np.packbits(np.asarray(bits, dtype=np.uint8), bitorder="little")


def unpack_bits(packed, n: int | None = None) -> np.ndarray:
    return np.unpackbits(np.asarray(packed, dtype=np.uint8), count=n, bitorder="little")


@njit(cache=True)
def _transpose8x8(x):
    # Delta swaps on an 8x8 bit block whose bit (8*row + col) holds (row, col).
    t = (x ^ (x >> np.uint64(7))) & np.uint64(0x00AA00AA00AA00AA)
    x = x ^ t ^ (t << np.uint64(7))
    t = (x ^ (x >> np.uint64(14))) & np.uint64(0x0000CCCC0000CCCC)
    x = x ^ t ^ (t << np.uint64(14))
    t = (x ^ (x >> np.uint64(28))) & np.uint64(0x00000000F0F0F0F0)
    x = x ^ t ^ (t << np.uint64(28))
    return x


@njit(cache=True)
def _transpose_kernel(mat, out):
    rows, cb = mat.shape
    for r8 in range(rows // 8):
        for j in range(cb):
            x = np.uint64(0)
            for i in range(8):
                x |= np.uint64(mat[8 * r8 + i, j]) << np.uint64(8 * i)
            x = _transpose8x8(x)
            for k in range(8):
                out[8 * j + k, r8] = np.uint8((x >> np.uint64(8 * k)) & np.uint64(0xFF))


def transpose(mat) -> np.ndarray:
    """Transpose a packed bit matrix: ``(rows, cols/8)`` → ``(cols, rows/8)``.

    Bit ``(c, r)`` of the result is bit ``(r, c)`` of the input; ``rows`` must
    be a multiple of 8.
    """
    mat = np.ascontiguousarray(mat, dtype=np.uint8)
    if mat.ndim != 2 or mat.shape[0] % 8:
        raise ParameterError(f"transpose needs a (rows, cols/8) uint8 matrix with rows % 8 == 0, got {mat.shape}")
    out = np.empty((mat.shape[1] * 8, mat.shape[0] // 8), dtype=np.uint8)
    _transpose_kernel(mat, out)
    return out
