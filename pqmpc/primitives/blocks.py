"""The one check for block arrays and AES keys that every primitive applies at its boundary.

Blocks are C-contiguous ``(n, 16)`` uint8 arrays (``(n, 32)`` in the 256-bit
mode, docs/conventions.md) so that one OpenSSL call or one njit loop takes
all ``n`` rows; kernels see them as ``(n, 2)`` / ``(n, 4)`` uint64 views.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError

__all__ = ["as_blocks", "check_key", "out_blocks"]


def as_blocks(x, width: int = 16, name: str = "blocks") -> np.ndarray:
    """Check and return ``x`` as a C-contiguous ``(n, width)`` uint8 array (copies only if not contiguous)."""
    x = np.asarray(x)
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != width:
        raise ParameterError(f"{name} must be a (n, {width}) uint8 array, got {x.dtype} {x.shape}")
    return np.ascontiguousarray(x)


def out_blocks(out, n: int, width: int = 16, name: str = "out") -> np.ndarray:
    """A fresh ``(n, width)`` uint8 array, or the caller's ``out`` after checking it can be written as such."""
    if out is None:
        return np.empty((n, width), dtype=np.uint8)
    if not (isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == (n, width)
            and out.flags.c_contiguous and out.flags.writeable):
        raise ParameterError(f"{name} must be a writable C-contiguous ({n}, {width}) uint8 array")
    return out


def check_key(key) -> bytes:
    """``key`` as bytes, 16 (AES-128) or 32 (AES-256) long."""
    key = bytes(key)
    if len(key) not in (16, 32):
        raise ParameterError(f"AES key must be 16 or 32 bytes, got {len(key)}")
    return key
