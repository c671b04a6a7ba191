"""Scratch memory a session keeps across calls, and the check of a caller's ``out=`` buffer.

On these VMs (and anywhere the allocator hands big blocks back to the OS) the first
touch of fresh memory costs more than the PRG work that fills it: about 8 µs per 4 KiB
page after the host reclaimed it. A session therefore keeps its working buffers (PRG
matrices, round buffers, packed choice bits) in a :class:`ScratchPool` and reuses them on
every call; results go into the caller's arrays when it passes ``out=`` (see
docs/ot-extension.md, "Caller-supplied outputs").
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError

__all__ = ["ScratchPool", "check_out", "out_or_empty"]


class ScratchPool:
    """Named, growing scratch buffers: ``get(name, shape, dtype)`` returns a C-contiguous view
    of a buffer kept for ``name`` (reallocated only when a larger one is asked for). A view is
    valid until the next ``get`` of the same name; distinct names never alias."""

    def __init__(self):
        self._bufs: dict[str, np.ndarray] = {}

    def get(self, name: str, shape, dtype=np.uint8) -> np.ndarray:
        dtype = np.dtype(dtype)
        shape = tuple(int(s) for s in (shape if isinstance(shape, tuple) else (shape,)))
        need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        buf = self._bufs.get(name)
        if buf is None or buf.size < need:
            # 64-byte aligned, so uint64 views and the kernels' vector loads line up
            raw = np.empty(need + 64, dtype=np.uint8)
            off = (-raw.ctypes.data) % 64
            buf = self._bufs[name] = raw[off:off + need]
        return buf[:need].view(dtype).reshape(shape)

    @property
    def nbytes(self) -> int:
        return sum(b.size for b in self._bufs.values())


def check_out(out, shape, name: str = "out", dtype=np.uint8) -> np.ndarray | None:
    """``None``, or a caller's output array checked before any message: exactly ``shape``,
    ``dtype``, C-contiguous and writable (otherwise :class:`ParameterError`, a ValueError)."""
    if out is None:
        return None
    shape = tuple(int(s) for s in shape)
    dtype = np.dtype(dtype)
    if not isinstance(out, np.ndarray):
        raise ParameterError(f"{name} must be a numpy array of shape {shape} and dtype {dtype}, "
                             f"not {type(out).__name__}")
    problems = []
    if out.shape != shape:
        problems.append(f"shape {out.shape} (need {shape})")
    if out.dtype != dtype:
        problems.append(f"dtype {out.dtype} (need {dtype})")
    if not out.flags.c_contiguous:
        problems.append("not C-contiguous")
    if not out.flags.writeable:
        problems.append("read-only")
    if problems:
        raise ParameterError(f"{name}: " + ", ".join(problems))
    return out


def out_or_empty(out, shape, name: str = "out", dtype=np.uint8) -> np.ndarray:
    """The checked ``out``, or a fresh array of ``shape`` when it is ``None``."""
    got = check_out(out, shape, name, dtype)
    return np.empty(shape, dtype=dtype) if got is None else got
