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
``h1, h2``. Ours: the common reference string ``(A, r)`` is a fixed public
value per variant, expanded with SHAKE-128 from a public label (no trapdoor
known to anyone); the 256 key bits are hashed with SHAKE-256 together with a
32-byte per-batch receiver nonce ``σ``, the OT index and the branch into the
16-byte random-OT outputs; all n OTs are computed as one batched FFT product,
and the sender computes ``b`` before the receiver's message arrives. One run,
with ``A = GenMatrix(seed_A)`` and a uniform ``r`` in R_p^l from the CRS:

1. receiver, choice ``x``: secret ``s'``; ``b'_x = Round_p(A^T s')``,
   ``b'_{1-x} = r - b'_x``; sends ``σ ‖ b'_0``.
2. sender: secret ``s``; ``b = Round_p(A s)``; for ``j = 0, 1`` with
   ``b'_1 = r - b'_0``: ``v_j = b'_j^T s + h1 mod p``, key ``k_j`` = top bit of
   each coefficient of ``v_j``, hint ``c_j`` = the next ``et`` bits; sends
   ``b ‖ c_0 ‖ c_1``; outputs ``m_j = H(σ, i, j, k_j)``.
3. receiver: ``v' = b^T s' + h1 mod p`` recovers ``k_x`` from ``c_x`` and
   outputs ``m_x = H(σ, i, x, k_x)``.

LightSaber: ``32 + 640 n`` bytes from the receiver and ``832 n`` from the
sender, 1,472 B per random OT (1,504 B per chosen-message OT, as in the paper).

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

import functools
import hashlib

import numpy as np

from ...errors import ParameterError
from ...lattice import saber as sab
from ...lattice import saber_poly as sp
from ...net import handshake
from ...primitives.keccak import shake256
from ...rng import Rng
from ..api import OT, check_choices, check_count

PROTOCOL = "SaberOT"
VERSION = 1
SIGMA_BYTES = 32
# OTs per piece of work: about 40 MB of transient arrays with FireSaber.
_CHUNK = 2048
CONSTRUCTIONS = ("np", "mr")
_DOM_CRS = b"pqmpc/SaberOT/np/crs/"
_DOM_H = b"pqmpc/SaberOT/np/H"


@functools.cache
def common_reference(variant: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(A, A in frequency form, r)`` of one variant: a public, fixed CRS.

    Both come from SHAKE-128 of a fixed public label, so nobody knows a
    trapdoor for ``A`` or a secret behind ``r`` (the paper's common reference
    string, "nothing up my sleeve"). Being fixed, it is computed once per
    process and lets the sender compute ``b`` before the receiver's message.
    """
    params = sab.get_params(variant)
    label = _DOM_CRS + params.name.encode()
    seed_a = hashlib.shake_128(label + b"/A").digest(sab.SEED_BYTES)
    a = sab.gen_matrix(params, seed_a)
    r_bytes = hashlib.shake_128(label + b"/r").digest(params.polyvec_p_bytes)
    r = sp.unpack(np.frombuffer(r_bytes, dtype=np.uint8).reshape(params.l, -1), sp.EP)
    a_f = sab.matrix_freq(a)
    for arr in (a, a_f, r):
        arr.setflags(write=False)
    return a, a_f, r


def _derive_outputs(sigma: bytes, index: np.ndarray, branch: np.ndarray, keys: np.ndarray, width: int) -> np.ndarray:
    """``H(σ, i, j, k)`` row by row: ``index``, ``branch`` ``(m,)``, ``keys`` ``(m, 256)`` bits."""
    n = keys.shape[0]
    prefix = _DOM_H + sigma
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


class SaberOT(OT):
    """Base OT from Mod-LWR with Saber parameters (see the module docstring).

    ``variant``: ``"LightSaber"`` (default), ``"Saber"`` or ``"FireSaber"``;
    ``construction``: ``"np"`` (Dong et al., default, ~1.5 kB/OT) or ``"mr"``
    (Masny–Rindal over Saber keys).
    """

    name = PROTOCOL
    block_bytes = 16

    def __init__(self, variant: str = "LightSaber", construction: str = "np"):
        self.params = sab.get_params(variant)
        if construction not in CONSTRUCTIONS:
            raise ParameterError(f"unknown SaberOT construction {construction!r}; choose 'np' or 'mr'")
        self.construction = construction
        self._mr = None
        if construction == "mr":
            from .saber_mr import make_mr

            self._mr = make_mr(self.params, self.block_bytes, PROTOCOL)

    @property
    def variant(self) -> str:
        return self.params.name

    def __repr__(self) -> str:
        return f"SaberOT(variant={self.variant!r}, construction={self.construction!r})"

    def _handshake(self, ch, n: int, role: str, peer: str) -> None:
        handshake(ch, PROTOCOL, VERSION, {"variant": self.variant, "construction": self.construction, "n": n},
                  role=role, peer_role=peer)

    # ------------------------------------------------------------------ sizes
    def receiver_message_bytes(self, n: int) -> int:
        if self._mr is not None:
            return self._mr.receiver_message_bytes(n)
        return SIGMA_BYTES + n * self.params.polyvec_p_bytes

    def sender_message_bytes(self, n: int) -> int:
        if self._mr is not None:
            return self._mr.sender_message_bytes(n)
        return n * (self.params.polyvec_p_bytes + 2 * self.params.scale_bytes)

    # ------------------------------------------------------------------ protocol
    def send_random(self, ch, n, rng=None):
        n = check_count(n)
        rng = Rng.ensure(rng)
        self._handshake(ch, n, "sender", "receiver")
        if self._mr is not None:
            return self._mr.send_random(ch, n, rng)
        p = self.params
        _, a_f, r = common_reference(p.name)
        pvb = p.polyvec_p_bytes
        coins = rng.array((n, p.l * p.coin_bytes))
        out = np.empty((n, self.sender_message_bytes(1)), dtype=np.uint8)
        # Everything that does not depend on the receiver's message (b = Round_p(A s)
        # and r^T s) is done before waiting for it, overlapping the receiver's work.
        kept = {}
        r_f = sp.to_freq(r, sp.EP)
        for lo, hi in _chunks(n):
            s_f = sp.to_freq(sab.secrets_from_bytes(p, coins[lo:hi]))
            out[lo:hi, :pvb] = sp.pack(_round_p(sp.matvec_freq(a_f, s_f, transpose=False)), sp.EP).reshape(hi - lo, pvb)
            kept[lo] = (s_f, sp.inner_freq(r_f, s_f)) if n <= _CHUNK else None

        step1 = f"{PROTOCOL} step 1 (receiver nonce and vectors b'_0)"
        msg = ch.recv_array(np.uint8, (self.receiver_message_bytes(n),), step1)
        sigma = msg[:SIGMA_BYTES].tobytes()
        b0_all = msg[SIGMA_BYTES:].reshape(n, p.l, pvb // p.l)

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
            m[lo:hi] = _derive_outputs(sigma, idx, branch, k.reshape(2 * (hi - lo), sp.N),
                                       self.block_bytes).reshape(hi - lo, 2, self.block_bytes)
        return np.ascontiguousarray(m[:, 0]), np.ascontiguousarray(m[:, 1])

    def receive_random(self, ch, choices, rng=None):
        choices = check_choices(choices)
        n = choices.shape[0]
        rng = Rng.ensure(rng)
        self._handshake(ch, n, "receiver", "sender")
        if self._mr is not None:
            return self._mr.receive_random(ch, choices, rng)
        p = self.params
        _, a_f, r = common_reference(p.name)
        pvb = p.polyvec_p_bytes
        sigma = rng.bytes(SIGMA_BYTES)
        coins = rng.array((n, p.l * p.coin_bytes))
        msg = np.empty(self.receiver_message_bytes(n), dtype=np.uint8)
        msg[:SIGMA_BYTES] = np.frombuffer(sigma, dtype=np.uint8)
        b0_all = msg[SIGMA_BYTES:].reshape(n, pvb)
        kept = {}
        for lo, hi in _chunks(n):
            s_f = sp.to_freq(sab.secrets_from_bytes(p, coins[lo:hi]))
            bx = _round_p(sp.matvec_freq(a_f, s_f, transpose=True))
            b0p = np.where(choices[lo:hi, None, None].astype(bool), (r[None] - bx) & (sp.P - 1), bx)
            b0_all[lo:hi] = sp.pack(b0p, sp.EP).reshape(hi - lo, pvb)
            kept[lo] = s_f if n <= _CHUNK else None
        ch.send(msg)

        step2 = f"{PROTOCOL} step 2 (sender vector b and hints)"
        reply = ch.recv_array(np.uint8, (n, pvb + 2 * p.scale_bytes), step2)
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
            out[lo:hi] = _derive_outputs(sigma, np.arange(lo, hi, dtype=np.uint64), c, keys, self.block_bytes)
        return out
