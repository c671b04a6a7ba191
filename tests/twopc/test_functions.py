"""Each ready-made function against its plain result (two threads, real OT)."""

import os
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import HandshakeError, ParameterError
from pqmpc.net import MemoryChannel, run_pair
from pqmpc.twopc import functions as F

sys.path.insert(0, str(Path(__file__).resolve().parent))  # helpers by bare name, package or not
from twopc_helpers import run_both

FAST = dict(ot="base")  # a few dozen input bits: ML-KEM OTs directly, no extension set-up


def both(f, a, b, **kw):
    return run_pair(lambda ch: f(ch, "garbler", a, **kw), lambda ch: f(ch, "evaluator", b, **kw), timeout=120)


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_millionaires(a, b):
    assert both(F.millionaires, a, b, **FAST) == (a < b, a < b)


def test_millionaires_edges_and_signed():
    assert both(F.millionaires, 7, 7, bits=3, **FAST) == (False, False)
    assert both(F.millionaires, 0, 1, bits=1, **FAST) == (True, True)
    assert both(F.millionaires, -3, 2, bits=8, signed=True, **FAST) == (True, True)
    assert both(F.millionaires, 2**64 - 1, 0, **FAST) == (False, False)


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_equality_integers(a, same):
    b = a if same else a ^ 1
    assert both(F.equality, a, b, bits=32, **FAST) == (same, same)


@pytest.mark.parametrize("a,b", [(b"x", b"x"), (b"", None), ("h\u00e9llo \u2603", "h\u00e9llo \u2603"),
                                 ("h\u00e9llo \u2603", "h\u00e9llo \u2604")])
def test_equality_strings(a, b):
    if b is None:
        with pytest.raises(ParameterError):
            F.equality(MemoryChannel.pair()[0], "garbler", a)
        return
    want = a == b
    assert both(F.equality, a, b, **FAST) == (want, want)


@settings(max_examples=5, deadline=None)
@given(st.integers(1, 20).flatmap(lambda n: st.tuples(st.binary(min_size=n, max_size=n),
                                                      st.binary(min_size=n, max_size=n))))
def test_hamming_bytes(pair):
    a, b = pair
    want = sum(bin(x ^ y).count("1") for x, y in zip(a, b))
    assert both(F.hamming_distance, a, b, **FAST) == (want, want)


def test_hamming_integers_and_length_mismatch():
    assert both(F.hamming_distance, 0, 2**64 - 1, **FAST) == (64, 64)
    res = run_both(lambda ch: F.hamming_distance(ch, "garbler", b"ab"),
                   lambda ch: F.hamming_distance(ch, "evaluator", b"abc"), MemoryChannel.pair(timeout=30))
    assert all(isinstance(r, HandshakeError) for r in res), res


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_sum_and_max(a, b):
    assert both(F.integer_sum, a, b, **FAST) == (a + b, a + b)
    assert both(F.integer_max, a, b, **FAST) == (max(a, b), max(a, b))


@settings(max_examples=5, deadline=None)
@given(st.integers(-2**15, 2**15 - 1), st.integers(-2**15, 2**15 - 1))
def test_signed_sum_and_max(a, b):
    assert both(F.integer_sum, a, b, bits=16, signed=True, **FAST) == (a + b, a + b)
    assert both(F.integer_max, a, b, bits=16, signed=True, **FAST) == (max(a, b), max(a, b))


def test_values_out_of_range_are_rejected_before_sending():
    ch, _ = MemoryChannel.pair()
    for call in (lambda: F.millionaires(ch, "garbler", 256, bits=8),
                 lambda: F.millionaires(ch, "garbler", -1),
                 lambda: F.integer_sum(ch, "garbler", 128, bits=8, signed=True),
                 lambda: F.millionaires(ch, "referee", 1),
                 lambda: F.millionaires(ch, "garbler", 1.5),
                 lambda: F.aes128(ch, "evaluator", b"\x00" * 17)):
        with pytest.raises(ParameterError):
            call()
    assert ch.stats.bytes_sent == 0


def openssl(key, pt):
    return Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(pt)


@pytest.mark.parametrize("key_owner", ["garbler", "evaluator"])
@pytest.mark.parametrize("blocks", [0, 1, 3])
def test_aes128_against_openssl(key_owner, blocks):
    key, pt = os.urandom(16), os.urandom(16 * blocks)
    g_in, e_in = (key, pt) if key_owner == "garbler" else (pt, key)
    r = both(F.aes128, g_in, e_in, key_owner=key_owner)
    assert r == (openssl(key, pt), openssl(key, pt))


def test_aes128_fips197_vector_only_to_plaintext_owner():
    key = bytes(range(16))
    pt = bytes.fromhex("00112233445566778899aabbccddeeff")
    r = both(F.aes128, key, pt, reveal="evaluator")
    assert r == (None, bytes.fromhex("69c4e0d86a7b0430d8cdb78070b4c55a"))
