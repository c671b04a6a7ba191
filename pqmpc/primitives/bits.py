"""Bit vectors and bit matrices (packed little-endian, see docs/conventions.md)."""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from .transpose_kernels import transpose_into

__all__ = ["pack_bits", "transpose", "transpose_into", "unpack_bits"]


def pack_bits(bits) -> np.ndarray:
    """0/1 values → bytes, bit i at ``(out[i // 8] >> (i % 8)) & 1``."""
    return np.packbits(np.asarray(bits, dtype=np.uint8), bitorder="little")


def unpack_bits(packed, n: int | None = None) -> np.ndarray:
    return np.unpackbits(np.asarray(packed, dtype=np.uint8), count=n, bitorder="little")


def transpose(mat) -> np.ndarray:
    """Transpose a packed bit matrix: ``(rows, cols/8)`` → ``(cols, rows/8)``.

    Bit ``(c, r)`` of the result is bit ``(r, c)`` of the input; ``rows`` must
    be a multiple of 8. 16 x 128-bit tiles through byte shuffles and sign
    masks (:mod:`.transpose_kernels`); njit code can call ``transpose_into``.
    """
    mat = np.ascontiguousarray(mat, dtype=np.uint8)
    if mat.ndim != 2 or mat.shape[0] % 8:
        raise ParameterError(f"transpose needs a (rows, cols/8) uint8 matrix with rows % 8 == 0, got {mat.shape}")
    out = np.empty((mat.shape[1] * 8, mat.shape[0] // 8), dtype=np.uint8)
    transpose_into(mat, out)
    return out
