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
   expand it to challenges ``χ_j ∈ GF(2^κ)``;
3. the receiver sends ``x = Σ χ_j·r_j`` and ``t = Σ χ_j·t_j``;
4. the sender checks ``Σ χ_j·q_j = t + x·Δ`` and raises
   :class:`~pqmpc.errors.CheatingDetected` otherwise; the extra rows are
   dropped.

Coin toss (one extra flow each way): the sender commits to ``s_S`` (SHA3-256
of a 32-byte seed) in its call header; the receiver sends ``s_R`` in the clear
only after it has that commitment (just before its matrix), the sender opens
``s_S`` only after the whole matrix has arrived, and
``χ = PRG(SHAKE(s_S ‖ s_R ‖ call))``: uniform if either party is honest, and
unknown to the receiver while its rows were still open.

Fields: GF(2^128) of :mod:`pqmpc.primitives.gf128` (κ = 128, χ from AES-128-CTR)
and GF(2^256) of :mod:`pqmpc.primitives.gf256` (κ = 256, 32-byte rows and Δ,
χ from AES-256-CTR under a 32-byte SHAKE key).

Base OTs: a malicious extension is only as strong as its base OT. The bases
that qualify are listed in :func:`require_malicious_base`.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
from numba import njit

from ...errors import CheatingDetected, ParameterError, ProtocolError
from ...primitives import gf128, gf256
from ...primitives.aes_kernels import round_keys_many
from ...primitives.prg import MultiKeyCTR

#: Statistical padding: extra random rows beyond κ (KOS pad κ + s; s = 64 keeps rows byte aligned).
PAD_STAT = 64
SEED_BYTES = 32


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


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return gf128.gf128_dot_wide(a, b) if a.shape[1] == 16 else gf256.dot(a, b)


class Challenges:
    """The χ stream of one call (AES-CTR under a key from both coins), produced chunk by chunk
    so that each chunk's check runs while its rows are in cache. ``width``: 16 (χ ∈ GF(2^128),
    AES-128-CTR) or 32 (χ ∈ GF(2^256), AES-256-CTR)."""

    def __init__(self, seed_s: bytes, seed_r: bytes, label: bytes, width: int = 16):
        self.width = width
        field = _field(width)
        key = np.frombuffer(hashlib.shake_128(b"pqmpc/kos-chi/" + label + b"/" + seed_s + seed_r).digest(width),
                            dtype=np.uint8).reshape(1, width)
        self._ctr = MultiKeyCTR(key)
        # Fused path: χ made by AES-NI inside the multiply-accumulate kernel, never stored
        # (the same stream: it only advances this generator's position).
        fused = field.HAVE_CTR_DOT and self._ctr.backend == "numba+AES-NI"
        self._rk = round_keys_many(key)[0] if fused else None
        self._ctr_dot = field.ctr_dot

    def _fused(self, rows: np.ndarray, sel: np.ndarray | None) -> np.ndarray | None:
        """``Σ χ_j·rows_j ‖ ⊕_{sel_j} χ_j`` (2·width bytes) over the next challenges, or ``None`` where
        the fused kernel does not run (then the bulk path below gives the same values)."""
        w = self.width
        if self._rk is None or self._ctr.pos % w:
            return None
        out = self._ctr_dot(self._rk, self._ctr.pos // w, rows, sel)
        self._ctr.pos += w * rows.shape[0]
        return out

    def tile_args(self) -> tuple | None:
        """``(round_keys, first_block, acc)`` for a matrix kernel that adds ``Σ χ_j·q_j`` over the
        next rows into ``acc`` tile by tile while they are in cache (the KOS sender at κ = 128:
        :meth:`pqmpc.ot.ext.matrix.MatrixSender.recv_chunk_rows` with ``check=``), or ``None`` where
        the fused χ stream does not run. Nothing advances here: call :meth:`tiles_done` with the
        number of rows the kernel summed, and :meth:`tiles_sum` for their total."""
        if self._rk is None or self.width != 16 or self._ctr.pos % 16:
            return None
        if not hasattr(self, "_tile_acc"):
            self._tile_acc = np.zeros(4, dtype=np.uint64)
        return self._rk, self._ctr.pos // 16, self._tile_acc

    def tiles_done(self, c: int) -> None:
        self._ctr.pos += self.width * c

    def tiles_sum(self) -> np.ndarray:
        """The reduced ``(16,)`` total of what kernels added through :meth:`tile_args` (zero if none)."""
        acc = getattr(self, "_tile_acc", None)
        return np.zeros(self.width, dtype=np.uint8) if acc is None else gf128.fold_unreduced(acc)

    #: Rows per inner step: χ and the rows (2 × 128 KiB) stay in L2, so the check does not
    #: push the chunk's rows out of cache before they are hashed. The products are summed
    #: unreduced and folded once per step (:func:`~pqmpc.primitives.gf128.gf128_dot_wide`).
    STEP = 8192

    def next(self, c: int) -> np.ndarray:
        """The next ``c`` challenges as ``(c, width)`` blocks."""
        return self._ctr.next(self.width * c).reshape(c, self.width)

    def _steps(self, m: int):
        bw = self.width
        if not hasattr(self, "_chi"):
            self._chi = np.empty((self.STEP, bw), dtype=np.uint8)
        for a in range(0, m, self.STEP):
            w = min(self.STEP, m - a)
            chi = self._chi[:w]
            self._ctr.next(bw * w, out=chi.reshape(1, bw * w))
            yield a, w, chi

    def _rows(self, rows: np.ndarray) -> None:
        if rows.shape[1] != self.width:
            raise ParameterError(f"the check's rows must be {self.width} bytes, not {rows.shape[1]}")

    def sender_sum(self, q: np.ndarray) -> np.ndarray:
        """``Σ χ_j·q_j`` over the next ``len(q)`` challenges, as one ``(width,)`` block."""
        self._rows(q)
        bw = self.width
        fused = self._fused(q, None)
        if fused is not None:
            return fused[:bw].copy()
        acc = np.zeros(bw, dtype=np.uint8)
        for a, w, chi in self._steps(q.shape[0]):
            acc ^= _dot(chi, q[a:a + w])
        return acc

    def sum_and_pick(self, w: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(Σ χ_j·w_j, ⊕_{j ∈ idx} χ_j)`` over the next ``len(w)`` challenges (``idx`` sorted,
        distinct): the receiver's side of the Ferret check, where ``idx`` are the punctured points."""
        if self.width != 16:
            raise ParameterError("the Ferret check runs in GF(2^128)")
        if self._rk is not None:
            sel = np.zeros(w.shape[0], dtype=np.uint8)
            sel[idx] = 1
            fused = self._fused(w, sel)
            if fused is not None:
                return fused[:16].copy(), fused[16:].copy()
        acc = np.zeros(16, dtype=np.uint8)
        picked = np.zeros(16, dtype=np.uint8)
        for a, c, chi in self._steps(w.shape[0]):
            acc ^= gf128.gf128_dot_wide(chi, w[a:a + c])
            lo, hi = np.searchsorted(idx, (a, a + c))
            if hi > lo:
                picked ^= np.bitwise_xor.reduce(chi[idx[lo:hi] - a], axis=0)
        return acc, picked

    def receiver_sums(self, t: np.ndarray, r: np.ndarray) -> np.ndarray:
        """``x ‖ t`` = ``Σ χ_j·r_j ‖ Σ χ_j·t_j`` over the next ``len(t)`` challenges, as 2·width bytes."""
        self._rows(t)
        bw = self.width
        fused = self._fused(t, r)
        if fused is not None:
            return np.concatenate([fused[bw:], fused[:bw]])
        acc = np.zeros(bw // 4, dtype=np.uint64)
        for a, w, chi in self._steps(t.shape[0]):
            _xor_selected(chi.view(np.uint64), r[a:a + w], acc[:bw // 8])
            acc[bw // 8:] ^= _dot(chi, t[a:a + w]).view(np.uint64)
        return acc.view(np.uint8)


@njit(cache=True, nogil=True)
def _xor_selected(chi, r, acc):
    for i in range(r.shape[0]):
        m = np.uint64(0) - np.uint64(r[i])  # all ones where r_i = 1: no branch on a secret bit
        for w in range(chi.shape[1]):
            acc[w] ^= chi[i, w] & m


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


__all__ = ["PAD_STAT", "SEED_BYTES", "Challenges", "pad_rows", "commit", "check_opening", "parse_hex",
           "verify_sums", "require_malicious_base", "pack_cots", "bits_to_block", "block_to_bits"]
