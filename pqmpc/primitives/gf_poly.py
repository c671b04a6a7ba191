"""Polynomial challenges: ``Σ_j s^(j+1)·rows_j`` in GF(2^128) or GF(2^256), one multiply-accumulate per row.

The consistency checks of the actively secure OT extensions weigh row ``j`` with ``χ_j = s^(j+1)``
for one coin-tossed field element ``s`` (the polynomial universal hash; see
:mod:`pqmpc.ot.ext.check` for why it suffices). Rows are taken in blocks of ``B`` = :data:`BLOCK`
against a table ``P_i = s^(i+1)`` (i < B, in L1): per block the unreduced ``Σ_i P_i ⊗ row_i`` is
folded once and multiplied by the running power ``R = s^pos`` (``pos`` = rows already consumed),
which then advances by ``s^w = P_{w−1}`` (``w`` the block's rows). Any split of the rows into calls
gives the same sums, since ``R`` carries the position.

State: ``P`` (:func:`power_table`) and ``R`` (:func:`unit`, updated in place); :func:`accumulate`
adds ``Σ χ_j·rows_j`` (and, with ``sel``, ``⊕_{sel_j=1} χ_j``) into ``out``. Kernels: zmm, ymm or
xmm carry-less multiplies where numba's target has them (:mod:`.gf_poly_vec`, which prefetch the
rows ahead: a receiver's pass reads them from memory), else the constant-time integer-multiply
product of :mod:`.gf128`; the same bytes on every path.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ParameterError
from . import gf128, gf256
from .cpu import HAVE_PCLMUL, HAVE_VPCLMUL, HAVE_ZMM
from .gf128 import _clmul_sum_ni, _fold, gf128_mul_soft
from .gf256 import _ZERO18, _acc_add, _row_terms, finish
from .gf_poly_vec import STEP_ROWS, tab_dot128, tab_dot256

__all__ = ["BLOCK", "LANES", "accumulate", "power_table", "powers_at", "unit", "acc128", "acc256"]

#: Rows per block (the table's length): 4 KiB (κ = 128) or 8 KiB (κ = 256) of powers, in L1.
BLOCK = 256
#: 128-bit lanes per vector register of the kernels here: 4 (zmm), 2 (ymm), 1 (xmm), 0 (no PCLMULQDQ).
LANES = 4 if HAVE_ZMM else 2 if HAVE_VPCLMUL else 1 if HAVE_PCLMUL else 0
_Z = np.uint64(0)


@njit(inline="always")
def _mul128(a, b):
    return gf128.gf128_mul_block(a, b)


@njit(inline="always")
def _mul256(a, b):
    return finish(_acc_add(_ZERO18, _row_terms(a, b)))


def _vec128(lanes: int):
    """The block's vector part: ``(done, f, p0, p1)`` with ``f`` the reduced sum of rows ``< done``."""
    if lanes == 0:
        @njit(inline="always")
        def part(p, blk, sel, pick, w):
            return 0, (_Z, _Z), _Z, _Z
        return part

    @njit(inline="always")
    def part(p, blk, sel, pick, w):
        steps = w // STEP_ROWS
        done = steps * STEP_ROWS
        if pick:
            v = tab_dot128(p, blk, sel, steps, True, lanes)
        else:
            v = tab_dot128(p, blk, sel, steps, False, lanes)
        t = _clmul_sum_ni(p, blk, done, w, 1)
        return w, _fold(v[0] ^ t[0], v[1] ^ t[1], v[2] ^ t[2], v[3] ^ t[3]), v[4], v[5]

    return part


def _driver128(lanes: int):
    vec = _vec128(lanes)

    @njit(cache=True, nogil=True)
    def run(p, r, rows, sel, out):
        """``out[0:2] ^= Σ R·P_i·rows_i``, ``out[2:4] ^= ⊕ sel_i·R·P_i`` block by block; ``r`` advanced."""
        n = rows.shape[0]
        pick = sel.shape[0] > 0
        a = 0
        while a < n:
            w = min(p.shape[0], n - a)
            blk = rows[a:a + w]
            sb = sel[a:a + w] if pick else sel
            done, f, p0, p1 = vec(p, blk, sb, pick, w)
            for i in range(done, w):
                x = gf128_mul_soft((p[i, 0], p[i, 1]), (blk[i, 0], blk[i, 1]))
                f = (f[0] ^ x[0], f[1] ^ x[1])
            if pick:
                # the vector part's pick covers whole steps only; the rest row by row
                for i in range((w // STEP_ROWS) * STEP_ROWS if done else 0, w):
                    m = _Z - np.uint64(sb[i])  # all ones where selected: no branch on the secret
                    p0 ^= p[i, 0] & m
                    p1 ^= p[i, 1] & m
            rr = (r[0], r[1])
            x = _mul128(f, rr)
            out[0] ^= x[0]
            out[1] ^= x[1]
            if pick:
                y = _mul128((p0, p1), rr)
                out[2] ^= y[0]
                out[3] ^= y[1]
            rr = _mul128(rr, (p[w - 1, 0], p[w - 1, 1]))
            r[0] = rr[0]
            r[1] = rr[1]
            a += w

    return run


def _vec256(lanes: int):
    """The block's vector part: ``(done, acc18, pick4)`` over whole steps."""
    if lanes == 0:
        @njit(inline="always")
        def part(p, blk, sel, pick, w):
            return 0, _ZERO18, (_Z, _Z, _Z, _Z)
        return part

    @njit(inline="always")
    def part(p, blk, sel, pick, w):
        steps = w // STEP_ROWS
        if pick:
            v = tab_dot256(p, blk, sel, steps, True, lanes)
        else:
            v = tab_dot256(p, blk, sel, steps, False, lanes)
        return steps * STEP_ROWS, v[:18], (v[18], v[19], v[20], v[21])

    return part


def _driver256(lanes: int):
    vec = _vec256(lanes)

    @njit(cache=True, nogil=True)
    def run(p, r, rows, sel, out):
        """:func:`_driver128` in GF(2^256): ``out[0:4]`` the sum, ``out[4:8]`` the pick."""
        n = rows.shape[0]
        pick = sel.shape[0] > 0
        a = 0
        while a < n:
            w = min(p.shape[0], n - a)
            blk = rows[a:a + w]
            sb = sel[a:a + w] if pick else sel
            done, acc, pk = vec(p, blk, sb, pick, w)
            for i in range(done, w):
                acc = _acc_add(acc, _row_terms(p[i], blk[i]))
                if pick:
                    m = _Z - np.uint64(sb[i])
                    pk = (pk[0] ^ (p[i, 0] & m), pk[1] ^ (p[i, 1] & m), pk[2] ^ (p[i, 2] & m), pk[3] ^ (p[i, 3] & m))
            rr = (r[0], r[1], r[2], r[3])
            x = _mul256(finish(acc), rr)
            for k in range(4):
                out[k] ^= x[k]
            if pick:
                y = _mul256(pk, rr)
                for k in range(4):
                    out[4 + k] ^= y[k]
            rr = _mul256(rr, (p[w - 1, 0], p[w - 1, 1], p[w - 1, 2], p[w - 1, 3]))
            for k in range(4):
                r[k] = rr[k]
            a += w

    return run


# numba's on-disk cache keys these on this file, not on gf_poly_vec.py, whose intrinsics they
# inline: a change there needs a change here (or a cleared cache) to be compiled in.
_RUN128 = {ln: _driver128(ln) for ln in (0, 1, 2, 4) if ln <= LANES}
_RUN256 = {ln: _driver256(ln) for ln in (0, 2, 4) if ln <= LANES}
#: the GF(2^128) driver of the widest registers here, for kernels that sum rows in place (njit)
acc128 = _RUN128[LANES]
#: the same in GF(2^256) (``out``: eight words, the sum in the first four)
acc256 = _RUN256[max(_RUN256)]


@njit(cache=True, nogil=True)
def _table128(s, p):
    x = (s[0], s[1])
    for i in range(p.shape[0]):
        p[i, 0], p[i, 1] = x
        x = _mul128(x, (s[0], s[1]))


@njit(cache=True, nogil=True)
def _table256(s, p):
    x = (s[0], s[1], s[2], s[3])
    for i in range(p.shape[0]):
        p[i, 0], p[i, 1], p[i, 2], p[i, 3] = x
        x = _mul256(x, (s[0], s[1], s[2], s[3]))


def _width(s: np.ndarray) -> int:
    s = np.asarray(s)
    if s.dtype != np.uint8 or s.shape not in ((16,), (32,)):
        raise ParameterError(f"s must be 16 or 32 bytes (uint8), got {s.dtype} {s.shape}")
    return s.shape[0]


def power_table(s: np.ndarray, count: int = BLOCK) -> np.ndarray:
    """``P_i = s^(i+1)`` for ``i < count`` as a ``(count, width/8)`` uint64 table (``s``: 16 or 32 bytes)."""
    width = _width(s)
    if count < 1:
        raise ParameterError("the power table needs at least one entry")
    sv = np.ascontiguousarray(s).view(np.uint64)
    p = np.empty((count, width // 8), dtype=np.uint64)
    (_table128 if width == 16 else _table256)(sv, p)
    return p


def unit(width: int) -> np.ndarray:
    """The running power ``R = s^0 = 1`` for a fresh stream: ``(width/8,)`` uint64."""
    r = np.zeros(width // 8, dtype=np.uint64)
    r[0] = 1
    return r


def _lanes(backend: str) -> int:
    if backend in ("auto", "native"):
        return LANES
    if backend == "xmm":
        return min(LANES, 1)
    if backend == "ymm":
        return min(LANES, 2)
    if backend == "fallback":
        return 0
    raise ParameterError(f"unknown backend {backend!r} (auto, native, ymm, xmm, fallback)")


def accumulate(p: np.ndarray, r: np.ndarray, rows: np.ndarray, out: np.ndarray,
               sel: np.ndarray | None = None, backend: str = "auto") -> None:
    """``out[:width] ^= Σ_j χ_j·rows_j`` and (with ``sel``) ``out[width:] ^= ⊕_{sel_j = 1} χ_j``, where
    ``χ_j = R·s^(j+1)`` over the ``len(rows)`` rows (``R`` = ``r`` on entry); ``r`` becomes
    ``R·s^len(rows)``. ``p``: :func:`power_table`; ``rows``: ``(n, width)`` uint8; ``out``: ``(2·width,)``
    uint8. ``backend``: "auto" (widest), "ymm", "xmm" or "fallback" (no carry-less instructions); the
    same bytes."""
    width = 8 * p.shape[1]
    rows = np.ascontiguousarray(rows, dtype=np.uint8)
    if rows.ndim != 2 or rows.shape[1] != width:
        raise ParameterError(f"rows must be (n, {width}) bytes, got {rows.shape}")
    sel = np.zeros(0, dtype=np.uint8) if sel is None else np.ascontiguousarray(sel, dtype=np.uint8)
    if sel.shape[0] not in (0, rows.shape[0]):
        raise ParameterError("sel must have one entry per row")
    if out.shape != (2 * width,) or out.dtype != np.uint8:
        raise ParameterError(f"out must be ({2 * width},) uint8")
    if rows.shape[0] == 0:
        return
    ln = _lanes(backend)
    if width == 16:
        run = _RUN128[ln if ln in _RUN128 else max(k for k in _RUN128 if k <= ln)]
    else:
        run = _RUN256[max(k for k in _RUN256 if k <= ln)]
    run(p, r, rows.view(np.uint64), sel, out.view(np.uint64))


def powers_at(p: np.ndarray, r: np.ndarray, c: int) -> np.ndarray:
    """The next ``c`` challenges ``R·s^(i+1)`` as ``(c, width)`` bytes; ``r`` advanced as by :func:`accumulate`."""
    width = 8 * p.shape[1]
    field = gf128 if width == 16 else gf256
    out = np.empty((c, width), dtype=np.uint8)
    tab = p.view(np.uint8).reshape(-1, width)
    for a in range(0, c, p.shape[0]):
        w = min(p.shape[0], c - a)
        rb = np.broadcast_to(r.view(np.uint8), (w, width))
        out[a:a + w] = field.mul(np.ascontiguousarray(rb), tab[:w])
        r[:] = out[a + w - 1].view(np.uint64)
    return out
