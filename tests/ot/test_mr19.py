"""The generic Masny–Rindal layer: domain separation and the key-group contract."""

from __future__ import annotations

import numpy as np

from pqmpc.net import run_pair
from pqmpc.ot.base import mr19
from pqmpc.ot.base.kyber import MLKEMGroup
from pqmpc.rng import Rng


def test_session_id_binds_context_size_and_seed():
    base = mr19.session_id(b"ctx", 5, bytes(32))
    assert len(base) == 32
    assert mr19.session_id(b"ctx", 5, bytes(32)) == base
    others = {mr19.session_id(b"ctx2", 5, bytes(32)), mr19.session_id(b"ctx", 6, bytes(32)),
              mr19.session_id(b"ctx", 5, b"\x01" + bytes(31))}
    assert len(others) == 3 and base not in others


def test_kdf_separates_index_and_side():
    secrets = np.zeros((4, 32), np.uint8)  # same secret everywhere
    a = mr19.kdf(bytes(32), 0, secrets, 16)
    b = mr19.kdf(bytes(32), 1, secrets, 16)
    assert len({row.tobytes() for row in a}) == 4  # index separates
    assert not np.any(np.all(a == b, axis=1))     # side separates
    c = mr19.kdf(b"\x01" * 32, 0, secrets, 16)
    assert not np.any(np.all(a == c, axis=1))     # session separates
    assert mr19.kdf(bytes(32), np.array([0, 1, 0, 1], np.uint8), secrets, 32).shape == (4, 32)


class CountingGroup(MLKEMGroup):
    """The ML-KEM group, recording what the generic protocol asks of it."""

    def __init__(self):
        super().__init__("ML-KEM-512", "reference")
        self.calls = []

    def keygen(self, seed, n, rng):
        self.calls.append(("keygen", n))
        return super().keygen(seed, n, rng)

    def hash_to(self, rows):
        self.calls.append(("hash_to", rows.shape))
        return super().hash_to(rows)

    def encaps(self, seed, pk, rng):
        self.calls.append(("encaps", pk.shape[0]))
        return super().encaps(seed, pk, rng)


def test_generic_protocol_batches_every_group_call():
    g_send, g_recv = CountingGroup(), CountingGroup()
    n = 9
    choices = Rng(b"c").bits(n)
    (m0, m1), mb = run_pair(lambda ch: mr19.send_random(g_send, ch, n, Rng(b"s"), b"ctx", 16, "T"),
                            lambda ch: mr19.receive_random(g_recv, ch, choices, Rng(b"r"), b"ctx", 16, "T"))
    assert np.array_equal(mb, np.where(choices[:, None] == 1, m1, m0))
    head = 16 + 32 + 8 + 1
    assert g_recv.calls == [("keygen", n), ("hash_to", (n, head + g_recv.key_bytes))]
    assert g_send.calls == [("hash_to", (n, head + g_send.key_bytes))] * 2 + [("encaps", 2 * n)]


def test_receiver_message_hides_which_slot_is_real():
    # Both slots decode to in-range group elements whatever the choice; the real public
    # key is only recoverable as r_b + H(r_{1-b}), which needs the other slot.
    g = MLKEMGroup("ML-KEM-768")
    n = 16
    choices = Rng(b"c").bits(n)
    box = {}

    def sender(ch):
        box["msg"] = ch.recv()
        ch.close()

    try:
        run_pair(sender, lambda ch: mr19.receive_random(g, ch, choices, Rng(b"r"), b"ctx", 16, "T"), timeout=30)
    except Exception:
        pass
    keys = np.frombuffer(box["msg"][32:], np.uint8).reshape(n, 2, g.key_bytes)
    for j in (0, 1):
        assert g.decode(np.ascontiguousarray(keys[:, j]), "test").max() < 3329
