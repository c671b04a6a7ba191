"""NIST AES-256 CTR_DRBG (no df): checked against the PQC KAT seeds and an
independent block-by-block model of SP 800-90A."""

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import ParameterError
from pqmpc.lattice.drbg import CtrDrbg, kat_seeds

KAT_DIR = Path(__file__).resolve().parents[2] / "vectors" / "external" / "saber"


class ModelDrbg:
    """SP 800-90A 10.2.1 written the slow, literal way: one ECB block per counter."""

    def __init__(self, entropy, personalization=None):
        self.key, self.v = bytes(32), 0
        material = bytes(entropy)
        if personalization is not None:
            material = bytes(a ^ b for a, b in zip(material, personalization))
        self.update(material)

    def block(self):
        self.v = (self.v + 1) % (1 << 128)
        enc = Cipher(algorithms.AES256(self.key), modes.ECB()).encryptor()
        return enc.update(self.v.to_bytes(16, "big")) + enc.finalize()

    def update(self, provided):
        temp = b"".join(self.block() for _ in range(3))
        temp = bytes(a ^ b for a, b in zip(temp, provided))
        self.key, self.v = temp[:32], int.from_bytes(temp[32:], "big")

    def generate(self, n):
        out = b""
        while len(out) < n:
            out += self.block()
        self.update(bytes(48))
        return out[:n]


def _kat_records_seeds():
    text = (KAT_DIR / "Saber" / "PQCkemKAT_2304.first10.rsp").read_text()
    return [bytes.fromhex(line.split(" = ")[1]) for line in text.splitlines() if line.startswith("seed = ")]


def test_master_drbg_reproduces_kat_seeds():
    expected = _kat_records_seeds()
    assert len(expected) == 10
    assert kat_seeds(10) == expected


@settings(max_examples=40, deadline=None)
@given(
    entropy=st.binary(min_size=48, max_size=48),
    personal=st.none() | st.binary(min_size=48, max_size=48),
    sizes=st.lists(st.integers(0, 200), min_size=1, max_size=6),
)
def test_matches_literal_model(entropy, personal, sizes):
    fast, model = CtrDrbg(entropy, personal), ModelDrbg(entropy, personal)
    for n in sizes:
        assert fast.bytes(n) == model.generate(n)


def test_counter_wraps_at_2_128():
    # Force V to the top of the counter range: OpenSSL's CTR must wrap like the model.
    fast, model = CtrDrbg(bytes(48)), ModelDrbg(bytes(48))
    fast._v = b"\xff" * 15 + b"\xfe"
    model.v = (1 << 128) - 2
    model.key = fast._key
    assert fast.bytes(80) == model.generate(80)
    assert fast.bytes(33) == model.generate(33)


def test_calls_are_not_one_stream():
    a, b = CtrDrbg(bytes(range(48))), CtrDrbg(bytes(range(48)))
    assert a.bytes(16) + a.bytes(16) != b.bytes(32)
    assert a.randombytes(0) == b""


@pytest.mark.parametrize("bad", [b"", bytes(47), bytes(49)])
def test_bad_seed_length(bad):
    with pytest.raises(ParameterError):
        CtrDrbg(bad)


def test_bad_request():
    d = CtrDrbg(bytes(48))
    with pytest.raises(ParameterError):
        d.bytes(-1)
    with pytest.raises(ParameterError):
        d.bytes(1 << 17)
    with pytest.raises(ParameterError):
        CtrDrbg(bytes(48), bytes(10))
