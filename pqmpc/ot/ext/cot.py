"""Correlated-OT plumbing shared by the OT extensions (IKNP, Ferret).

A correlated OT (COT) with global offset Δ gives the sender ``q`` and the
receiver ``t = q ⊕ b·Δ``. Everything else the API offers comes from it:

* random OT: ``m0 = H(q, i)``, ``m1 = H(q ⊕ Δ, i)``, ``m_b = H(t, i)`` — the
  tweakable correlation-robust hash breaks the correlation; the tweak ``i``
  is a per-session counter that never repeats;
* COT under a caller-chosen Δ' from a session with offset Δ: the sender
  sends ``d = H(q, i) ⊕ H(q ⊕ Δ, i) ⊕ Δ'`` (one block per OT) and both sides
  move to ``q' = H(q, i)``, ``t' = H(t, i) ⊕ b·d``.

Hashes: ``tccr`` for 16-byte rows (fixed-key AES-128, TCCR of
Guo–Katz–Wang–Yu) and ``tccr_wide`` for 32-byte rows (AES-256 keyed by the
row, the 256-bit mode), both from :mod:`pqmpc.primitives.hashing`, under the
calling protocol's tag in the high tweak word (``TAG_IKNP``, ``TAG_FERRET``,
... : every TCCR user shares one fixed key, so the tag keeps their tweak
spaces apart). Security of the derived random OT rests
on that hash being tweakable correlation robust (an ideal-permutation /
ideal-cipher assumption); with 16-byte rows a quantum adversary gains a
Grover square root, which is why κ = 256 uses the wide hash.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit

from ...errors import ParameterError
from ...primitives.hashing import TAG_RANDOM_OT, tccr, tccr_wide
from ...primitives.transpose_kernels import transpose_into
from ..interfaces import check_delta  # noqa: F401  (old home of the Δ checker)

#: Rows per chunk of OT extension: PRG → transpose → hash of one chunk stays in cache.
CHUNK = 1 << 16


def block_width(kappa: int) -> int:
    return kappa // 8


_local = threading.local()


def tweak_range(start: int, n: int) -> np.ndarray:
    """``start, start+1, ..., start+n-1`` as uint64 in a per-thread buffer
    (valid until the thread's next call): a fresh array per chunk costs page
    faults on this hot path."""
    base = getattr(_local, "base", None)
    if base is None or base.shape[0] < n:
        _local.base = base = np.arange(max(n, CHUNK), dtype=np.uint64)
        _local.buf = np.empty_like(base)
    out = _local.buf[:n]
    np.add(base[:n], np.uint64(start), out=out)
    return out


def hash_rows(x: np.ndarray, tweak_start: int, out: np.ndarray | None = None, tag: int = TAG_RANDOM_OT) -> np.ndarray:
    """``H(x_i, (tweak_start + i, tag))`` for every row: ``tccr`` for 16-byte rows,
    ``tccr_wide`` for 32-byte rows (:mod:`pqmpc.primitives.hashing`); ``tag`` is
    the calling protocol's ``TAG_*``."""
    n, w = x.shape
    tweaks = tweak_range(tweak_start, n)
    if w == 16:
        return tccr(x, tweaks, out=out, tag=tag)
    if w == 32:
        return tccr_wide(x, tweaks, out=out, tag=tag)
    raise ParameterError(f"hash_rows takes 16- or 32-byte rows, got {w}")


@njit(cache=True, nogil=True)
def transpose_nogil(mat, out):
    """:func:`transpose_into` with the GIL released, so both parties of an
    in-process run (two threads) transpose at the same time."""
    transpose_into(mat, out)


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


def random_ot_from_cot(q: np.ndarray, delta: np.ndarray, tweak_start: int,
                       m0: np.ndarray, m1: np.ndarray, tag: int = TAG_RANDOM_OT) -> None:
    """Sender: ``m0 = H(q, i)``, ``m1 = H(q ⊕ Δ, i)`` written into the given rows."""
    hash_rows(q, tweak_start, out=m0, tag=tag)
    qd = np.empty_like(q)
    xor_with_delta_into(q, delta, qd)
    hash_rows(qd, tweak_start, out=m1, tag=tag)
