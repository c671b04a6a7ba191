"""The generic Masny–Rindal layer: domain separation and the key-group contract."""

from __future__ import annotations

import numpy as np
import pytest

from pqmpc.errors import ChannelClosed
from pqmpc.lattice import mlkem_poly as poly
from pqmpc.net import Channel, run_pair
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


class CaptureChannel(Channel):
    """Keeps what a party sends and ends the run at its first receive."""

    def __init__(self):
        super().__init__()
        self.sent = []

    def _send_message(self, payload):
        self.sent.append(bytes(payload))

    def _recv_message(self):
        raise ChannelClosed("capture only")


def _receiver_keys(group, choices, seed):
    """The receiver's step-1 message (both slots of every OT), without a sender."""
    ch = CaptureChannel()
    with pytest.raises(ChannelClosed):
        mr19.receive_random(group, ch, choices, Rng(seed), b"ctx", 16, "T")
    (msg,) = ch.sent
    n = choices.shape[0]
    assert len(msg) == group.seed_bytes + 2 * n * group.key_bytes
    return msg[:group.seed_bytes], np.frombuffer(msg[group.seed_bytes:], np.uint8).reshape(n, 2, group.key_bytes)


def _binned(values, modulus, bins, low):
    """Bin index of each value: its top part (``low=False``) or its residue mod ``bins``,
    with the exact share of [0, modulus) that falls in each bin."""
    if low:
        idx = values % bins
        share = np.bincount(np.arange(modulus) % bins, minlength=bins) / modulus
    else:
        idx = values * bins // modulus
        share = np.bincount(np.arange(modulus) * bins // modulus, minlength=bins) / modulus
    return np.bincount(idx, minlength=bins), share


def _chi2_uniform(values, modulus, low=False, bins=32):
    """Chi-square statistic of ``values`` against the uniform law on [0, modulus)."""
    counts, share = _binned(values, modulus, bins, low)
    expected = values.size * share
    return float(((counts - expected) ** 2 / expected).sum())


def _chi2_same(a, b, modulus, low=False, bins=32):
    """Chi-square homogeneity statistic of two equally large samples."""
    ca, cb = _binned(a, modulus, bins, low)[0], _binned(b, modulus, bins, low)[0]
    keep = (ca + cb) > 0
    return float(((ca - cb)[keep] ** 2 / (ca + cb)[keep]).sum())


# 32 bins, 31 degrees of freedom: 80 is exceeded with probability ~3e-6 by chance
# (the seeds are fixed, so the test is deterministic either way).
CHI2_LIMIT = 80.0


def _groups():
    from pqmpc.lattice import saber as sab
    from pqmpc.ot.base.saber_mr import SaberKeyGroup

    return [("ML-KEM-768", lambda: MLKEMGroup("ML-KEM-768"), 3329),
            ("LightSaber", lambda: SaberKeyGroup(sab.get_params("LightSaber")), 1024)]


@pytest.mark.parametrize("name,make,modulus", _groups(), ids=lambda v: v if isinstance(v, str) else "")
def test_receiver_message_hides_which_slot_is_real(name, make, modulus):
    """The sender sees two group elements per OT: the real one (pk - H(other)) and a
    uniform decoy. Both must parse as valid elements, and neither their values nor
    their order may separate the real slot from the decoy."""
    g = make()
    n = 96
    choices = Rng(b"slot-choices").bits(n)
    seed, keys = _receiver_keys(g, choices, b"slot-r")
    if name.startswith("ML-KEM"):
        # Parse without the range check, so the assertion below is what tests validity.
        raw = poly.byte_decode(np.ascontiguousarray(keys).reshape(n, 2, 3, 384), 12).reshape(n, 2, -1)
    else:
        raw = np.stack([g.decode(np.ascontiguousarray(keys[:, j]), "t").reshape(n, -1) for j in (0, 1)], axis=1)
    assert raw.min() >= 0 and raw.max() < modulus, "a slot holds a value outside the group"
    rows = np.arange(n)
    real = raw[rows, choices].astype(np.int64)
    decoy = raw[rows, 1 - choices].astype(np.int64)
    # Each kind of slot is uniform on Z_modulus (high and low bits), and the two are alike.
    for low in (False, True):
        assert _chi2_uniform(real.ravel(), modulus, low) < CHI2_LIMIT, ("real", low)
        assert _chi2_uniform(decoy.ravel(), modulus, low) < CHI2_LIMIT, ("decoy", low)
        assert _chi2_same(real.ravel(), decoy.ravel(), modulus, low) < CHI2_LIMIT, ("real vs decoy", low)
    # A per-OT distinguisher (which slot has the larger mean coefficient) guesses the
    # choice no better than chance: within 4 standard deviations of n/2.
    guess = (raw[:, 1].mean(axis=1) > raw[:, 0].mean(axis=1)).astype(np.uint8)
    assert abs(int((guess == choices).sum()) - n / 2) < 4 * np.sqrt(n) / 2
    # And the slots are in the order the protocol says: slot b_i is the one that
    # becomes the receiver's real key once the other slot is hashed in.
    sid = mr19.session_id(b"ctx", n, seed)
    rng = Rng(b"slot-r")
    rng.bytes(g.seed_bytes)
    pk, _ = g.keygen(seed, n, rng)
    elems = [g.decode(np.ascontiguousarray(keys[:, j]), "t") for j in (0, 1)]
    for j in (0, 1):
        rebuilt = g.add(elems[j], mr19.hash_to_key(g, sid, j, np.ascontiguousarray(keys[:, 1 - j])))
        same = np.all(rebuilt.reshape(n, -1) == pk.reshape(n, -1), axis=1)
        assert np.array_equal(same, choices == j)
