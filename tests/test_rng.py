import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc import Rng
from pqmpc.errors import ParameterError


def test_same_seed_same_stream_and_chunking_does_not_matter():
    a, b = Rng(b"seed"), Rng(b"seed")
    assert a.bytes(100) == b.bytes(40) + b.bytes(60)
    assert Rng(b"seed").seeded and not Rng().seeded


def test_known_answer_is_aes256_ctr_of_the_seed():
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    seed = bytes(range(32))
    ks = Cipher(algorithms.AES(seed), modes.CTR(bytes(16))).encryptor().update(bytes(48))
    assert Rng(seed).bytes(48) == ks


def test_os_seeded_streams_differ():
    assert Rng().bytes(32) != Rng().bytes(32)


def test_shapes_and_ranges():
    r = Rng(b"x")
    assert r.blocks(5).shape == (5, 16) and r.blocks(3, 32).shape == (3, 32)
    bits = r.bits(10000)
    assert set(np.unique(bits)) <= {0, 1} and 4500 < bits.sum() < 5500
    ints = r.integers(20000, 7)
    assert ints.min() == 0 and ints.max() == 6
    assert abs(np.bincount(ints).astype(float) / 20000 - 1 / 7).max() < 0.02


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 300), st.integers(1, 1 << 62))
def test_integers_in_range(n, bound):
    v = Rng(b"i").integers(n, bound)
    assert v.shape == (n,) and (v.size == 0 or (v.min() >= 0 and v.max() < bound))


def test_fork_is_deterministic_and_distinct():
    a, b = Rng(b"s"), Rng(b"s")
    fa, fb = a.fork("x"), b.fork("x")
    assert fa.bytes(16) == fb.bytes(16)
    assert a.fork("x").bytes(16) != Rng(b"s").fork("x").bytes(16)  # a second fork differs


def test_bad_arguments():
    with pytest.raises(ParameterError):
        Rng(123)
    with pytest.raises(ParameterError):
        Rng.ensure("nope")
    with pytest.raises(ParameterError):
        Rng(b"x").integers(3, 0)
