"""Masny–Rindal "endemic" OT over any KEM whose public keys form a group.

Construction (D. Masny and P. Rindal, "Endemic Oblivious Transfer", ACM CCS 2019,
ePrint 2019/706, the two-message OT from a KEM with a random-oracle "hash to
key" map).  One batch of n random OTs, receiver choice bits b:

1. receiver: a fresh public seed (ML-KEM's ρ), n real key pairs (pk_i, sk_i) under
   it, n uniform group elements r_{i,1−b_i}, and r_{i,b_i} = pk_i − H_{sid,i,b_i}(r_{i,1−b_i});
   sends ``seed ‖ (r_{i,0} ‖ r_{i,1})_i``;
2. sender: pk_{i,j} = r_{i,j} + H_{sid,i,j}(r_{i,1−j}) for j = 0, 1; encapsulates to
   both, (K_{i,j}, c_{i,j}); sends ``(c_{i,0} ‖ c_{i,1})_i``; outputs
   m_{i,j} = KDF(sid, i, j, K_{i,j});
3. receiver: K_i = Decaps(sk_i, c_{i,b_i}); outputs m_{i,b_i} = KDF(sid, i, b_i, K_i).

``sid`` is SHA3-256 of the caller's context (protocol, variant, n) and the seed,
so H and the KDF are domain-separated by session, OT index and side.

Security: the sender learns nothing about b because r_{i,0}, r_{i,1} are both
(computationally) uniform: one is truly uniform and the other is a public key
minus a hash, and public keys are pseudorandom (for ML-KEM under Module-LWE).
The receiver cannot decapsulate c_{i,1−b}: it knows no secret key for
r_{i,1−b} + H(r_{i,b}) because H is a random oracle it cannot steer, so that key
is a fresh public key for which the KEM's security (IND-CPA suffices; ML-KEM is
IND-CCA2) hides K.  Masny–Rindal prove this construction secure in their
simulation-based "endemic" model — against active adversaries, where a corrupted
party may choose its own outputs of the random OT — in the random-oracle model,
for a KEM whose keys look uniform and form a group.  We claim and test
semi-honest security only, and note that the proof is classical-ROM (the paper
gives no QROM analysis).  With a lattice KEM
(ML-KEM, Saber) and SHA-3 the construction is believed post-quantum.  Python
cannot promise constant time.

Every received message is length-checked and decoded by the group, which raises
:class:`ProtocolError` for out-of-range elements (e.g. ML-KEM coefficients ≥ q).

The key-group interface (:class:`KeyGroup`) is what a KEM must supply; elements
are numpy arrays whose first axis is the batch:

=====================================  ================================================
``seed_bytes``, ``key_bytes``          wire sizes: public seed (once per batch), one element
``ct_bytes``, ``secret_bytes``         ciphertext and shared-secret sizes
``keygen(seed, n, rng) -> (pk, sk)``   n key pairs under the public seed (pk: elements)
``random(n, rng) -> elems``            uniform elements
``hash_to(rows) -> elems``             random oracle from (n, L) uint8 rows into the group
``add(a, b)``, ``sub(a, b)``           the group law, element-wise over the batch
``encode(elems) -> (n, key_bytes)``    canonical bytes
``decode(buf, step) -> elems``         inverse of encode; ProtocolError naming ``step``
``encaps(seed, pk, rng) -> (K, ct)``   K (n, secret_bytes), ct (n, ct_bytes)
``decaps(sk, ct) -> K``                row i of ct with key i
=====================================  ================================================
"""

from __future__ import annotations

import abc

import numpy as np

from ...net import Channel
from ...primitives.keccak import sha3_256, shake256

_TAG_H = np.frombuffer(b"pqmpc/mr19/H\x00\x00\x00\x00", dtype=np.uint8)
_TAG_KDF = np.frombuffer(b"pqmpc/mr19/kdf\x00\x00", dtype=np.uint8)


class KeyGroup(abc.ABC):
    """A KEM whose public keys form a group (see the module docstring)."""

    seed_bytes: int
    key_bytes: int
    ct_bytes: int
    secret_bytes: int

    @abc.abstractmethod
    def keygen(self, seed: bytes, n: int, rng): ...

    @abc.abstractmethod
    def random(self, n: int, rng): ...

    @abc.abstractmethod
    def hash_to(self, rows: np.ndarray): ...

    @abc.abstractmethod
    def add(self, a, b): ...

    @abc.abstractmethod
    def sub(self, a, b): ...

    @abc.abstractmethod
    def encode(self, elems) -> np.ndarray: ...

    @abc.abstractmethod
    def decode(self, buf: np.ndarray, step: str): ...

    @abc.abstractmethod
    def encaps(self, seed: bytes, pk, rng) -> tuple[np.ndarray, np.ndarray]: ...

    @abc.abstractmethod
    def decaps(self, sk, ct: np.ndarray) -> np.ndarray: ...


def message_sizes(group: KeyGroup, n: int) -> tuple[int, int]:
    """Payload bytes (receiver → sender, sender → receiver) for n random OTs."""
    return group.seed_bytes + 2 * n * group.key_bytes, 2 * n * group.ct_bytes


def session_id(context: bytes, n: int, seed: bytes) -> bytes:
    head = b"pqmpc/mr19/sid" + len(context).to_bytes(4, "little") + context + int(n).to_bytes(8, "little")
    return sha3_256(np.frombuffer(head + seed, dtype=np.uint8).reshape(1, -1))[0].tobytes()


def _tagged_rows(tag: np.ndarray, sid: bytes, side, payload: np.ndarray) -> np.ndarray:
    """Rows tag ‖ sid ‖ index (u64 LE) ‖ side ‖ payload for every OT index."""
    n, width = payload.shape
    head = tag.size + 32 + 8 + 1
    rows = np.empty((n, head + width), dtype=np.uint8)
    rows[:, : tag.size] = tag
    rows[:, tag.size: tag.size + 32] = np.frombuffer(sid, dtype=np.uint8)
    rows[:, tag.size + 32: tag.size + 40] = np.arange(n, dtype="<u8").view(np.uint8).reshape(n, 8)
    rows[:, head - 1] = side
    rows[:, head:] = payload
    return rows


def hash_to_key(group: KeyGroup, sid: bytes, side, encoded: np.ndarray):
    """H_{sid,i,side}(encoded_i) for every OT index i: the random oracle into the group."""
    return group.hash_to(_tagged_rows(_TAG_H, sid, side, encoded))


def kdf(sid: bytes, side, secrets: np.ndarray, block_bytes: int) -> np.ndarray:
    """m_{i,side} = SHAKE-256(tag ‖ sid ‖ i ‖ side ‖ K_i) truncated to ``block_bytes``."""
    return shake256(_tagged_rows(_TAG_KDF, sid, side, np.ascontiguousarray(secrets, dtype=np.uint8)), block_bytes)


def _select(choices: np.ndarray, when1, when0):
    """Row-wise choice between two element arrays (same shape)."""
    mask = choices.reshape((-1,) + (1,) * (np.ndim(when1) - 1)).astype(bool)
    return np.where(mask, when1, when0)


def receive_random(group: KeyGroup, ch: Channel, choices: np.ndarray, rng, context: bytes, block_bytes: int,
                   name: str) -> np.ndarray:
    """Receiver side of n random OTs; ``choices`` is a checked (n,) 0/1 uint8 array."""
    n = choices.shape[0]
    seed = rng.bytes(group.seed_bytes)
    sid = session_id(context, n, seed)
    pk, sk = group.keygen(seed, n, rng)
    other = group.random(n, rng)
    other_enc = group.encode(other)
    own = group.sub(pk, hash_to_key(group, sid, choices, other_enc))
    own_enc = group.encode(own)
    msg = np.empty(group.seed_bytes + 2 * n * group.key_bytes, dtype=np.uint8)
    msg[: group.seed_bytes] = np.frombuffer(seed, dtype=np.uint8)
    keys = msg[group.seed_bytes:].reshape(n, 2, group.key_bytes)
    c1 = choices.astype(bool)[:, None]
    keys[:, 0] = np.where(c1, other_enc, own_enc)
    keys[:, 1] = np.where(c1, own_enc, other_enc)
    ch.send(msg)
    ct = ch.recv_array(np.uint8, (n, 2, group.ct_bytes), f"{name} step 2 (sender ciphertexts)")
    chosen = np.ascontiguousarray(ct[np.arange(n), choices])
    return kdf(sid, choices, group.decaps(sk, chosen), block_bytes)


def send_random(group: KeyGroup, ch: Channel, n: int, rng, context: bytes, block_bytes: int,
                name: str) -> tuple[np.ndarray, np.ndarray]:
    """Sender side of n random OTs → (m0, m1)."""
    step = f"{name} step 1 (receiver keys)"
    msg = ch.recv_array(np.uint8, (group.seed_bytes + 2 * n * group.key_bytes,), step)
    seed = msg[: group.seed_bytes].tobytes()
    sid = session_id(context, n, seed)
    keys = msg[group.seed_bytes:].reshape(n, 2, group.key_bytes)
    enc0 = np.ascontiguousarray(keys[:, 0])
    enc1 = np.ascontiguousarray(keys[:, 1])
    r0 = group.decode(enc0, step)
    r1 = group.decode(enc1, step)
    both = np.concatenate([hash_to_key(group, sid, 0, enc1), hash_to_key(group, sid, 1, enc0)])
    pk = group.add(np.concatenate([r0, r1]), both)
    secrets, ct = group.encaps(seed, pk, rng)
    out = np.empty((n, 2, group.ct_bytes), dtype=np.uint8)
    out[:, 0] = ct[:n]
    out[:, 1] = ct[n:]
    # Derive the outputs before sending: afterwards the receiver's thread (in-process
    # runs) competes for the GIL and this side would finish a switch interval later.
    m0 = kdf(sid, 0, secrets[:n], block_bytes)
    m1 = kdf(sid, 1, secrets[n:], block_bytes)
    ch.send(out)
    return m0, m1
