"""Deriving the lower OT levels from correlated OT: the hashing and selection kernels.

:class:`~pqmpc.ot.interfaces.CorrelatedOT` turns ``(Δ, q)`` / ``t = q ⊕ b·Δ`` into
random OT with these (``m0 = H(q, i)``, ``m1 = H(q ⊕ Δ, i)``, ``m_b = H(t, i)``),
and the extensions (:mod:`pqmpc.ot.ext`) fuse the same functions into their chunked
loops; they sit below both so that the interface ladder needs nothing from an
extension. ``H`` is the tweakable correlation-robust hash of
:mod:`pqmpc.primitives.hashing` (``tccr`` for 16-byte rows, ``tccr_wide`` for 32),
under the calling protocol's tag; ``i`` is a per-session counter that never repeats.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit

from ..errors import ParameterError
from ..primitives.hashing import TAG_RANDOM_OT, tccr, tccr_wide
from ..primitives.tccr_wide_zmm import HAVE_WIDE_ZMM, wide_pair_rows
from ..primitives.tccr_zmm import HAVE_TCCR_ZMM, random_ot_rows, tccr_rows

#: Rows of the per-thread tweak buffer kept between calls (one extension chunk).
TWEAK_BUFFER_ROWS = 1 << 16

_local = threading.local()


def tweak_range(start: int, n: int) -> np.ndarray:
    """``start, start+1, ..., start+n-1`` as uint64 in a per-thread buffer
    (valid until the thread's next call): a fresh array per chunk costs page
    faults on this hot path."""
    base = getattr(_local, "base", None)
    if base is None or base.shape[0] < n:
        _local.base = base = np.arange(max(n, TWEAK_BUFFER_ROWS), dtype=np.uint64)
        _local.buf = np.empty_like(base)
    out = _local.buf[:n]
    np.add(base[:n], np.uint64(start), out=out)
    return out


def hash_rows(x: np.ndarray, tweak_start: int, out: np.ndarray | None = None, tag: int = TAG_RANDOM_OT) -> np.ndarray:
    """``H(x_i, (tweak_start + i, tag))`` for every row: ``tccr`` for 16-byte rows,
    ``tccr_wide`` for 32-byte rows (:mod:`pqmpc.primitives.hashing`); ``tag`` is
    the calling protocol's ``TAG_*``."""
    n, w = x.shape
    if w == 16 and HAVE_TCCR_ZMM and _zmm_ok(x, out, tag):
        # whole 16-row steps on zmm (tweaks formed in registers), the tail by the bulk kernel
        done = tccr_rows(x, tweak_start, tag, out)
        tccr(x[done:], tweak_range((tweak_start + done) % (1 << 64), n - done), out=out[done:], tag=tag)
        return out
    tweaks = tweak_range(tweak_start, n)
    if w == 16:
        return tccr(x, tweaks, out=out, tag=tag)
    if w == 32:
        return tccr_wide(x, tweaks, out=out, tag=tag)
    raise ParameterError(f"hash_rows takes 16- or 32-byte rows, got {w}")


@njit(cache=True, nogil=True)
def xor_with_delta_into(q, delta, out):
    """``out[i] = q[i] ⊕ Δ`` for every row, GIL released."""
    n, w = q.shape
    for i in range(n):
        for j in range(w):
            out[i, j] = q[i, j] ^ delta[j]


@njit(cache=True, nogil=True)
def select_xor_into(h, bits, d, out):
    """``out[i] = h[i] ⊕ (bits[i] ? d[i] : 0)``, GIL released."""
    n, w = h.shape
    for i in range(n):
        if bits[i]:
            for j in range(w):
                out[i, j] = h[i, j] ^ d[i, j]
        else:
            for j in range(w):
                out[i, j] = h[i, j]


@njit(cache=True, nogil=True)
def xor_delta_where(q, bits, delta):
    """``q[i] ^= Δ`` where ``bits[i]`` is set, in place, GIL released."""
    n, w = q.shape
    for i in range(n):
        if bits[i]:
            for j in range(w):
                q[i, j] ^= delta[j]


def _zmm_ok(x: np.ndarray, out, tag: int) -> bool:
    """The zmm kernels take C-contiguous uint8 rows, an output of the same shape, and a valid tag
    (anything else goes to :func:`~pqmpc.primitives.hashing.tccr`, which checks and says why)."""
    return (out is not None and x.dtype == np.uint8 and out.dtype == np.uint8 and x.flags.c_contiguous
            and out.flags.c_contiguous and out.flags.writeable and out.shape == x.shape
            and isinstance(tag, (int, np.integer)) and 0 <= int(tag) < 1 << 63)


def random_ot_from_cot(q: np.ndarray, delta: np.ndarray, tweak_start: int,
                       m0: np.ndarray, m1: np.ndarray, tag: int = TAG_RANDOM_OT) -> None:
    """Sender: ``m0 = H(q, i)``, ``m1 = H(q ⊕ Δ, i)`` written into the given rows.

    ``m0`` may be ``q`` itself (hashed in place, last); ``m1`` must not overlap ``q``.
    No scratch: ``q ⊕ Δ`` is formed in ``m1`` and hashed there (or, on zmm, in registers: both
    hashes in one pass over ``q``)."""
    n = q.shape[0]
    if (q.shape[1] == 16 and HAVE_TCCR_ZMM and _zmm_ok(q, m0, tag) and _zmm_ok(q, m1, tag)
            and delta.shape == (16,)):
        done = random_ot_rows(q, delta, tweak_start, tag, m0, m1)
        if done == n:
            return
        q, m0, m1, tweak_start = q[done:], m0[done:], m1[done:], (tweak_start + done) % (1 << 64)
    elif (q.shape[1] == 32 and HAVE_WIDE_ZMM and _zmm_ok(q, m0, tag) and _zmm_ok(q, m1, tag)
            and delta.shape == (32,)):
        # κ = 256: both wide hashes in one pass, q ⊕ Δ formed in registers
        tweaks = tweak_range(tweak_start, n)
        done = wide_pair_rows(q, delta, tweaks, tag, m0, m1)
        if done == n:
            return
        q, m0, m1, tweak_start = q[done:], m0[done:], m1[done:], (tweak_start + done) % (1 << 64)
    xor_with_delta_into(q, delta, m1)
    hash_rows(m1, tweak_start, out=m1, tag=tag)
    hash_rows(q, tweak_start, out=m0, tag=tag)


__all__ = ["tweak_range", "hash_rows", "xor_with_delta_into", "xor_delta_where", "select_xor_into",
           "random_ot_from_cot"]
