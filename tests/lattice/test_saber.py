"""Saber arithmetic, packing, sampling and KEM behaviour beyond the KAT files."""

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import ParameterError
from pqmpc.lattice import saber
from pqmpc.lattice import saber_poly as sp
from pqmpc.rng import Rng


def schoolbook(a, b, mod):
    """Exact negacyclic product with Python integers (the slow reference)."""
    a, b = [int(x) for x in a], [int(x) for x in b]
    out = [0] * 256
    for i, x in enumerate(a):
        if x == 0:
            continue
        for j, y in enumerate(b):
            k = i + j
            if k < 256:
                out[k] += x * y
            else:
                out[k - 256] -= x * y
    return np.array([v % mod for v in out], dtype=np.int64)


def mul(a, b, bits):
    return sp.from_freq(sp.to_freq(np.asarray(a)) * sp.to_freq(np.asarray(b)), bits)


@settings(max_examples=15, deadline=None)
@given(seed=st.binary(min_size=8, max_size=8), bound=st.sampled_from([1, 5, 512, 4096]))
def test_product_matches_schoolbook(seed, bound):
    g = np.random.default_rng(int.from_bytes(seed, "little"))
    a = g.integers(-4096, 4096, 256)
    s = g.integers(-bound, bound + 1, 256)
    assert np.array_equal(mul(a, s, 13), schoolbook(a, s, 1 << 13))


@pytest.mark.parametrize("l", [2, 3, 4])
def test_worst_case_row_sum_is_exact(l):
    # Every coefficient at its bound: the largest sums any Saber product produces
    # (A centred in [-4096, 4096), secrets up to 5, and a full 13-bit secret in decaps).
    g = np.random.default_rng(l)
    for a_val, s_val in [(-4096, 5), (-4096, -4096), (1023, -4096)]:
        a = np.full((l, 256), a_val, dtype=np.int64)
        a[:, ::7] = -a_val if a_val != -4096 else 4095
        s = np.full((l, 256), s_val, dtype=np.int64)
        s[:, g.integers(0, 256, 5)] = -s_val if s_val != -4096 else 4095
        got = sp.from_freq(sp.inner_freq(sp.to_freq(a), sp.to_freq(s)), 13)
        want = sum(schoolbook(a[j], s[j], 1 << 40) for j in range(l)) % (1 << 13)
        assert np.array_equal(got, want)


@settings(max_examples=25, deadline=None)
@given(width=st.sampled_from([1, 3, 4, 6, 10, 13]), seed=st.integers(0, 2**32), batch=st.integers(0, 3))
def test_pack_roundtrip_and_bit_order(width, seed, batch):
    g = np.random.default_rng(seed)
    c = g.integers(0, 1 << width, (batch, 256))
    packed = sp.pack(c, width)
    assert packed.shape == (batch, 256 * width // 8)
    assert np.array_equal(sp.unpack(packed, width), c)
    if batch:
        # Bit i of coefficient j sits at stream bit width*j + i, little-endian.
        stream = int.from_bytes(packed[0].tobytes(), "little")
        for j in (0, 1, 255):
            assert (stream >> (width * j)) & ((1 << width) - 1) == c[0, j]


@pytest.mark.parametrize("mu", [6, 8, 10])
def test_cbd_matches_bit_formula(mu):
    g = np.random.default_rng(mu)
    buf = g.integers(0, 256, mu * 32, dtype=np.uint8)
    got = sp.cbd(buf, mu)
    stream = int.from_bytes(buf.tobytes(), "little")
    h = mu // 2
    mask = (1 << h) - 1
    want = [bin((stream >> (mu * j)) & mask).count("1") - bin((stream >> (mu * j + h)) & mask).count("1")
            for j in range(256)]
    assert got.tolist() == want
    assert got.min() >= -h and got.max() <= h


def test_rounding_q_to_p():
    a = np.arange(1 << 13)
    r = sp.round_q_to_p(a)
    assert r.min() == 0 and r.max() == 1023
    assert np.array_equal(r, ((a + 4) % 8192) // 8)


@pytest.mark.parametrize("variant", list(saber.VARIANTS))
def test_roundtrip_and_sizes(variant):
    kem = saber.SaberKEM(variant)
    p = kem.params
    rng = Rng(b"saber roundtrip " + variant.encode())
    for _ in range(3):
        pk, sk = kem.keypair(rng)
        assert (len(pk), len(sk)) == (p.public_key_bytes, p.secret_key_bytes)
        ct, ss = kem.encaps(pk, rng)
        assert len(ct) == p.ciphertext_bytes and len(ss) == 32
        assert kem.decaps(sk, ct) == ss


@pytest.mark.parametrize("variant", list(saber.VARIANTS))
def test_implicit_rejection(variant):
    kem = saber.SaberKEM(variant)
    rng = Rng(b"reject")
    pk, sk = kem.keypair(rng)
    ct, ss = kem.encaps(pk, rng)
    for pos in (0, len(ct) // 2, len(ct) - 1):
        bad = bytearray(ct)
        bad[pos] ^= 0x01
        bad = bytes(bad)
        want = hashlib.sha3_256(sk[-32:] + hashlib.sha3_256(bad).digest()).digest()
        assert kem.decaps(sk, bad) == want != ss


def test_cpa_layer_roundtrip_many_messages():
    p = saber.LIGHTSABER
    rng = Rng(b"cpa")
    pk, sk = saber.cpa_keypair_derand(p, rng.bytes(32), rng.bytes(32))
    for _ in range(10):
        m = rng.bytes(32)
        assert saber.cpa_decrypt(p, sk, saber.cpa_encrypt_derand(p, m, rng.bytes(32), pk)) == m


def test_bad_arguments():
    kem = saber.SaberKEM("Saber")
    pk, sk = kem.keypair(Rng(b"x"))
    ct, _ = kem.encaps(pk, Rng(b"y"))
    with pytest.raises(ParameterError):
        saber.SaberKEM("Kyber")
    with pytest.raises(ParameterError):
        kem.encaps(pk[:-1])
    with pytest.raises(ParameterError):
        kem.decaps(sk, ct + b"\0")
    with pytest.raises(ParameterError):
        kem.decaps(sk[1:], ct)
    with pytest.raises(ParameterError):
        kem.keypair(rng=object())
    with pytest.raises(ParameterError):
        saber.keypair_derand(kem.params, bytes(31), bytes(32), bytes(32))
