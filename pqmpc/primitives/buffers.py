"""Scratch memory a session keeps across calls, and the check of a caller's ``out=`` buffer.

On these VMs (and anywhere the allocator hands big blocks back to the OS) the first
touch of fresh memory costs more than the PRG work that fills it: about 8 µs per 4 KiB
page after the host reclaimed it. A session therefore keeps its working buffers (PRG
matrices, round buffers, packed choice bits) in a :class:`ScratchPool` and reuses them on
every call; results go into the caller's arrays when it passes ``out=`` (see
docs/ot-extension.md, "Caller-supplied outputs").
"""

from __future__ import annotations

import mmap
import platform
import sys

import numpy as np

from ..errors import ParameterError

__all__ = ["ScratchPool", "check_out", "out_or_empty", "small_pages", "empty_small_pages"]

#: numpy asks for transparent huge pages on arrays from 4 MiB up; below that nothing to undo
_THP_FROM = 4 << 20
_PAGE = mmap.PAGESIZE
# 23 in the generic Linux ABI (x86-64, arm64, riscv); elsewhere only if Python names it
_MADV_POPULATE_WRITE = getattr(mmap, "MADV_POPULATE_WRITE",
                               23 if platform.machine() in ("x86_64", "AMD64", "aarch64", "arm64", "riscv64") else None)
_POPULATE = _MADV_POPULATE_WRITE is not None


def _libc_fns():
    """libc ``madvise`` and ``mincore`` (Linux with ``MADV_NOHUGEPAGE``), else ``(None, None)``."""
    if not sys.platform.startswith("linux") or not hasattr(mmap, "MADV_NOHUGEPAGE"):
        return None, None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        madvise, mincore = libc.madvise, libc.mincore
    except (OSError, AttributeError):  # pragma: no cover - unusual libc
        return None, None
    madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    madvise.restype = ctypes.c_int
    mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
    mincore.restype = ctypes.c_int
    return madvise, mincore


_madvise, _mincore = _libc_fns()


def _mapped(start: int, end: int) -> bool:
    """Whether the first, middle and last pages of ``[start, end)`` are already mapped (memory
    the allocator handed back for reuse): populating it again would walk every page for nothing
    (~60 ms per 256 MiB)."""
    import ctypes

    vec = ctypes.create_string_buffer(1)  # the kernel writes one status byte per page here
    for at in (start, start + (end - start) // 2 // _PAGE * _PAGE, end - _PAGE):
        if _mincore(at, _PAGE, ctypes.addressof(vec)) != 0 or not vec.raw[0] & 1:
            return False
    return True


def small_pages(a: np.ndarray, populate: bool = False) -> np.ndarray:
    """Ask the kernel to back ``a`` (not yet touched) with 4 KiB pages, not transparent huge
    pages; returns ``a``. Best effort: a no-op off Linux or below 4 MiB.

    Why: a huge page is a 2 MiB run of free physical memory, which has usually sat free
    long enough for a VM's host to reclaim it, so its first touch pays the host for 512
    pages at once; 4 KiB pages come from the recently freed, still-backed ones. Measured
    here, the first touch of 256 MiB took 0.5-2 s in huge pages and 0.13 s in small ones,
    and an OT extension's own work on it ~0.15 s. C libraries (emp's ``new[]``) get small
    pages by default; numpy asks for huge ones."""
    if _madvise is None or a.nbytes < _THP_FROM:
        return a
    start = -(-a.ctypes.data // _PAGE) * _PAGE
    end = (a.ctypes.data + a.nbytes) // _PAGE * _PAGE
    if end > start:
        _madvise(start, end - start, mmap.MADV_NOHUGEPAGE)
        if populate and _POPULATE and not _mapped(start, end):
            # Map every page in one system call (Linux >= 5.14; older kernels refuse it and the
            # pages fault in one by one as before): one trap per 4 KiB page costs more here.
            _madvise(start, end - start, _MADV_POPULATE_WRITE)
    return a


def empty_small_pages(shape, dtype=np.uint8) -> np.ndarray:
    """``np.empty(shape, dtype)`` in 4 KiB pages (see :func:`small_pages`): result arrays a call
    allocates and fills once."""
    return small_pages(np.empty(shape, dtype=dtype), populate=True)


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
            raw = empty_small_pages(need + 64)
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
    return empty_small_pages(shape, dtype) if got is None else got
