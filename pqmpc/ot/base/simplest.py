"""Classical base OT over X25519 — a benchmark baseline, NOT post-quantum.

``SimplestOT()`` is the McQuoid–Rosulek–Roy OT ("Minimal Symmetric PAKE and
1-out-of-N OT from Programmable-Once Public Functions", CCS 2020, ePrint
2020/1043) over X25519 and its twist, the construction libOTe ships as
"McRosRoyTwist". It exists so that the post-quantum base OTs (``KyberOT``,
``SaberOT``) can be compared with a classical one measured in the same run.
Anyone with a large quantum computer recovers every choice bit and message
(discrete logarithms on Curve25519); use it for nothing else.

Why not Chou–Orlandi: ``cryptography`` offers X25519 key generation and
exchange on arbitrary u-coordinates but no point addition. The MRR OT needs
nothing more: the receiver *encodes* its public key with a
programmable-once public function (POPF) so that the encoding decodes to its
real key under its choice bit and to an unrelated random string under the
other bit.

One run of n OTs, one message each way (the two are independent, so both
parties send at once):

* sender: secret ``b``; sends ``B = X25519(b, 9) ‖ B' = X25519(b, G')``
  (``G'`` generates the twist's prime-order subgroup), 64 bytes in all.
* receiver, choice ``c`` for OT ``i``: a key ``A`` that looks like a uniform
  32-byte string (:mod:`.x25519_uniform`: curve or twist at random, random
  torsion point, random bit 255) with secret ``a``; a random ``r``; sends the
  two-round Feistel POPF encoding ``(s, T)``::

      T = A ⊕ H1(i, c, r)        s = r ⊕ H2(i, c, T)

  64 bytes per OT.
* sender, for ``j = 0, 1``: ``A_j = T ⊕ H1(i, j, s ⊕ H2(i, j, T))`` and
  ``m_j = KDF(B ‖ B', i, j, s ‖ T, X25519(b, A_j))``.
* receiver: ``m_c = KDF(B ‖ B', i, c, s ‖ T, X25519(a, B or B'))``.

H1, H2 and the KDF are SHAKE-256 with distinct domain tags, over all OTs
at once. ``A_{1-c}`` is a uniformly random string, so the sender cannot tell
the two branches apart; the receiver knows no secret for ``A_{1-c}`` and
would have to solve CDH on curve or twist to learn ``m_{1-c}``.

Security (semi-honest; the argument is ours, the papers' texts were not
available to check it against). Receiver privacy: for a uniform-looking A
and uniform r, ``T = A ⊕ H1(i, c, r)`` and ``s = r ⊕ H2(i, c, T)`` are
uniform whatever c is, so the encoding says nothing about c (random oracle
H1, H2; uniformity of A as stated in :mod:`.x25519_uniform`). Sender
privacy: the receiver can program only one branch — the other decodes
through random-oracle outputs it cannot steer — so it knows no secret for
``A_{1-c}``, and ``m_{1-c}`` stays hidden under CDH on Curve25519 and its
twist with the KDF as a random oracle. McQuoid–Rosulek–Roy prove OT from a
POPF with uniform-looking key agreement secure against malicious parties
(and "Batching Base Oblivious Transfers", ASIACRYPT 2021, ePrint 2021/682,
treats the curve-and-twist instantiation libOTe follows); we state that as
their result, not as a property we verified for this encoding. Received
values are checked: the sender's keys must be canonical (below p, bit 255
clear) and every exchange that yields the all-zero secret (a low-order
input) is rejected with :class:`~pqmpc.errors.ProtocolError`. X25519 in
OpenSSL is constant time; the Python around it (torsion arithmetic,
hashing, branching on the coins) is not, and Python cannot promise
constant time.

Cost: ``cryptography`` has no batch X25519, so there is one Python-level loop
over OTs around the OpenSSL calls (one key generation and one or two
exchanges for the receiver, two exchanges for the sender); hashing and
encoding are batched.
"""

from __future__ import annotations

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from ...errors import ParameterError, ProtocolError
from ...net import handshake
from ...params import LEVEL_128, SecurityLevel
from ...primitives.keccak import shake256
from ...rng import Rng
from ..interfaces import RandomOT, check_choices, check_count
from . import x25519_uniform as xu

PROTOCOL = "SimplestOT"
VERSION = 1
KEY_BYTES = 32
#: Receiver message per OT: the POPF encoding (s, T).
ENCODING_BYTES = 2 * KEY_BYTES
SENDER_BYTES = 2 * KEY_BYTES
_DOM_H1 = b"pqmpc/SimplestOT/v1/popf-H1"
_DOM_H2 = b"pqmpc/SimplestOT/v1/popf-H2"
_DOM_KDF = b"pqmpc/SimplestOT/v1/kdf"


def _rows(prefix: bytes, index: np.ndarray, branch: np.ndarray, *parts: np.ndarray) -> np.ndarray:
    """One hash input per row: ``prefix ‖ i (u64 LE) ‖ j (u8) ‖ parts...``."""
    n = index.shape[0]
    width = len(prefix) + 9 + sum(p.shape[1] for p in parts)
    rows = np.empty((n, width), dtype=np.uint8)
    rows[:, :len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    at = len(prefix)
    rows[:, at:at + 8] = index.astype("<u8").view(np.uint8).reshape(n, 8)
    rows[:, at + 8] = branch
    at += 9
    for p in parts:
        rows[:, at:at + p.shape[1]] = p
        at += p.shape[1]
    return rows


def popf_program(index: np.ndarray, choices: np.ndarray, values: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``(s, T)`` with ``popf_eval(.., choices) == values``: ``(n, 64)`` rows ``s ‖ T``."""
    t = values ^ shake256(_rows(_DOM_H1, index, choices, r), KEY_BYTES)
    s = r ^ shake256(_rows(_DOM_H2, index, choices, t), KEY_BYTES)
    return np.ascontiguousarray(np.concatenate([s, t], axis=1))


def popf_eval(index: np.ndarray, branch: np.ndarray, encoding: np.ndarray) -> np.ndarray:
    """The value an encoding ``s ‖ T`` decodes to under ``branch`` (one per row)."""
    s, t = encoding[:, :KEY_BYTES], encoding[:, KEY_BYTES:]
    r = s ^ shake256(_rows(_DOM_H2, index, branch, t), KEY_BYTES)
    return t ^ shake256(_rows(_DOM_H1, index, branch, r), KEY_BYTES)


def _kdf(sender_msg: bytes, index, branch, encoding, secrets, width: int) -> np.ndarray:
    n = index.shape[0]
    smsg = np.broadcast_to(np.frombuffer(sender_msg, dtype=np.uint8), (n, SENDER_BYTES))
    return shake256(_rows(_DOM_KDF, index, branch, smsg, encoding, secrets), width)


def _exchange(sk: X25519PrivateKey, u: bytes, step: str) -> bytes:
    try:
        return sk.exchange(X25519PublicKey.from_public_bytes(u))
    except ValueError:
        # OpenSSL refuses the all-zero shared secret of a low-order point.
        raise ProtocolError(f"{PROTOCOL} {step}: a public key is a low-order point (all-zero shared secret)") from None


class MRR20X25519OT(RandomOT):
    """Classical X25519 base OT (McQuoid–Rosulek–Roy 2020 with a Feistel POPF), for comparison only.

    Public alias: ``SimplestOT`` (the name it had first; it is not Chou–Orlandi's
    "simplest OT", see the module docstring). NOT post-quantum. ``block_bytes`` is
    16 (default) or 32 (the 256-bit mode's seed width), or taken from ``level`` (a
    :class:`pqmpc.params.SecurityLevel`); the outputs are KDF outputs of that length.
    """

    name = PROTOCOL
    post_quantum = False

    def __init__(self, block_bytes: int | None = None, *, level: SecurityLevel | None = None):
        if level is not None and not isinstance(level, SecurityLevel):
            raise ParameterError(f"level must be a pqmpc.params.SecurityLevel, not {level!r}")
        if level is not None and block_bytes is not None and block_bytes != level.block_bytes:
            raise ParameterError(f"block_bytes={block_bytes} contradicts level {level.name}")
        if block_bytes is None:
            block_bytes = (level or LEVEL_128).block_bytes
        if block_bytes not in (16, 32):
            raise ParameterError(f"SimplestOT block_bytes must be 16 or 32, not {block_bytes!r}")
        self.block_bytes = block_bytes

    def __repr__(self) -> str:
        return f"{type(self).__name__}(block_bytes={self.block_bytes})"

    def _handshake(self, ch, n: int, role: str, peer: str) -> None:
        handshake(ch, PROTOCOL, VERSION, {"n": n, "block_bytes": self.block_bytes, "curve": "X25519+twist",
                                          "popf": "feistel2"}, role=role, peer_role=peer)

    def send_random(self, ch, n, rng=None):
        n = check_count(n)
        rng = Rng.ensure(rng)
        self._handshake(ch, n, "sender", "receiver")
        sk = X25519PrivateKey.from_private_bytes(rng.bytes(KEY_BYTES))
        msg = sk.public_key().public_bytes_raw() + sk.exchange(xu.twist_generator_key())
        ch.send(msg)
        enc = ch.recv_array(np.uint8, (n, ENCODING_BYTES), f"{PROTOCOL} step 1 (receiver POPF encodings)")
        index = np.arange(n, dtype=np.uint64)
        secrets = np.empty((2, n, KEY_BYTES), dtype=np.uint8)
        step = "step 2 (decoded receiver keys)"
        for j in (0, 1):
            keys = popf_eval(index, np.full(n, j, dtype=np.uint8), enc)
            for i in range(n):
                secrets[j, i] = np.frombuffer(_exchange(sk, keys[i].tobytes(), step), dtype=np.uint8)
        m = [np.ascontiguousarray(_kdf(msg, index, np.full(n, j, dtype=np.uint8), enc, secrets[j], self.block_bytes))
             for j in (0, 1)]
        return m[0], m[1]

    def receive_random(self, ch, choices, rng=None):
        choices = check_choices(choices)
        n = choices.shape[0]
        rng = Rng.ensure(rng)
        self._handshake(ch, n, "receiver", "sender")
        scalars = rng.array((n, KEY_BYTES))
        coins = rng.array(n)
        r = rng.array((n, KEY_BYTES))
        keys, twist, pub = xu.uniform_keys(scalars, coins)
        index = np.arange(n, dtype=np.uint64)
        enc = popf_program(index, choices, pub, r)
        ch.send(enc)
        msg = ch.recv_bytes(SENDER_BYTES, f"{PROTOCOL} step 2 (sender public keys)")
        for part, what in ((msg[:KEY_BYTES], "curve key B"), (msg[KEY_BYTES:], "twist key B'")):
            if int.from_bytes(part, "little") >= xu.P:
                raise ProtocolError(f"{PROTOCOL} step 2 (sender public keys): {what} is not a canonical u-coordinate")
        b_curve = X25519PublicKey.from_public_bytes(msg[:KEY_BYTES])
        b_twist = X25519PublicKey.from_public_bytes(msg[KEY_BYTES:])
        secrets = np.empty((n, KEY_BYTES), dtype=np.uint8)
        for i in range(n):
            try:
                k = keys[i].exchange(b_twist if twist[i] else b_curve)
            except ValueError:
                raise ProtocolError(f"{PROTOCOL} step 2 (sender public keys): a sender key is a low-order point "
                                    "(all-zero shared secret)") from None
            secrets[i] = np.frombuffer(k, dtype=np.uint8)
        return np.ascontiguousarray(_kdf(msg, index, choices, enc, secrets, self.block_bytes))


#: The public name from API.md (kept: every caller and document uses it).
SimplestOT = MRR20X25519OT
