"""Three-halves garbling (Rosulek–Roy, "Three Halves Make a Whole?", CRYPTO 2021,
ePrint 2021/749): free XOR and 1.5κ + 5 bits per AND gate.

Slicing: a 16-byte label ``X`` is two halves ``(X_L, X_R)`` (words 0 and 1), Δ too;
``lsb(X_L)`` is the label's colour (point-and-permute; ``lsb(Δ_L) = 1``). For an AND
gate with input labels of colours ``i``, ``j`` the evaluator computes three hashes
``H(A_i, 3k)``, ``H(B_j, 3k+1)``, ``H(A_i ⊕ B_j, 3k+2)``; each gives a 64-bit half
``h`` (word 0 of the TCCR output) and one extra bit ``e`` (bit 0 of word 1). With the
table ``(G0, G1, G2, z)`` it recovers two control bits and the output label::

    r1 = z0 ⊕ i·z2 ⊕ (i⊕j)·z4 ⊕ e_A ⊕ e_AB      r2 = z1 ⊕ j·z3 ⊕ (i⊕j)·z4 ⊕ e_B ⊕ e_AB
    R_ij = Rp_ij ⊕ r1·S1 ⊕ r2·S2               (2×4 over A_L, A_R, B_L, B_R)
    C_L = h_A ⊕ h_AB ⊕ i·G0 ⊕ (i⊕j)·G2 ⊕ R_ij[0]·(A_i, B_j)
    C_R = h_B ⊕ h_AB ⊕ j·G1 ⊕ (i⊕j)·G2 ⊕ R_ij[1]·(A_i, B_j)

i.e. ``C_ij = M·H ⊕ V_ij·G ⊕ R_ij·(A_i, B_j)`` with ``V_ij = [[i, 0, i⊕j], [0, j, i⊕j]]``
(the paper's "dicing": the control bits select ``R_ij`` from a coset of a
2-dimensional space, and they reach the evaluator through the same ``V`` structure,
one extra hash bit per hash). The garbler makes the six hashes of the colour-0 and
colour-1 labels of ``A``, ``B`` and ``A ⊕ B``, draws two secret bits ``R$ = (s0, s1)``
per gate, sets the control bits

    r_00 = (s0, s1)          r_01 = (a⊕b⊕s0, a⊕s1)
    r_10 = (b⊕s0, a⊕b⊕s1)    r_11 = (a⊕s0, b⊕s1)

(``a``, ``b``: colours of the one-labels of ``A``, ``B``; each ``r_ij`` alone is
uniform, so the evaluator's ``R_ij`` says nothing about ``a``, ``b``) and solves
``V·(C, G) = Z`` with ``Z_ij = R_ij·(A_i, B_j) ⊕ [i=a][j=b]·Δ`` by the left inverse
``V⁻¹`` — possible because each column of ``Z`` lies in ``V``'s column space, which
:func:`_derive` checks for all 16 ``(a, b, s0, s1)`` at import. ``z = V⁻¹·(r ⊕ ε)``
hides the control bits under the extra hash bits.

Wire layout of ``m`` tables: ``24 m`` bytes (``G0 ‖ G1 ‖ G2`` per AND, each 8 bytes
little-endian) then ``⌈5m/8⌉`` bytes of control bits, bit ``c`` of AND ``g`` at bit
``5g + c`` (least significant bit first), zero padding: exactly 197 bits per AND when
``m`` is a multiple of 8. In memory (kernels, ``garble_into``) a table is a
``(4,) uint64`` row ``G0, G1, G2, z``.

Tweaks: ``(3k + c, hi)`` for ``c`` = 0 (hashes of A), 1 (B), 2 (A⊕B), ``k`` the
AND's number in its garbling, ``hi`` the tag and garbling id of
:mod:`pqmpc.gc.tweaks`; within a garbling each tweak is queried on one pair
``(x, x⊕Δ)``, as the TCCR assumption needs.

R$ comes from a per-garbling secret AES key: the bits of AND ``k`` are bits
``2(k mod 32)`` of word ``(k >> 5) & 1`` of ``AES_key(k >> 6 ‖ domain)``, so the
tables do not depend on how the garbling is chunked.

κ = 256 is refused: the halving works at any width in the paper's model, but the
κ = 256 hash here (AES-256 keyed by the label) has no cheap 128-bit-half output
with a spare bit and this engine has no such kernel; see ``docs/garbling.md``.
"""

from __future__ import annotations

import itertools

import numpy as np

from pqmpc.errors import ParameterError, ProtocolError
from pqmpc.gc import fused_th as _tk
from pqmpc.gc import halfgates as _hg
from pqmpc.gc.schedule import Schedule
from pqmpc.primitives.aes import DEFAULT_KEY, openssl_ecb
from pqmpc.primitives.cpu import HAVE_AESNI

__all__ = ["SCHEMES", "HALF_BYTES", "ROW_WORDS", "packed_size", "ands_in_packed", "pack_tables",
           "unpack_tables", "RandomBits", "garble_range", "evaluate_range", "check_scheme",
           "S1", "S2", "RP", "V_INV"]

SCHEMES = ("halfgates", "threehalves")
HALF_BYTES = 8
ROW_WORDS = 4  # G0, G1, G2, z

# R_ij = RP[i][j] ⊕ r1·S1 ⊕ r2·S2; rows (L, R), columns (A_L, A_R, B_L, B_R)
S1 = np.array([[1, 1, 1, 0], [1, 0, 0, 1]], np.uint8)
S2 = np.array([[1, 0, 0, 1], [0, 1, 1, 1]], np.uint8)
RP = np.array([[[[0, 0, 1, 0], [0, 1, 0, 0]], [[0, 0, 1, 0], [0, 0, 0, 0]]],
               [[[0, 0, 0, 0], [0, 1, 0, 0]], [[0, 0, 0, 0], [0, 0, 0, 0]]]], np.uint8)
#: Left inverse of V (stacked over ij = 00, 01, 10, 11, halves L, R): rows C_L, C_R, G0, G1, G2.
V_INV = np.array([[1, 0, 0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 1, 1, 0, 0],
                  [1, 1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 0, 1, 0]], np.uint8)


def v_block(i: int, j: int) -> np.ndarray:
    """``[I₂ | V_ij]``: how the evaluator's two output halves depend on ``(C, G0, G1, G2)``."""
    return np.array([[1, 0, i, 0, i ^ j], [0, 1, 0, j, i ^ j]], np.uint8)


def control_bits(a: int, b: int, s0: int, s1: int) -> dict:
    """``r_ij`` for one gate: ``(a, b)`` colours of the one-labels, ``(s0, s1)`` = R$."""
    return {(0, 0): (s0, s1), (0, 1): (a ^ b ^ s0, a ^ s1), (1, 0): (b ^ s0, a ^ b ^ s1),
            (1, 1): (a ^ s0, b ^ s1)}


def r_matrix(i: int, j: int, r1: int, r2: int) -> np.ndarray:
    return RP[i, j] ^ (r1 * S1) ^ (r2 * S2)


def _derive():
    """``V⁻¹·Z`` over (A_L, A_R, B_L, B_R, Δ_L, Δ_R) for every (a, b, s0, s1), checked."""
    v = np.vstack([v_block(i, j) for i in (0, 1) for j in (0, 1)])
    assert not ((V_INV.astype(int) @ v) % 2 ^ np.eye(5, dtype=int)).any()
    gm = np.zeros((16, 5, 6), np.uint64)
    for a, b, s0, s1 in itertools.product((0, 1), repeat=4):
        r = control_bits(a, b, s0, s1)
        z = []
        for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)):
            # (A_i, B_j) in terms of the colour-0 labels and Δ
            p = np.zeros((4, 6), int)
            p[0, 0] = p[1, 1] = p[2, 2] = p[3, 3] = 1
            p[0, 4] = p[1, 5] = i
            p[2, 4] = p[3, 5] = j
            zij = (r_matrix(i, j, *r[i, j]).astype(int) @ p) % 2
            t = int(i == a and j == b)
            zij[0, 4] ^= t
            zij[1, 5] ^= t
            z.append(zij)
        z = np.vstack(z)
        x = (V_INV.astype(int) @ z) % 2
        if ((v.astype(int) @ x) % 2 != z).any():  # Z outside V's column space: no solution
            raise AssertionError(f"three-halves matrices inconsistent at {(a, b, s0, s1)}")
        gm[a | b << 1 | s0 << 2 | s1 << 3] = np.where(x == 1, ~np.uint64(0), np.uint64(0))
    em = np.zeros((16, 2, 4), np.uint64)
    for i, j, r1, r2 in itertools.product((0, 1), repeat=4):
        em[i | j << 1 | r1 << 2 | r2 << 3] = np.where(r_matrix(i, j, r1, r2) == 1,
                                                     ~np.uint64(0), np.uint64(0))
    return gm, em


GMASK, EMASK = _derive()


def check_scheme(scheme: str, kappa: int = 128) -> str:
    if scheme not in SCHEMES:
        raise ParameterError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    if scheme == "threehalves" and kappa != 128:
        raise ParameterError("scheme='threehalves' is implemented for kappa = 128 only: the "
                             "kappa = 256 hash (AES-256 keyed by the label) has no spare "
                             "output bit for the control bits here; use halfgates at kappa = 256 "
                             "(docs/garbling.md)")
    return scheme


def packed_size(m: int) -> int:
    """Bytes of ``m`` packed three-halves tables: ``24 m + ⌈5 m / 8⌉``."""
    return 24 * m + (5 * m + 7) // 8


def ands_in_packed(nbytes: int) -> int | None:
    """The ``m`` with ``packed_size(m) == nbytes``, or None if there is none."""
    m = (8 * nbytes) // 197
    for c in (m - 1, m, m + 1):
        if c >= 0 and packed_size(c) == nbytes:
            return c
    return None


def pack_tables(rows: np.ndarray) -> np.ndarray:
    """``(m, 4) uint64`` (or ``(m, 32) uint8``) rows to the packed wire bytes (uint8)."""
    r = np.ascontiguousarray(rows)
    if r.dtype == np.uint8:
        r = r.reshape(-1, 32).view(np.uint64)
    buf = np.empty(packed_size(r.shape[0]), np.uint8)
    _tk.pack(r, buf)
    return buf


def unpack_tables(buf, m: int | None = None, step: str = "garbled tables") -> np.ndarray:
    """Packed wire bytes to ``(m, 4) uint64`` rows; a wrong size or a set padding bit
    is a :class:`ProtocolError`."""
    raw = np.frombuffer(buf, np.uint8) if isinstance(buf, (bytes, bytearray, memoryview)) \
        else np.ascontiguousarray(buf, dtype=np.uint8).reshape(-1)
    if m is None:
        m = ands_in_packed(raw.size)
        if m is None:
            raise ProtocolError(f"{step}: {raw.size} bytes is not the packed size of any "
                                f"number of three-halves tables")
    elif raw.size != packed_size(m):
        raise ProtocolError(f"{step}: {m} three-halves tables are {packed_size(m)} bytes, "
                            f"got {raw.size}")
    rows = np.empty((m, ROW_WORDS), np.uint64)
    if not _tk.unpack(raw, rows):
        raise ProtocolError(f"{step}: padding bits after the control bits are not zero")
    if m and (rows[:, 3] >> np.uint64(5)).any():
        raise ProtocolError(f"{step}: malformed control bits")
    return rows


class RandomBits:
    """The garbler's R$ bits: a secret AES key, two bits per AND from a counter PRF."""

    _DOMAIN = np.uint64(0x7468726565686C66)  # distinguishes these blocks from any other use

    def __init__(self, rng):
        self._key = rng.bytes(16)

    def words(self, k0: int, k1: int) -> tuple[np.ndarray, int]:
        """(words covering ANDs ``[k0, k1)``, index of the first word = ``kbase``)."""
        b0, b1 = k0 >> 6, max(k1 - 1, k0) >> 6
        ctr = np.empty((b1 - b0 + 1, 2), np.uint64)
        ctr[:, 0] = np.arange(b0, b1 + 1, dtype=np.uint64)
        ctr[:, 1] = self._DOMAIN
        out = openssl_ecb(self._key, ctr.view(np.uint8).reshape(-1, 16))
        return out.view(np.uint64).reshape(-1), 2 * b0


def _permute(x: np.ndarray) -> np.ndarray:
    flat = np.ascontiguousarray(x).view(np.uint8).reshape(-1, 16)
    return openssl_ecb(DEFAULT_KEY, flat).view(np.uint64).reshape(x.shape)


def _check(sched: Schedule, g0, g1, lab, tables):
    n_gates = sched.op.shape[0]
    if not 0 <= g0 <= g1 <= n_gates:
        raise ParameterError(f"gate range [{g0}, {g1}) outside [0, {n_gates}]")
    _hg.check_label_table(sched, lab)
    if lab.shape[1] != 2:
        raise ParameterError("three-halves needs 128-bit labels")
    need = int(sched.and_before[g1] - sched.and_before[g0])
    if (not isinstance(tables, np.ndarray) or tables.dtype != np.uint64 or tables.ndim != 2
            or tables.shape[1] != ROW_WORDS or tables.shape[0] < need
            or not tables.flags.c_contiguous):
        raise ParameterError(f"tables must be a C-contiguous ({need}, 4) uint64 array")


def garble_range(backend, sched: Schedule, g0, g1, k0, lab, delta, tables, tweak_hi,
                 rand: RandomBits) -> None:
    """Garble scheduled gates ``[g0, g1)`` (three-halves); see :func:`pqmpc.gc.halfgates.garble_range`."""
    _check(sched, g0, g1, lab, tables)
    hi = _hg.check_hi(tweak_hi)
    n = int(sched.and_before[g1] - sched.and_before[g0])
    rbits, kbase = rand.words(k0, k0 + n)
    d0, d1 = np.uint64(delta[0]), np.uint64(delta[1])
    rk = _hg.round_keys()

    ua, ub, uo = _hg.unsigned(sched.ua), _hg.unsigned(sched.ub), _hg.unsigned(sched.out)

    def walk(s, e, row):
        _tk.garble_range(rk, sched.op, ua, ub, sched.umask, uo, s, e,
                         k0 + row, hi, lab, d0, d1, tables[row:], rbits, kbase)

    if HAVE_AESNI and backend == "fused":
        walk(g0, g1, 0)
        return
    for kind, s, e in _hg.levels_plan(sched, g0, g1):
        row = int(sched.and_before[s] - sched.and_before[g0])
        if kind == "walk":
            walk(s, e, row)
            continue
        x = np.empty((6, e - s, 2), np.uint64)
        _tk.level_garble_inputs(lab, sched.in0, sched.in1, s, e, d0, d1, x)
        p = _permute(x)
        _tk.level_add_tweaks(p, k0 + row, hi, 2, x)
        q = _permute(x)
        _tk.level_garble_finish(p, q, lab, sched.in0, sched.in1, sched.out, s, e, d0, d1, tables,
                                row, rbits, k0 + row, kbase)


def evaluate_range(backend, sched: Schedule, g0, g1, k0, lab, tables, tweak_hi) -> None:
    """Evaluate scheduled gates ``[g0, g1)`` (three-halves) on active labels ``lab``."""
    _check(sched, g0, g1, lab, tables)
    hi = _hg.check_hi(tweak_hi)
    rk = _hg.round_keys()

    ua, ub, uo = _hg.unsigned(sched.ua), _hg.unsigned(sched.ub), _hg.unsigned(sched.out)

    def walk(s, e, row):
        _tk.evaluate_range(rk, sched.op, ua, ub, uo, s, e, k0 + row, hi, lab, tables[row:])

    if HAVE_AESNI and backend == "fused":
        walk(g0, g1, 0)
        return
    for kind, s, e in _hg.levels_plan(sched, g0, g1):
        row = int(sched.and_before[s] - sched.and_before[g0])
        if kind == "walk":
            walk(s, e, row)
            continue
        x = np.empty((3, e - s, 2), np.uint64)
        _tk.level_eval_inputs(lab, sched.in0, sched.in1, s, e, x)
        p = _permute(x)
        _tk.level_add_tweaks(p, k0 + row, hi, 1, x)
        q = _permute(x)
        _tk.level_eval_finish(p, q, lab, sched.in0, sched.in1, sched.out, s, e, tables, row)
