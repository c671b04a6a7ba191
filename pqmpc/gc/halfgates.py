"""The half-gates scheme over ranges of the scheduled gate list, two backends.

Scheme (Zahur–Rosulek–Evans, EUROCRYPT 2015) with free-XOR (Kolesnikov–Schneider
2008) and point-and-permute: every wire ``w`` has a zero-label ``Z_w``, its one-label
is ``Z_w ⊕ Δ`` with one global ``Δ`` whose least significant bit is 1, so the lsb of
a label is its permute bit. XOR, INV, EQW cost nothing; an AND gate with input
zero-labels ``A0, B0`` and permute bits ``pa, pb`` gets the two ciphertexts::

    TG = H(A0, 2k) ⊕ H(A0⊕Δ, 2k) ⊕ pb·Δ          WG0 = H(A0, 2k) ⊕ pa·TG
    TE = H(B0, 2k+1) ⊕ H(B0⊕Δ, 2k+1) ⊕ A0        WE0 = H(B0, 2k+1) ⊕ pb·(TE ⊕ A0)
    Z_out = WG0 ⊕ WE0

where ``k`` numbers the AND gates in schedule order (the high tweak word, omitted
here, names the garbling: :mod:`pqmpc.gc.tweaks`) and ``H(x, i) = π(π(x) ⊕ i) ⊕ π(x)``
is the tweakable circular-correlation-robust hash from fixed-key AES of Guo, Katz,
Wang and Yu (CRYPTO 2020). The evaluator holding ``Wa, Wb`` computes
``H(Wa, 2k) ⊕ sa·TG ⊕ H(Wb, 2k+1) ⊕ sb·(TE ⊕ Wa)`` with ``sa, sb`` the label lsbs.

Constant wires (Bristol ``EQ``) carry a public label ``C`` as the evaluator's label;
the garbler sets the zero-label to ``C ⊕ c·Δ`` so that ``C`` encodes the constant
``c``. The evaluator learns nothing it did not know: ``c`` is public in the circuit.

Security: semi-honest parties; privacy and authenticity of the garbling rest on
``H`` being tweakable circular correlation robust, which GKWY prove for this
construction when fixed-key AES is modelled as a random permutation. Nothing
here is public-key, so the quantum threat is Grover-type search on 128-bit labels
and Δ (see ``docs/garbling.md``). Python/numba cannot promise constant time.

Backends, byte-identical by construction and by test:

* ``"fused"``: :mod:`pqmpc.gc.fused`, AES-NI inside one numba gate walk (needs
  AES-NI: without it "fused" resolves to "levels");
* ``"levels"``: every AND level of at least ``WIDE_LEVEL`` gates is garbled with one
  numba gather, two bulk OpenSSL AES calls for all hashes of the level and numba
  glue; everything in between (free gates, narrow levels) is one call of the fused
  walk. Without AES-NI (every ARM machine) *every* AND level goes to OpenSSL,
  whatever its width, and the walk runs free gates only: numba's fallback AES is a
  table AES, whose lookups indexed by secret labels leak through the cache
  (issue 12 item 5). κ = 256 likewise: the walk of :mod:`pqmpc.gc.fused_wide` with
  AES-NI, per-row OpenSSL AES-256 (:func:`pqmpc.primitives.hashing.tccr_wide`)
  without.

Tweaks: ``(2k, hi)`` and ``(2k+1, hi)`` for the ``k``-th AND of a garbling, ``hi``
the protocol tag and garbling id of :mod:`pqmpc.gc.tweaks`.
"""

from __future__ import annotations

import hashlib
import threading

import numpy as np

from pqmpc.errors import ParameterError
from pqmpc.gc import kernels as _k
from pqmpc.gc.schedule import Schedule
from pqmpc.gc.tweaks import tweak_high
from pqmpc.primitives.aes import DEFAULT_KEY, openssl_ecb
from pqmpc.primitives.aes_kernels import fixed_key_schedule
from pqmpc.primitives.cpu import HAVE_AESNI, HAVE_VAES
from pqmpc.primitives.hashing import tccr_wide

#: The public label the evaluator holds on a constant wire.
CONST_LABEL = np.frombuffer(hashlib.sha256(b"pqmpc.gc constant-wire label v1").digest()[:16],
                            dtype=np.uint64).copy()
#: The same for 256-bit labels (κ = 256).
CONST_LABEL_WIDE = np.frombuffer(
    hashlib.sha256(b"pqmpc.gc constant-wire label v1 (256-bit)").digest(), dtype=np.uint64).copy()


def const_label(words: int) -> np.ndarray:
    return CONST_LABEL if words == 2 else CONST_LABEL_WIDE

BACKENDS = ("auto", "fused", "levels")

#: AND levels at least this wide go through bulk OpenSSL in the "levels" backend;
#: narrower ones (and the free gates around them) stay in one numba walk, so deep
#: circuits do not pay a Python round trip per level.
WIDE_LEVEL = 256

def round_keys() -> np.ndarray:
    """Round keys of the public fixed key (the one cached schedule of the primitives)."""
    return fixed_key_schedule()


_POOL = threading.local()
_POOL_MAX_ROWS = 1 << 23  # keep at most 128 MiB of labels per thread


def take_labels(n_wires: int, words: int = 2) -> np.ndarray:
    """A label table for ``n_wires`` wires, reusing this thread's last one if it fits.

    The table has ``n_wires + 2`` rows of ``2 x uint64``: the circuit's wires, then a
    zero row and the public constant-wire label (the uniform free-gate form of
    :class:`pqmpc.gc.circuit.Schedule` reads them).

    Fresh multi-megabyte arrays are page-faulted in on first touch, which in a VM
    costs as much as garbling a mid-sized circuit; reusing the buffer avoids that.
    """
    rows = n_wires + 2
    bufs = _pool()
    buf = bufs.get(words)
    if buf is not None and buf.shape[0] >= rows:
        del bufs[words]
        lab = buf[:rows]
    else:
        lab = np.empty((rows, words), dtype=np.uint64)
    lab[n_wires] = 0
    lab[n_wires + 1] = const_label(words)
    return lab


def _pool() -> dict:
    bufs = getattr(_POOL, "bufs", None)
    if bufs is None:
        bufs = _POOL.bufs = {}
    return bufs


def new_label_table(n_wires: int, words: int = 2) -> np.ndarray:
    """A fresh ``(n_wires + 2, words) uint64`` label table for :func:`garble_range` and
    :func:`evaluate_range` (``words`` = 2 for 128-bit labels, 4 for 256-bit): rows
    ``0 .. n_wires-1`` are the wires (fill in the input rows), row ``n_wires`` is zero
    and row ``n_wires + 1`` the constant-wire label."""
    if words not in (2, 4):
        raise ParameterError("label tables have 2 (128-bit) or 4 (256-bit) words per row")
    lab = np.empty((n_wires + 2, words), dtype=np.uint64)
    lab[n_wires] = 0
    lab[n_wires + 1] = const_label(words)
    return lab


def _check_args(sched: Schedule, g0: int, g1: int, lab: np.ndarray,
                tables: np.ndarray) -> None:
    """Kernels do no bounds checks: refuse anything that would make them write astray."""
    n_gates = sched.op.shape[0]
    if not 0 <= g0 <= g1 <= n_gates:
        raise ParameterError(f"gate range [{g0}, {g1}) outside [0, {n_gates}]")
    _check_table(sched, lab)
    need = int(sched.and_before[g1] - sched.and_before[g0])
    if (not isinstance(tables, np.ndarray) or tables.dtype != np.uint64 or tables.ndim != 2
            or tables.shape[1] != 2 * lab.shape[1] or tables.shape[0] < need
            or not tables.flags.c_contiguous):
        raise ParameterError(f"tables must be a C-contiguous ({need}, {2 * lab.shape[1]}) uint64 "
                             f"array for this range")


def _check_table(sched: Schedule, lab: np.ndarray) -> None:
    n = sched.n_wires
    if (lab.dtype != np.uint64 or lab.ndim != 2 or lab.shape[1] not in (2, 4)
            or lab.shape[0] < n + 2 or lab[n].any()
            or not np.array_equal(lab[n + 1], const_label(lab.shape[1]))):
        raise ParameterError(f"label table must be ({n + 2}, 2 or 4) uint64 with a zero row and "
                             f"the constant label after the {n} wires (see new_label_table)")


def give_back_labels(lab: np.ndarray) -> None:
    """Return a table from :func:`take_labels`; the caller must not use it afterwards."""
    base = lab.base if lab.base is not None else lab
    if base.ndim == 2 and base.shape[0] * base.shape[1] <= 2 * _POOL_MAX_ROWS:
        bufs = _pool()
        cur = bufs.get(base.shape[1])
        if cur is None or cur.shape[0] < base.shape[0]:
            bufs[base.shape[1]] = base


def unsigned(idx: np.ndarray) -> np.ndarray:
    """A schedule's non-negative int64 wire indices seen as uint64 (no copy): numba then
    indexes without the negative-index wrap-around, a quarter of a free gate's cost."""
    return idx.view(np.uint64)


_FUSED = []


def fused_walk():
    """The κ = 128 walk this CPU runs: :mod:`pqmpc.gc.fused_vaes` (two blocks per AES
    instruction) where numba's target has VAES, else :mod:`pqmpc.gc.fused`; imported on
    first use, and a module whose instructions the CPU lacks is never compiled."""
    if not _FUSED:
        if HAVE_VAES:
            from pqmpc.gc import fused_vaes as walk
        else:
            from pqmpc.gc import fused as walk
        _FUSED.append(walk)
    return _FUSED[0]


def resolve_backend(backend: str) -> str:
    """The backend that will run: ``"fused"`` needs AES-NI (without it its AES would be a
    table AES, not constant time, on secret labels), so it resolves to ``"levels"``
    there; the bytes are the same either way."""
    if backend not in BACKENDS:
        raise ParameterError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto" or (backend == "fused" and not HAVE_AESNI):
        return "fused" if HAVE_AESNI else "levels"
    return backend


def _permute(x: np.ndarray) -> np.ndarray:
    """π on the rows of an ``(..., 2) uint64`` array (one OpenSSL call)."""
    flat = np.ascontiguousarray(x).view(np.uint8).reshape(-1, 16)
    return openssl_ecb(DEFAULT_KEY, flat).view(np.uint64).reshape(x.shape)


def _wide_runs_in(sched: Schedule, g0: int, g1: int) -> list[tuple[int, int]]:
    """The parts inside ``[g0, g1)`` of AND runs that go to bulk OpenSSL.

    With AES-NI: runs at least ``WIDE_LEVEL`` gates wide, selected with numpy (a deep
    circuit has tens of thousands of narrow runs and must not pay a Python step for
    each). Without AES-NI: every non-empty AND run, however narrow — the price of
    keeping secret labels out of table AES is one Python round trip per AND level.
    """
    runs = sched.runs[1::2]
    least = WIDE_LEVEL if HAVE_AESNI else 1
    keep = (runs[:, 1] - runs[:, 0] >= max(least, 1)) & (runs[:, 1] > g0) & (runs[:, 0] < g1)
    return [(max(int(a), g0), min(int(b), g1)) for a, b in runs[keep]]


def _garble_ands_bulk(sched, s, e, k, hi, lab, delta, tables, row):
    m = e - s
    d0, d1 = np.uint64(delta[0]), np.uint64(delta[1])
    x = np.empty((4, m, 2), dtype=np.uint64)
    _k.level_garble_inputs(lab, sched.in0, sched.in1, s, e, d0, d1, x)
    p = _permute(x)
    _k.level_add_tweaks(p, k, hi, 2, x)
    h = _permute(x)
    _k.level_garble_finish(p, h, lab, sched.in0, sched.in1, sched.out, s, e, d0, d1, tables, row)


def _eval_ands_bulk(sched, s, e, k, hi, lab, tables, row):
    m = e - s
    x = np.empty((2, m, 2), dtype=np.uint64)
    _k.level_eval_inputs(lab, sched.in0, sched.in1, s, e, x)
    p = _permute(x)
    _k.level_add_tweaks(p, k, hi, 1, x)
    h = _permute(x)
    _k.level_eval_finish(p, h, lab, sched.in0, sched.in1, sched.out, s, e, tables, row)


def _levels_plan(sched: Schedule, g0: int, g1: int):
    """``[("walk" | "bulk", start, end), ...]`` covering ``[g0, g1)`` for the levels backend.

    Without AES-NI every AND gate goes to bulk OpenSSL (constant time), so the numba
    walk, whose AES would be a table AES, only ever runs free gates.
    """
    plan, pos = [], g0
    for s, e in _wide_runs_in(sched, g0, g1):
        if pos < s:
            plan.append(("walk", pos, s))
        plan.append(("bulk", s, e))
        pos = e
    if pos < g1:
        plan.append(("walk", pos, g1))
    if not HAVE_AESNI:
        for kind, s, e in plan:
            if kind == "walk" and sched.and_before[e] != sched.and_before[s]:
                raise RuntimeError("internal: an AND gate would reach the table AES")
    return plan


def _wide_hash(x: np.ndarray, k: int, hi, pairs: int) -> np.ndarray:
    """H(x[j, i], 2(k+i) + (j >= pairs)) for the ``(J, m, 4)`` label rows of ``x``."""
    nj, m = x.shape[0], x.shape[1]
    base = np.uint64(2) * (np.uint64(k) + np.arange(m, dtype=np.uint64))
    tw = np.concatenate([base + np.uint64(0 if j < pairs else 1) for j in range(nj)])
    h = tccr_wide(np.ascontiguousarray(x).view(np.uint8).reshape(nj * m, 32), tw, tag=int(hi))
    return h.view(np.uint64).reshape(x.shape)


def _garble_ands_bulk_wide(sched, s, e, k, hi, lab, delta, tables, row):
    x = np.empty((4, e - s, 4), dtype=np.uint64)
    _k.level_garble_inputs_w(lab, sched.in0, sched.in1, s, e, delta, x)
    h = _wide_hash(x, k, hi, 2)
    _k.level_garble_finish_w(h, lab, sched.in0, sched.in1, sched.out, s, e, delta, tables, row)


def _eval_ands_bulk_wide(sched, s, e, k, hi, lab, tables, row):
    x = np.empty((2, e - s, 4), dtype=np.uint64)
    _k.level_eval_inputs_w(lab, sched.in0, sched.in1, s, e, x)
    h = _wide_hash(x, k, hi, 1)
    _k.level_eval_finish_w(h, lab, sched.in0, sched.in1, sched.out, s, e, tables, row)


def garble_range(backend, sched: Schedule, g0, g1, k0, lab, delta, tables,
                 tweak_hi: int | None = None, *, check: bool = True) -> None:
    """Garble scheduled gates ``[g0, g1)`` into ``lab`` (zero-labels) and ``tables``.

    ``lab`` comes from :func:`new_label_table` (or :func:`take_labels`); ``tables`` is
    ``(m, 2 * words) uint64`` for the ``m`` ANDs of the range; ``k0`` is the index of
    the first of them within its garbling (tweak low words ``2k``, ``2k+1``) and
    ``tweak_hi`` the high tweak word naming the garbling (:mod:`pqmpc.gc.tweaks`): two
    garblings under one Δ must differ in it (default: garbling id 0). With 256-bit labels (``words = 4``,
    ``delta`` 4 words) the walk is :mod:`pqmpc.gc.fused_wide`. Most callers want
    :class:`pqmpc.gc.Garbler`, which keeps all of this consistent.

    ``check=False`` skips the argument checks (:class:`pqmpc.gc.Garbler` passes it: its
    label table, table views and tweak word are built and checked once, and on a
    6,400-AND circuit the checks cost a tenth of the garbling).
    """
    if check:
        _check_args(sched, g0, g1, lab, tables)
        hi = _check_hi(tweak_hi)
    else:
        hi = np.uint64(tweak_hi)
    if HAVE_AESNI and backend == "fused" and lab.shape[1] == 2:
        fused_walk().garble_range(round_keys(), sched.gates, g0, g1, k0, hi, lab, np.uint64(delta[0]),
                              np.uint64(delta[1]), tables)
        return
    from pqmpc.gc import fused, fused_wide

    wide = lab.shape[1] == 4
    if wide:
        d = np.ascontiguousarray(delta, dtype=np.uint64)

        def walk(s, e, row):
            fused_wide.garble_range(sched.op, unsigned(sched.ua), unsigned(sched.ub), sched.umask,
                                    unsigned(sched.out), s, e, k0 + row, hi,
                                    lab, d, tables[row:])

        bulk = _garble_ands_bulk_wide
    else:
        d = delta
        d0, d1 = np.uint64(delta[0]), np.uint64(delta[1])
        rk = round_keys()

        def walk(s, e, row):  # narrow levels and free gates: one kernel call, no per-level Python
            fused.garble_range(rk, sched.gates, s, e, k0 + row, hi, lab, d0, d1, tables[row:])

        bulk = _garble_ands_bulk
    if HAVE_AESNI and (wide or backend == "fused"):
        walk(g0, g1, 0)
        return
    for kind, s, e in _levels_plan(sched, g0, g1):
        row = int(sched.and_before[s] - sched.and_before[g0])
        if kind == "walk":
            walk(s, e, row)
        else:
            bulk(sched, s, e, k0 + row, hi, lab, d, tables, row)


def evaluate_range(backend, sched: Schedule, g0, g1, k0, lab, tables, tweak_hi: int | None = None, *,
                   check: bool = True) -> None:
    """Evaluate scheduled gates ``[g0, g1)`` on active labels ``lab`` (see :func:`garble_range`;
    :class:`pqmpc.gc.Evaluator` passes ``check=False`` after checking the peer's tables itself)."""
    if check:
        _check_args(sched, g0, g1, lab, tables)
        hi = _check_hi(tweak_hi)
    else:
        hi = np.uint64(tweak_hi)
    if HAVE_AESNI and backend == "fused" and lab.shape[1] == 2:
        fused_walk().evaluate_range(round_keys(), sched.gates, g0, g1, k0, hi, lab, tables)
        return
    from pqmpc.gc import fused, fused_wide

    wide = lab.shape[1] == 4
    if wide:
        def walk(s, e, row):
            fused_wide.evaluate_range(sched.op, unsigned(sched.ua), unsigned(sched.ub), unsigned(sched.out), s, e,
                                      k0 + row, hi, lab,
                                      tables[row:])

        bulk = _eval_ands_bulk_wide
    else:
        rk = round_keys()

        def walk(s, e, row):
            fused.evaluate_range(rk, sched.gates, s, e, k0 + row, hi, lab, tables[row:])

        bulk = _eval_ands_bulk
    if HAVE_AESNI and (wide or backend == "fused"):
        walk(g0, g1, 0)
        return
    for kind, s, e in _levels_plan(sched, g0, g1):
        row = int(sched.and_before[s] - sched.and_before[g0])
        if kind == "walk":
            walk(s, e, row)
        else:
            bulk(sched, s, e, k0 + row, hi, lab, tables, row)


def and_positions(sched: Schedule) -> np.ndarray:
    """Scheduled position of every AND gate (``sched.and_pos``; kept for old callers)."""
    return sched.and_pos


def chunk_end(sched: Schedule, and_pos: np.ndarray, k_end: int) -> int:
    """``sched.chunk_end(k_end)``, for callers holding ``and_pos`` separately."""
    return int(and_pos[k_end]) if k_end < and_pos.shape[0] else int(sched.op.shape[0])


def _check_hi(tweak_hi) -> np.uint64:
    hi = tweak_high(0) if tweak_hi is None else int(tweak_hi)
    # bit 63 is the half selector of the 256-bit hash; a tweak word using it would
    # make the two halves of one hash collide with another garbling's
    if not 0 <= hi < 1 << 63:
        raise ParameterError(f"tweak_hi must be in [0, 2^63), got {tweak_hi!r}")
    return np.uint64(hi)


# Shared with the three-halves scheme (pqmpc.gc.threehalves), which runs on the same
# label tables, schedule and level plan.
check_label_table = _check_table
check_hi = _check_hi
levels_plan = _levels_plan
