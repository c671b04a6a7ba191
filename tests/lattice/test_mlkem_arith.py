"""Unit and property tests of the ML-KEM building blocks (Keccak, NTT, codec, batches)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import ParameterError
from pqmpc.lattice import mlkem
from pqmpc.lattice import mlkem_keccak as kc
from pqmpc.lattice import mlkem_poly as poly

Q = poly.Q


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 400), st.integers(0, 3), st.integers(1, 400), st.randoms(use_true_random=False))
def test_keccak_matches_hashlib(length, rows, outlen, rnd):
    msgs = np.array([[rnd.randrange(256) for _ in range(length)] for _ in range(rows)], dtype=np.uint8).reshape(rows, length)
    for ours, ref in ((kc.sha3_256(msgs), hashlib.sha3_256), (kc.sha3_512(msgs), hashlib.sha3_512)):
        assert [r.tobytes() for r in ours] == [ref(m.tobytes()).digest() for m in msgs]
    assert [r.tobytes() for r in kc.shake128(msgs, outlen)] == [hashlib.shake_128(m.tobytes()).digest(outlen) for m in msgs]
    assert [r.tobytes() for r in kc.shake256(msgs, outlen)] == [hashlib.shake_256(m.tobytes()).digest(outlen) for m in msgs]


def test_sample_ntt_matches_spec_reading_of_shake():
    seed = np.arange(34, dtype=np.uint8).reshape(1, 34)
    stream = hashlib.shake_128(seed.tobytes()).digest(3 * 168 * 4)
    want = []
    for j in range(0, len(stream), 3):
        d1 = stream[j] | ((stream[j + 1] & 15) << 8)
        d2 = (stream[j + 1] >> 4) | (stream[j + 2] << 4)
        want += [x for x in (d1, d2) if x < Q]
    assert kc.xof_uniform_batch(seed, 256)[0].tolist() == want[:256]
    assert kc.xof_uniform_batch(seed, 700)[0].tolist() == want[:700]  # squeezes past the first blocks


def _spec_sample(row: bytes, ncoeffs: int) -> list[int]:
    stream = hashlib.shake_128(row).digest(168 * (ncoeffs // 56 + 8))
    out = []
    for j in range(0, len(stream), 3):
        d1 = stream[j] | ((stream[j + 1] & 15) << 8)
        d2 = (stream[j + 1] >> 4) | (stream[j + 2] << 4)
        out += [x for x in (d1, d2) if x < Q]
    return out[:ncoeffs]


@pytest.mark.parametrize("first_blocks", [None, 1, 2])
def test_sample_ntt_batch_with_short_first_squeeze(monkeypatch, first_blocks):
    # A short first squeeze sends (nearly) every row through the second pass with a
    # longer output; the rows must come out as from one unbounded SHAKE stream.
    if first_blocks is not None:
        monkeypatch.setattr(kc, "_first_blocks", lambda ncoeffs: first_blocks)
    rows = np.arange(37 * 34, dtype=np.uint32).astype(np.uint8).reshape(37, 34)
    rows[:, 0] = np.arange(37)
    for ncoeffs in (256, 768):
        got = kc.xof_uniform_batch(rows, ncoeffs)
        assert got.shape == (37, ncoeffs) and got.dtype == np.uint16
        for r in range(37):
            assert got[r].tolist() == _spec_sample(rows[r].tobytes(), ncoeffs), (ncoeffs, r)


def _negacyclic(a, b):
    full = np.convolve(a.astype(np.int64), b.astype(np.int64))
    res = full[:256].copy()
    res[: full.size - 256] -= full[256:]
    return res % Q


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_ntt_roundtrip_and_product(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, Q, (3, 256)).astype(np.uint16)
    b = rng.integers(0, Q, (3, 256)).astype(np.uint16)
    assert np.array_equal(poly.intt(poly.ntt(a)), a)
    assert poly.ntt(a).max() < Q
    for i in range(3):
        prod = poly.intt(poly.multiply_ntts(poly.ntt(a[i]), poly.ntt(b[i])))
        assert np.array_equal(prod, _negacyclic(a[i], b[i]))


def test_ntt_edge_values():
    for a in (np.zeros(256, np.uint16), np.full(256, Q - 1, np.uint16), np.eye(1, 256, 255, dtype=np.uint16)[0]):
        assert np.array_equal(poly.intt(poly.ntt(a)), a)
    one = np.eye(1, 256, 0, dtype=np.uint16)[0]
    assert np.all(poly.ntt(one) == np.tile([1, 0], 128))  # NTT(1) is the unit of the base-case ring


@pytest.mark.parametrize("d", [1, 4, 5, 10, 11, 12])
def test_codec_roundtrip_and_compress_error(d):
    rng = np.random.default_rng(d)
    f = rng.integers(0, min(1 << d, Q) if d == 12 else 1 << d, (2, 3, 256)).astype(np.uint16)
    enc = poly.byte_encode(f, d)
    assert enc.shape == (2, 3, 32 * d)
    assert np.array_equal(poly.byte_decode(enc, d), f)
    # Bit i of the encoding is bit (i mod d) of coefficient i // d, little-endian (FIPS 203 Alg. 5).
    bits = np.unpackbits(enc[0, 0], bitorder="little")
    assert all(bits[i] == (int(f[0, 0, i // d]) >> (i % d)) & 1 for i in range(0, 256 * d, 97))
    if d < 12:
        x = np.arange(Q, dtype=np.uint16)
        err = (poly.decompress(poly.compress(x, d), d).astype(np.int64) - x) % Q
        err = np.minimum(err, Q - err)
        assert err.max() <= round(Q / (1 << (d + 1)))


def test_byte_decode12_keeps_out_of_range_values():
    raw = np.full(384, 0xFF, np.uint8)
    assert poly.byte_decode(raw, 12).max() == 4095


def test_cbd_range_and_bounds():
    rng = np.random.default_rng(5)
    for eta in (2, 3):
        v = poly.cbd(rng.integers(0, 256, (50, 64 * eta), dtype=np.uint8), eta).astype(np.int64)
        centered = np.where(v > Q // 2, v - Q, v)
        assert centered.min() >= -eta and centered.max() <= eta
        assert centered.min() == -eta and centered.max() == eta


@pytest.mark.parametrize("variant", mlkem.VARIANTS)
def test_batch_equals_single_and_shared_rho_keys_work(variant):
    rng = np.random.default_rng(11)
    n = 5
    d, z, m = (rng.integers(0, 256, (n, 32), dtype=np.uint8) for _ in range(3))
    ek, dk = mlkem.keygen_batch(variant, d, z)
    for i in (0, n - 1):
        assert mlkem.keygen(variant, d[i].tobytes(), z[i].tobytes()) == (ek[i].tobytes(), dk[i].tobytes())
    key, c = mlkem.encaps_batch(variant, ek, m)
    assert mlkem.encaps(variant, ek[2].tobytes(), m[2].tobytes()) == (key[2].tobytes(), c[2].tobytes())
    assert np.array_equal(mlkem.decaps_batch(variant, dk, c), key)
    # A flipped ciphertext bit gives the implicit-rejection key J(z || c'), not K.
    c_bad = c.copy()
    c_bad[:, 0] ^= 1
    rej = mlkem.decaps_batch(variant, dk, c_bad)
    want = [hashlib.shake_256(z[i].tobytes() + c_bad[i].tobytes()).digest(32) for i in range(n)]
    assert [r.tobytes() for r in rej] == want
    rho = rng.integers(0, 256, 32, dtype=np.uint8)
    ek2, dk2, t_hat = mlkem.keygen_shared_rho(variant, rho, d, z)
    assert (ek2[:, -32:] == rho).all()
    assert np.array_equal(mlkem.split_ek(variant, ek2)[0], t_hat)
    key2, c2 = mlkem.encaps_batch(variant, ek2, m)
    assert np.array_equal(mlkem.decaps_batch(variant, dk2, c2), key2)
    # Empty batches are fine.
    e0, d0 = mlkem.keygen_batch(variant, np.zeros((0, 32), np.uint8), np.zeros((0, 32), np.uint8))
    assert e0.shape == (0, mlkem.PARAMS[variant].ek_bytes)
    assert mlkem.encaps_batch(variant, e0, np.zeros((0, 32), np.uint8))[1].shape[0] == 0


def test_key_group_and_hash_to_key():
    p = mlkem.PARAMS["ML-KEM-768"]
    rng = np.random.default_rng(3)
    a = mlkem.random_key(p, rng.integers(0, 256, (4, 32), dtype=np.uint8))
    b = mlkem.hash_to_key(p, rng.integers(0, 256, (4, 100), dtype=np.uint8))
    assert a.shape == b.shape == (4, 3, 256) and a.max() < Q and b.max() < Q
    assert np.array_equal(mlkem.key_add(mlkem.key_sub(a, b), b), a)
    inp = np.frombuffer(b"same input", np.uint8).reshape(1, -1)
    assert np.array_equal(mlkem.hash_to_key(p, inp), mlkem.hash_to_key(p, inp.copy()))
    # All residues appear, so nothing is lost by rejection sampling.
    big = mlkem.hash_to_key(p, np.arange(64, dtype=np.uint8).reshape(64, 1))
    assert np.unique(big).size == Q


def test_bad_arguments():
    with pytest.raises(ParameterError, match="unknown ML-KEM variant"):
        mlkem.get_params("Kyber-9000")
    with pytest.raises(ParameterError):
        mlkem.keygen("ML-KEM-768", bytes(31), bytes(32))
    ek, dk = mlkem.keygen("ML-KEM-512", bytes(32), bytes(32))
    with pytest.raises(ParameterError, match="hash check"):
        mlkem.decaps("ML-KEM-512", dk[:-64] + bytes(32) + dk[-32:], bytes(768))
    with pytest.raises(ParameterError):
        mlkem.decaps("ML-KEM-512", dk, bytes(767))
