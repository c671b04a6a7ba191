"""Post-quantum base OT from module learning with rounding (Saber arithmetic).

``SaberOT(variant, construction="np")`` — the Naor–Pinkas-style Mod-LWR OT of
Dong, Cui, Zhang, Yang and Yu, "A Simple Post-Quantum Oblivious Transfer
Protocol from Mod-LWR" (IACR ePrint 2024/1116). Taken from the paper and from
its published C++ code (RabbitCabbage/Saber-OT, ``emp-ot/saber/npsaber_v2.h``,
the paper's main protocol, read not copied): the shape of the protocol, the
Saber rounding ``Round_p(x) = ((x + h1) mod q) >> (eq - ep)``, the sender's
key bit (the top bit of ``v = b'^T s + h1 mod p``), the reconciliation hint
(the ``et`` bits below it) and the receiver's recovery
``((v' - hint·2^(ep-1-et) + h2) mod p) >> (ep - 1)`` with Saber's
``h1, h2``. Ours: the common reference string ``(A, r)`` is fresh per session, expanded with
SHAKE-128 from a coin-tossed session id (below); the 256 key bits are hashed with
SHAKE-256 together with the session id, the OT index and the branch into the
16- (or 32-) byte random-OT outputs; all n OTs are computed as one batched FFT
product, and the sender computes ``b`` while the receiver computes its vectors.

Messages of one run (after the handshake), ``A = GenMatrix(SHAKE-128(crs ‖ sid ‖
"A"))`` and ``r`` uniform in R_p^l from ``SHAKE-128(crs ‖ sid ‖ "r")``:

1. receiver → sender: ``SHA3-256(commit-tag ‖ seed_R)``, a commitment to its 32-byte
   random contribution;
2. sender → receiver: its 32-byte random contribution ``seed_S``;
3. receiver → sender: ``seed_R`` (the sender checks it opens the commitment);
   both set ``sid = SHA3-256(sid-tag ‖ variant ‖ n ‖ seed_R ‖ seed_S)``;
4. receiver → sender, choice ``x``: secret ``s'``; ``b'_x = Round_p(A^T s')``,
   ``b'_{1-x} = r - b'_x``; sends ``b'_0``;
5. sender → receiver: secret ``s``; ``b = Round_p(A s)``; for ``j = 0, 1`` with
   ``b'_1 = r - b'_0``: ``v_j = b'_j^T s + h1 mod p``, key ``k_j`` = top bit of
   each coefficient of ``v_j``, hint ``c_j`` = the next ``et`` bits; sends
   ``b ‖ c_0 ‖ c_1``; outputs ``m_j = H(sid, i, j, k_j)``; the receiver computes
   ``v' = b^T s' + h1 mod p``, recovers ``k_x`` from ``c_x`` and outputs
   ``m_x = H(sid, i, x, k_x)``.

Why the coin toss is ordered so: a receiver that could pick ``r`` would pick
``r = b'_0 + b'_1`` with secrets for both and learn both messages, so it is bound
to ``seed_R`` (hash commitment, hiding because ``seed_R`` is 32 random bytes)
before it sees ``seed_S``; the sender picks ``seed_S`` having seen only the
commitment, so neither party alone chooses ``A`` or ``r``, and every session has
its own CRS (no precomputation against one global ``A``; ``A``, ``r`` are
SHAKE outputs, so a party could at most grind, not choose).

LightSaber: ``64 + 640 n`` bytes from the receiver and ``32 + 832 n`` from the
sender, 1,472 B per random OT plus 96 B per batch (1,504 B per chosen-message OT,
as in the paper).

``SaberOT(variant, construction="mr")`` — Masny–Rindal (ePrint 2019/706)
endemic OT over Saber public keys ``b ∈ R_p^l`` under a shared ``A``, which form
a group under coefficient-wise addition mod p; the generic protocol is
:mod:`pqmpc.ot.base.mr19` and this module only supplies the key group.

Security (what pqmpc claims; we could read the authors' code but not the
paper's proofs): semi-honest security for both parties. Receiver privacy rests
on decision Mod-LWR — ``b'_x`` is indistinguishable from uniform, so ``b'_0``
hides ``x``; sender privacy on Mod-LWR with the output hash modelled as a
random oracle — the receiver, knowing no secret for ``r - b'_x``, cannot
predict ``k_{1-x}``. No protection against a malicious party is claimed.
Mod-LWR is believed hard for quantum computers, and SHAKE keeps a 128-bit
margin against Grover, so the OT is post-quantum (the random-oracle argument
is a classical-ROM one). Correctness fails with the probability of a
Saber-style decryption failure (negligible). Every received message is length-checked; all bit patterns of a correctly
sized message decode to in-range coefficients (10-bit and ``et``-bit packing),
so nothing else can be out of range. The arithmetic is data-independent numpy,
but Python cannot promise constant time.
"""

from __future__ import annotations

import abc
import hashlib

import numpy as np

from ...errors import ParameterError, ProtocolError
from ...lattice import saber as sab
from ...lattice import saber_poly as sp
from ...net import handshake
from ...params import LEVEL_128, SecurityLevel
from ...primitives.keccak import shake256
from ...rng import Rng
from ..interfaces import RandomOT, check_choices, check_count

PROTOCOL = "SaberOT"
#: 2: per-session coin-tossed CRS (version 1 used one fixed CRS per variant).
VERSION = 2
#: Each party's coin-toss contribution, the receiver's commitment and the session id.
SEED_BYTES = 32
# OTs per piece of work: about 40 MB of transient arrays with FireSaber.
_CHUNK = 2048
CONSTRUCTIONS = ("np", "mr")
_DOM_COMMIT = b"pqmpc/SaberOT/np/v2/commit"
_DOM_SID = b"pqmpc/SaberOT/np/v2/sid"
_DOM_CRS = b"pqmpc/SaberOT/np/v2/crs/"
_DOM_H = b"pqmpc/SaberOT/np/v2/H"
#: The Saber variant of each security level when the caller names none (the 256-bit
#: mode pairs FireSaber, NIST level 5 like ML-KEM-1024, with 32-byte outputs).
DEFAULT_VARIANT = {128: "LightSaber", 256: "FireSaber"}


def commitment(seed_r: bytes) -> bytes:
    """The receiver's hash commitment to its coin-toss contribution (SHA3-256)."""
    return hashlib.sha3_256(_DOM_COMMIT + bytes(seed_r)).digest()


def session_seed(variant: str, n: int, seed_r: bytes, seed_s: bytes) -> bytes:
    """Session id from both contributions; it seeds the CRS and the output hash."""
    name = sab.get_params(variant).name.encode()
    head = _DOM_SID + len(name).to_bytes(1, "little") + name + int(n).to_bytes(8, "little")
    return hashlib.sha3_256(head + bytes(seed_r) + bytes(seed_s)).digest()


def session_reference(variant: str, sid: bytes) -> tuple[np.ndarray, np.ndarray]:
    """``(A, r)`` of one session: ``A = GenMatrix(SHAKE-128(crs ‖ sid ‖ "A"))``, ``r``
    uniform in R_p^l from ``SHAKE-128(crs ‖ sid ‖ "r")`` (10-bit little-endian packing)."""
    params = sab.get_params(variant)
    seed_a = hashlib.shake_128(_DOM_CRS + bytes(sid) + b"A").digest(sab.SEED_BYTES)
    r_bytes = hashlib.shake_128(_DOM_CRS + bytes(sid) + b"r").digest(params.polyvec_p_bytes)
    r = sp.unpack(np.frombuffer(r_bytes, dtype=np.uint8).reshape(params.l, -1), sp.EP)
    return sab.gen_matrix(params, seed_a), r


def _derive_outputs(sid: bytes, index: np.ndarray, branch: np.ndarray, keys: np.ndarray, width: int) -> np.ndarray:
    """``H(sid, i, j, k)`` row by row: ``index``, ``branch`` ``(m,)``, ``keys`` ``(m, 256)`` bits."""
    n = keys.shape[0]
    prefix = _DOM_H + sid
    msgs = np.empty((n, len(prefix) + 8 + 1 + 32), dtype=np.uint8)
    msgs[:, :len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    msgs[:, len(prefix):len(prefix) + 8] = index.astype("<u8").view(np.uint8).reshape(n, 8)
    msgs[:, len(prefix) + 8] = branch
    msgs[:, len(prefix) + 9:] = sp.pack(keys, 1)
    return shake256(msgs, width)


def _chunks(n: int):
    """Batch slices; large batches are processed in pieces to bound memory."""
    return [(lo, min(n, lo + _CHUNK)) for lo in range(0, n, _CHUNK)]


def _round_p(x_f: np.ndarray) -> np.ndarray:
    return sp.round_q_to_p(sp.from_freq(x_f, sp.EQ))


class SaberOT(RandomOT):
    """Base OT from Saber arithmetic; ``construction`` picks the protocol.

    ``SaberOT(variant, "np")`` is a :class:`ModLwrOT` (Dong et al., ~1.5 kB/OT, the
    default), ``SaberOT(variant, "mr")`` a :class:`~pqmpc.ot.base.saber_mr.MR19SaberOT`
    (Masny–Rindal over Saber keys); both are ``SaberOT`` instances. ``variant``:
    ``"LightSaber"``, ``"Saber"`` or ``"FireSaber"``; ``level`` (a
    :class:`pqmpc.params.SecurityLevel`) sets the output width and, when no variant
    is named, the variant (LightSaber for κ = 128, FireSaber for κ = 256);
    ``block_bytes`` 32 (the 256-bit mode) needs FireSaber.
    """

    name = PROTOCOL
    block_bytes = 16
    construction = ""

    def __new__(cls, variant=None, construction="np", **kw):
        if cls is SaberOT:
            if construction not in CONSTRUCTIONS:
                raise ParameterError(f"unknown SaberOT construction {construction!r}; choose 'np' or 'mr'")
            if construction == "mr":
                from .saber_mr import MR19SaberOT

                cls = MR19SaberOT
            else:
                cls = ModLwrOT
        return super().__new__(cls)

    def __init__(self, variant: str | None = None, construction: str | None = None, *,
                 block_bytes: int | None = None, level: SecurityLevel | None = None):
        if construction is not None and construction != self.construction:
            raise ParameterError(f"{type(self).__name__} is the {self.construction!r} construction, "
                                 f"not {construction!r}")
        if level is not None and not isinstance(level, SecurityLevel):
            raise ParameterError(f"level must be a pqmpc.params.SecurityLevel, not {level!r}")
        if level is not None and block_bytes is not None and block_bytes != level.block_bytes:
            raise ParameterError(f"block_bytes={block_bytes} contradicts level {level.name}")
        kappa = (level or LEVEL_128).kappa
        self.params = sab.get_params(variant if variant is not None else DEFAULT_VARIANT[kappa])
        width = block_bytes if block_bytes is not None else (level or LEVEL_128).block_bytes
        if width not in (16, 32):
            raise ParameterError(f"block_bytes must be 16 or 32, not {width!r}")
        if width == 32 and self.params.name != "FireSaber":
            raise ParameterError("32-byte blocks (the 256-bit mode) need variant='FireSaber'")
        self.block_bytes = width

    @property
    def variant(self) -> str:
        return self.params.name

    def __repr__(self) -> str:
        return (f"SaberOT(variant={self.variant!r}, construction={self.construction!r}, "
                f"block_bytes={self.block_bytes})")

    def _handshake(self, ch, n: int, role: str, peer: str) -> None:
        handshake(ch, PROTOCOL, VERSION, {"variant": self.variant, "construction": self.construction, "n": n,
                                          "block_bytes": self.block_bytes}, role=role, peer_role=peer)

    @abc.abstractmethod
    def receiver_message_bytes(self, n: int) -> int:
        """Payload bytes the receiver sends for n random OTs (all its messages)."""

    @abc.abstractmethod
    def sender_message_bytes(self, n: int) -> int:
        """Payload bytes the sender sends for n random OTs (all its messages)."""


class ModLwrOT(SaberOT):
    """The Mod-LWR OT of Dong et al. with Saber parameters (``SaberOT(construction="np")``).

    See the module docstring for the protocol and its per-session CRS.
    """

    construction = "np"

    def receiver_message_bytes(self, n: int) -> int:
        return 2 * SEED_BYTES + n * self.params.polyvec_p_bytes

    def sender_message_bytes(self, n: int) -> int:
        return SEED_BYTES + n * (self.params.polyvec_p_bytes + 2 * self.params.scale_bytes)

    def send_random(self, ch, n, rng=None):
        n = check_count(n)
        rng = Rng.ensure(rng)
        self._handshake(ch, n, "sender", "receiver")
        p = self.params
        pvb = p.polyvec_p_bytes
        seed_s = rng.bytes(SEED_BYTES)
        coins = rng.array((n, p.l * p.coin_bytes))
        out = np.empty((n, pvb + 2 * p.scale_bytes), dtype=np.uint8)

        # Coin toss: our contribution goes out only once the receiver is bound to its own.
        commit = ch.recv_bytes(SEED_BYTES, f"{PROTOCOL} step 1 (receiver commitment)")
        ch.send(seed_s)
        step3 = f"{PROTOCOL} step 3 (receiver seed opening)"
        seed_r = ch.recv_bytes(SEED_BYTES, step3)
        if commitment(seed_r) != commit:
            raise ProtocolError(f"{step3}: the seed does not open the receiver's commitment")
        sid = session_seed(p.name, n, seed_r, seed_s)
        a, r = session_reference(p.name, sid)
        a_f = sab.matrix_freq(a)
        r_f = sp.to_freq(r, sp.EP)
        # b = Round_p(A s) and r^T s do not depend on the receiver's vectors: they are
        # computed while the receiver computes those.
        kept = {}
        for lo, hi in _chunks(n):
            s_f = sp.to_freq(sab.secrets_from_bytes(p, coins[lo:hi]))
            out[lo:hi, :pvb] = sp.pack(_round_p(sp.matvec_freq(a_f, s_f, transpose=False)), sp.EP).reshape(hi - lo, pvb)
            kept[lo] = (s_f, sp.inner_freq(r_f, s_f)) if n <= _CHUNK else None

        step4 = f"{PROTOCOL} step 4 (receiver vectors b'_0)"
        b0_all = ch.recv_array(np.uint8, (n, p.l, pvb // p.l), step4)

        m = np.empty((n, 2, self.block_bytes), dtype=np.uint8)
        keys = []
        for lo, hi in _chunks(n):
            if kept[lo] is None:  # large batches recompute rather than hold every transform
                s_f = sp.to_freq(sab.secrets_from_bytes(p, coins[lo:hi]))
                wr_f = sp.inner_freq(r_f, s_f)
            else:
                s_f, wr_f = kept[lo]
            # v_j = b'_j^T s + h1 with b'_1 = r - b'_0, so v_1 comes from r^T s - b'_0^T s.
            w_f = np.empty((hi - lo, 2, wr_f.shape[-1]), dtype=np.complex128)
            w_f[:, 0] = sp.inner_freq(sp.to_freq(sp.unpack(b0_all[lo:hi], sp.EP), sp.EP), s_f)
            np.subtract(wr_f, w_f[:, 0], out=w_f[:, 1])
            v = (sp.from_freq(w_f, sp.EP) + p.h1) & (sp.P - 1)  # (chunk, 2, 256)
            hints = (v >> (sp.EP - 1 - p.et)) & ((1 << p.et) - 1)
            out[lo:hi, pvb:] = sp.pack(hints, p.et).reshape(hi - lo, 2 * p.scale_bytes)
            keys.append((lo, hi, v >> (sp.EP - 1)))
        ch.send(out)

        for lo, hi, k in keys:
            idx = np.repeat(np.arange(lo, hi, dtype=np.uint64), 2)
            branch = np.tile(np.array([0, 1], dtype=np.uint8), hi - lo)
            m[lo:hi] = _derive_outputs(sid, idx, branch, k.reshape(2 * (hi - lo), sp.N),
                                       self.block_bytes).reshape(hi - lo, 2, self.block_bytes)
        return np.ascontiguousarray(m[:, 0]), np.ascontiguousarray(m[:, 1])

    def receive_random(self, ch, choices, rng=None):
        choices = check_choices(choices)
        n = choices.shape[0]
        rng = Rng.ensure(rng)
        self._handshake(ch, n, "receiver", "sender")
        p = self.params
        pvb = p.polyvec_p_bytes
        seed_r = rng.bytes(SEED_BYTES)
        coins = rng.array((n, p.l * p.coin_bytes))

        # Coin toss: we commit before seeing the sender's seed, so r is nobody's choice.
        ch.send(commitment(seed_r))
        seed_s = ch.recv_bytes(SEED_BYTES, f"{PROTOCOL} step 2 (sender seed)")
        ch.send(seed_r)
        sid = session_seed(p.name, n, seed_r, seed_s)
        a, r = session_reference(p.name, sid)
        a_f = sab.matrix_freq(a)

        b0_all = np.empty((n, pvb), dtype=np.uint8)
        kept = {}
        for lo, hi in _chunks(n):
            s_f = sp.to_freq(sab.secrets_from_bytes(p, coins[lo:hi]))
            bx = _round_p(sp.matvec_freq(a_f, s_f, transpose=True))
            b0p = np.where(choices[lo:hi, None, None].astype(bool), (r[None] - bx) & (sp.P - 1), bx)
            b0_all[lo:hi] = sp.pack(b0p, sp.EP).reshape(hi - lo, pvb)
            kept[lo] = s_f if n <= _CHUNK else None
        ch.send(b0_all)

        step5 = f"{PROTOCOL} step 5 (sender vector b and hints)"
        reply = ch.recv_array(np.uint8, (n, pvb + 2 * p.scale_bytes), step5)
        out = np.empty((n, self.block_bytes), dtype=np.uint8)
        for lo, hi in _chunks(n):
            s_f = kept[lo]
            if s_f is None:
                s_f = sp.to_freq(sab.secrets_from_bytes(p, coins[lo:hi]))
            c = choices[lo:hi]
            b = sp.unpack(reply[lo:hi, :pvb].reshape(hi - lo, p.l, pvb // p.l), sp.EP)
            hints = sp.unpack(reply[lo:hi, pvb:].reshape(hi - lo, 2, p.scale_bytes), p.et)
            hint = hints[np.arange(hi - lo), c]
            vp = (sp.from_freq(sp.inner_freq(sp.to_freq(b, sp.EP), s_f), sp.EP) + p.h1) & (sp.P - 1)
            keys = ((vp - (hint << (sp.EP - 1 - p.et)) + p.h2) & (sp.P - 1)) >> (sp.EP - 1)
            out[lo:hi] = _derive_outputs(sid, np.arange(lo, hi, dtype=np.uint64), c, keys, self.block_bytes)
        return out
