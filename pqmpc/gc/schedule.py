"""The AND-depth schedule: the gate order both garbling parties walk.

Separate from the circuit IR (:mod:`pqmpc.gc.circuit`) because it is a property of
the garbling engine, not of the circuit: the IR knows gates and wires, the schedule
knows which AND gate owns which garbled table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pqmpc.gc import kernels as _k
from pqmpc.gc.kernels import OP_AND, OP_EQ, OP_EQW, OP_INV

__all__ = ["Schedule", "build_schedule", "and_depths", "GATE_FREE", "GATE_FLIP", "GATE_AND", "AHEAD_MAX"]

#: Kinds in :attr:`Schedule.gates` column 3.
GATE_FREE = 0
GATE_FLIP = 1
GATE_AND = 2
#: The most ANDs ``Schedule.gates`` announces ahead of an AND (kind >> 2).
AHEAD_MAX = 7


@dataclass(frozen=True)
class Schedule:
    """Gates re-ordered by AND-depth for level-batched garbling.

    The scheduled list is ``F0, A1, F1, A2, F2, ..., A_D, F_D``: ``A_d`` holds the
    AND gates of AND-depth ``d`` and ``F_d`` the free gates of depth ``d``. A stable
    sort keeps the original topological order inside each run, so the scheduled
    list is itself a valid topological order; garbler and evaluator both walk it,
    and the ``k``-th AND gate of this list owns garbled table ``k``.
    """

    op: np.ndarray
    in0: np.ndarray
    in1: np.ndarray
    out: np.ndarray
    runs: np.ndarray  # (2D+1, 2) start/end positions, alternating free/AND runs
    and_before: np.ndarray  # ANDs strictly before each scheduled position (n_gates+1)
    # Every gate as the uniform form  w[out] = w[ua] ^ w[ub] ^ (umask & Δ)  over two
    # extra rows: n_wires (always zero) and n_wires+1 (the constant wire's base).
    # XOR: (a, b, 0); INV: (a, zero, ~0); EQW: (a, zero, 0); EQ c: (base, zero, c ? ~0 : 0);
    # AND keeps (a, b). Branch-free kernels use it.
    ua: np.ndarray
    ub: np.ndarray
    umask: np.ndarray
    n_wires: int
    and_pos: np.ndarray  # scheduled position of AND k (table k belongs to and_pos[k])
    # The same, one row per gate: (ua, ub, out, kind); uint32 while the wires fit. kind & 3
    # is GATE_FREE / GATE_FLIP (free, ⊕ Δ on the garbler's side) / GATE_AND; for an AND,
    # kind >> 2 is how many ANDs follow it in its AND run (at most AHEAD_MAX): ANDs of one
    # AND-depth never read each other's outputs, so the walk hashes that many together
    # with no dependency check. One 16-byte row per gate instead of five arrays.
    gates: np.ndarray

    @property
    def depth(self) -> int:
        return (self.runs.shape[0] - 1) // 2

    @property
    def n_gates(self) -> int:
        return int(self.op.shape[0])

    @property
    def and_count(self) -> int:
        return int(self.and_pos.shape[0])

    def chunk_end(self, k_end: int) -> int:
        """First scheduled position after the gates a chunk ending before AND ``k_end`` covers.

        A chunk of tables ``[k0, k_end)`` also covers the free gates that follow its
        last AND, up to the next AND gate (or the end of the circuit).
        """
        return int(self.and_pos[k_end]) if k_end < self.and_pos.shape[0] else self.n_gates

    def level_sizes(self) -> list[int]:
        """AND gates per non-empty AND level, in schedule order."""
        runs = self.runs[1::2]
        return [int(s) for s in (runs[:, 1] - runs[:, 0]) if s > 0]


def and_depths(n_wires: int, op, in0, in1, out) -> np.ndarray:
    """AND-depth of every gate: ANDs add one level, free gates inherit the max."""
    return _k.and_depths(n_wires, op, in0, in1, out)


def build_schedule(n_wires: int, op, in0, in1, out, depths=None) -> Schedule:
    """The :class:`Schedule` of a validated gate list (``depths`` from :func:`and_depths`)."""
    d = and_depths(n_wires, op, in0, in1, out) if depths is None else depths
    n_gates = int(op.shape[0])
    is_and = op == OP_AND
    key = 2 * d - is_and.astype(np.int64)
    order = np.argsort(key, kind="stable")
    skey = key[order]
    depth = int(d.max()) if n_gates else 0
    bounds = np.searchsorted(skey, np.arange(0, 2 * depth + 2), side="left")
    # key 2d-1: ANDs of depth d (d >= 1); key 2d: free gates of depth d. Run r is key r.
    runs = np.stack([bounds[:-1], bounds[1:]], axis=1).astype(np.int64)
    and_before = np.zeros(n_gates + 1, dtype=np.int64)
    np.cumsum(is_and[order], out=and_before[1:])
    sop = np.ascontiguousarray(op[order])
    sin0 = np.ascontiguousarray(in0[order])
    sin1 = np.ascontiguousarray(in1[order])
    zero_row, base_row = n_wires, n_wires + 1
    unary = (sop == OP_INV) | (sop == OP_EQW) | (sop == OP_EQ)
    ua = np.where(sop == OP_EQ, base_row, sin0)
    ub = np.where(unary, zero_row, sin1)
    flip = (sop == OP_INV) | ((sop == OP_EQ) & (sin0 == 1))
    umask = np.where(flip, ~np.uint64(0), np.uint64(0)).astype(np.uint64)
    sout = np.ascontiguousarray(out[order])
    # unsigned: numba then indexes without the negative-index wrap-around (a quarter of the
    # free-gate cost on AES-128)
    itype = np.uint32 if n_wires + 2 < 1 << 32 else np.uint64
    gates = np.empty((n_gates, 4), dtype=itype)
    gates[:, 0], gates[:, 1], gates[:, 2] = ua, ub, sout
    # ANDs left in the same AND run after each scheduled position (runs 1, 3, 5, ... are ANDs)
    # (the AND runs hold exactly the ANDs, in order)
    ahead = np.zeros(n_gates, dtype=np.int64)
    and_pos = np.flatnonzero(sop == OP_AND)
    run_end = np.repeat(runs[1::2, 1], runs[1::2, 1] - runs[1::2, 0])
    ahead[and_pos] = np.minimum(run_end - and_pos - 1, AHEAD_MAX)
    kind = np.where(sop == OP_AND, GATE_AND, np.where(flip, GATE_FLIP, GATE_FREE))
    gates[:, 3] = kind | (ahead << 2)
    return Schedule(op=sop, in0=sin0, in1=sin1, out=sout,
                    runs=runs, and_before=and_before, ua=ua, ub=ub, umask=umask,
                    n_wires=int(n_wires), and_pos=and_pos, gates=gates)
