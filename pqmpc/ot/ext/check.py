"""The KOS consistency check, shared by the actively secure OT extensions (KOS, malicious SoftSpoken).

After an extension the sender holds Δ and rows ``q_j``, the receiver rows
``t_j`` and bits ``r_j``; an honest run has ``q_j = t_j ⊕ r_j·Δ`` on every row.
A malicious receiver can instead make the rows agree with a different bit
per column (IKNP: an inconsistent U; SoftSpoken: a different u per block),
which turns later hashes into an oracle on bits of Δ. The check of
Keller–Orsini–Scholl (ePrint 2015/546) catches that except with
probability about 2^-(κ-bits guessed) (their Theorem 1):

1. the receiver extends ``m = n + κ + PAD_STAT`` rows, the last ``κ + PAD_STAT``
   with random bits, so the checked sums below reveal nothing about ``r``;
2. the parties toss coins for a seed once the receiver's rows are fixed and
   hash it to one element ``s ∈ GF(2^κ)``; row ``j`` is weighed with ``χ_j = s^(j+1)``;
3. the receiver sends ``x = Σ χ_j·r_j`` and ``t = Σ χ_j·t_j``;
4. the sender checks ``Σ χ_j·q_j = t + x·Δ`` and raises
   :class:`~pqmpc.errors.CheatingDetected` otherwise; the extra rows are
   dropped.

Coin toss (one extra flow each way): the sender commits to ``s_S`` (SHA3-256
of a 32-byte seed) in its call header; the receiver sends ``s_R`` in the clear
only after it has that commitment (just before its matrix), the sender opens
``s_S`` only after the whole matrix has arrived, and
``s = SHAKE-128(DOMAIN ‖ call ‖ "/" ‖ s_S ‖ s_R)`` (κ/8 bytes, the field's bit order): uniform
if either party is honest, and unknown to the receiver while its rows were still open.

Why powers of one element suffice (wire v3; KOS's χ were independent and uniform): the
soundness argument (KOS Thm 1; Roy, SoftSpokenOT, ePrint 2022/192, Sec. 4–5) uses the challenges
only through events ``Σ_j χ_j·w_j = c`` for a vector ``w ≠ 0`` of field elements fixed before the
coin (combinations of the receiver's committed columns). With ``χ_j = s^(j+1)`` that is a nonzero
polynomial in ``s`` of degree ≤ m hitting 0, which happens for at most m of the 2^κ choices of
``s``: the family is m·2^-κ-almost XOR-universal (emp-tool's ``uni_hash_coeff_gen`` is the same
family), and each 2^-κ term of the bound becomes m·2^-κ (2^-96 at m = 2^32, κ = 128). Privacy of
the receiver's bits needs the κ + 64 random pad rows to mask ``x = Σ χ_j·r_j``: the pad's χ
(consecutive powers ``s^(n+1) … s^(n+κ+64)``) span GF(2^κ) over GF(2) unless s lies in a proper
subfield, i.e. is a root of ``X^(2^(κ/2)) − X`` (probability ≤ 2^(κ/2)/2^κ); otherwise
``x`` is uniform given everything else.

Fields: GF(2^128) of :mod:`pqmpc.primitives.gf128` (κ = 128) and GF(2^256) of
:mod:`pqmpc.primitives.gf256` (κ = 256, 32-byte rows and Δ).

Base OTs: a malicious extension is only as strong as its base OT. The bases
that qualify are listed in :func:`require_malicious_base`.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np

from ...errors import CheatingDetected, ParameterError, ProtocolError
from ...primitives import gf128, gf256, gf_poly

#: Statistical padding: extra random rows beyond κ (KOS pad κ + s; s = 64 keeps rows byte aligned).
PAD_STAT = 64
SEED_BYTES = 32
#: SHAKE-128 domain of the challenge element ``s`` (wire v3 of KOS/SoftSpoken, v4 of Ferret; the AES-CTR
#: challenges before it used ``pqmpc/kos-chi/``).
DOMAIN = b"pqmpc/kos-poly/"
#: Rows per power table (16 KiB at κ = 128, 32 KiB at κ = 256: in L1 beside the rows streaming
#: through). Each block of that many rows ends in a fold and products by the running power; against
#: 256 / 512 rows, these tables took 0.93–0.95× (κ = 128) and 0.95–0.98× (κ = 256) of the time per
#: 2^20 rows, for 2–7 µs more per call to build them.
TABLE_ROWS = {16: 1024, 32: 1024}


def pad_rows(kappa: int) -> int:
    """Random rows appended to every malicious extension (dropped from the output)."""
    return kappa + PAD_STAT


def commit(seed: bytes) -> str:
    """Hash commitment to a 32-byte random seed (hiding: the seed has 256 bits of entropy)."""
    return hashlib.sha3_256(b"pqmpc/kos-coin/" + seed).hexdigest()


def check_opening(seed: bytes, commitment: str, step: str) -> None:
    if not hmac.compare_digest(commit(seed), commitment):
        raise CheatingDetected(f"{step}: the sender's coin does not match its commitment")


def parse_hex(value, nbytes: int, step: str) -> bytes:
    if not isinstance(value, str) or len(value) != 2 * nbytes:
        raise ProtocolError(f"{step}: expected {nbytes} bytes of hex, got {str(value)[:80]!r}")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ProtocolError(f"{step}: not hex: {value[:80]!r}") from None


def _field(width: int):
    if width not in (16, 32):
        raise ParameterError(f"the check runs in GF(2^128) or GF(2^256): rows of 16 or 32 bytes, not {width}")
    return gf128 if width == 16 else gf256


class Challenges:
    """The χ stream of one call: ``χ_j = s^(j+1)`` for one field element ``s`` from both coins, consumed
    row by row in order across calls (chunking never changes a sum), so that each chunk's check runs
    while its rows are in cache. ``width``: 16 (GF(2^128)) or 32 (GF(2^256)).

    One multiply-accumulate per row against a table of ``s, s^2, …, s^B`` and a running power
    (:mod:`pqmpc.primitives.gf_poly`); no block cipher."""

    def __init__(self, seed_s: bytes, seed_r: bytes, label: bytes, width: int = 16):
        self.width = width
        _field(width)
        s = np.frombuffer(hashlib.shake_128(DOMAIN + label + b"/" + seed_s + seed_r).digest(width), dtype=np.uint8)
        self._p = gf_poly.power_table(s, TABLE_ROWS[width])
        self._r = gf_poly.unit(width)  # s^pos: pos = rows consumed so far
        self._tile_acc = None

    def tile_args(self) -> tuple:
        """``(table, power, acc)`` for a matrix kernel that adds ``Σ χ_j·q_j`` over the next rows into
        ``acc`` (u64: the sum's ``width/8`` words, then as many unused) tile by tile while they are in
        cache (the KOS sender at κ = 128: :meth:`pqmpc.ot.ext.matrix.MatrixSender.recv_chunk_rows` with
        ``check=``; SoftSpoken's sender row kernels at both widths), through
        :data:`pqmpc.primitives.gf_poly.acc128` or ``acc256``, which advance ``power`` themselves.
        :meth:`tiles_sum` gives their total."""
        if self._tile_acc is None:
            self._tile_acc = np.zeros(self.width // 4, dtype=np.uint64)
        return self._p, self._r, self._tile_acc

    def tiles_sum(self) -> np.ndarray:
        """The ``(width,)`` total of what kernels added through :meth:`tile_args` (zero if none)."""
        acc = self._tile_acc
        return np.zeros(self.width, dtype=np.uint8) if acc is None else acc[:self.width // 8].view(np.uint8).copy()

    def next(self, c: int) -> np.ndarray:
        """The next ``c`` challenges as ``(c, width)`` blocks."""
        return gf_poly.powers_at(self._p, self._r, c)

    def _rows(self, rows: np.ndarray) -> None:
        if rows.ndim != 2 or rows.shape[1] != self.width:
            raise ParameterError(f"the check's rows must be {self.width} bytes, not {rows.shape[1:]}")

    def _sums(self, rows: np.ndarray, sel: np.ndarray | None) -> np.ndarray:
        out = np.zeros(2 * self.width, dtype=np.uint8)
        gf_poly.accumulate(self._p, self._r, rows, out, sel)
        return out

    def sender_sum(self, q: np.ndarray) -> np.ndarray:
        """``Σ χ_j·q_j`` over the next ``len(q)`` challenges, as one ``(width,)`` block."""
        self._rows(q)
        return self._sums(q, None)[:self.width].copy()

    def sum_and_pick(self, w: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(Σ χ_j·w_j, ⊕_{j ∈ idx} χ_j)`` over the next ``len(w)`` challenges (``idx`` sorted,
        distinct): the receiver's side of the Ferret check, where ``idx`` are the punctured points."""
        if self.width != 16:
            raise ParameterError("the Ferret check runs in GF(2^128)")
        self._rows(w)
        sel = np.zeros(w.shape[0], dtype=np.uint8)
        sel[idx] = 1
        out = self._sums(w, sel)
        return out[:16].copy(), out[16:].copy()

    def receiver_sums(self, t: np.ndarray, r: np.ndarray) -> np.ndarray:
        """``x ‖ t`` = ``Σ χ_j·r_j ‖ Σ χ_j·t_j`` over the next ``len(t)`` challenges, as 2·width bytes."""
        self._rows(t)
        out = self._sums(t, r)
        bw = self.width
        return np.concatenate([out[bw:], out[:bw]])


def verify_sums(qsum: np.ndarray, delta: np.ndarray, sums: np.ndarray, step: str) -> None:
    """The sender's test ``Σ χ_j·q_j == t + x·Δ`` (``sums`` = the receiver's ``x ‖ t``), else
    :class:`CheatingDetected`."""
    bw = delta.shape[0]
    x, t = sums[:bw].reshape(1, bw), sums[bw:2 * bw]
    got = t ^ _field(bw).mul(x, delta.reshape(1, bw))[0]
    if not hmac.compare_digest(qsum.tobytes(), got.tobytes()):
        raise CheatingDetected(f"{step}: the receiver's check values do not match its matrix "
                               "(a malformed extension matrix or check message)")


#: ``X^i`` for i < 128: ``Σ_i y_i·X^i`` packs 128 correlated OTs into one GF(2^128) correlation.
_POWERS = np.zeros((128, 16), dtype=np.uint8)
_POWERS[np.arange(128), np.arange(128) // 8] = 1 << (np.arange(128) % 8)


def pack_cots(rows: np.ndarray) -> np.ndarray:
    """``Σ_{i<128} rows_i·X^i`` as one ``(16,)`` block: 128 COTs ``(y_i, z_i = y_i ⊕ x_i·Δ)`` become
    one correlation ``Z = Y ⊕ x·Δ`` in GF(2^128), ``x`` the 128 choice bits read as a field element."""
    return gf128.gf128_dot_wide(_POWERS, rows)


def bits_to_block(bits: np.ndarray) -> np.ndarray:
    """128 bits (bit i → coefficient of X^i) as one ``(16,)`` block."""
    return np.packbits(bits.astype(np.uint8), bitorder="little")


def block_to_bits(block: np.ndarray) -> np.ndarray:
    return np.unpackbits(block, bitorder="little")


def require_malicious_base(base, protocol: str) -> None:
    """Refuse a base OT that is not secure against the adversary the extension is.

    Qualify: Masny–Rindal over ML-KEM (``KyberOT``) and over Saber keys
    (``SaberOT(construction="mr")``) — MR19 (ePrint 2019/706) prove their
    construction UC-secure against *malicious* parties for the endemic OT
    functionality in the random-oracle model, from a KEM whose public keys look
    uniform and that is IND-CPA; endemic OT lets a corrupt party pick its own
    outputs, which costs an extension nothing because its base-OT outputs are
    only ever used as random PRG seeds. ``SimplestOT`` (MRR20 over X25519) is
    actively secure too but classical only (no post-quantum security).
    Refused: the Mod-LWR OT (``SaberOT(construction="np")``), whose security
    is argued for semi-honest parties only, and any base of unknown standing.
    Also accepted: an actively secure OT extension (``security == "malicious"``:
    KOS, malicious SoftSpoken), e.g. as the bootstrap of a malicious Ferret.
    A third-party base OT declares itself with ``malicious_secure = True``.
    """
    ok = getattr(base, "malicious_secure", None)
    if ok is None and getattr(base, "security", None) == "malicious":
        ok = True  # an actively secure extension (KOS, SoftSpoken(security="malicious"))
    if ok is None:
        from ..base.kyber import MR19MlkemOT
        from ..base.saber_mr import MR19SaberOT
        from ..base.simplest import MRR20X25519OT

        ok = isinstance(base, (MR19MlkemOT, MR19SaberOT, MRR20X25519OT))
    if not ok:
        raise ParameterError(
            f"{protocol} with security='malicious' needs a base OT secure against malicious parties; "
            f"{type(base).__name__} is semi-honest only (use KyberOT, SaberOT(construction='mr') or, "
            "classically, SimplestOT)")


__all__ = ["DOMAIN", "PAD_STAT", "SEED_BYTES", "TABLE_ROWS", "Challenges", "pad_rows", "commit", "check_opening",
           "parse_hex", "verify_sums", "require_malicious_base", "pack_cots", "bits_to_block", "block_to_bits"]
