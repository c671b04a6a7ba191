import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc import Rng
from pqmpc.errors import ParameterError
from pqmpc.primitives import SeedExpander, gf128, pack_bits, prg_expand, transpose, unpack_bits


@pytest.mark.parametrize("width", [16, 32])
def test_seed_expander_continues_each_stream(width):
    seeds = Rng(b"s").blocks(5, width)
    e = SeedExpander(seeds)
    got = np.concatenate([e.next(7), e.next(0), e.next(33)], axis=1)
    for i in range(5):
        ref = Cipher(algorithms.AES(seeds[i].tobytes()), modes.CTR(bytes(16))).encryptor().update(bytes(40))
        assert got[i].tobytes() == ref
    assert np.array_equal(prg_expand(seeds, 40), got)


def test_seed_expander_rejects_bad_seeds():
    with pytest.raises(ParameterError):
        SeedExpander(np.zeros((2, 24), np.uint8))


def reference_transpose(m):
    bits = np.unpackbits(m, axis=1, bitorder="little")
    return np.packbits(bits.T, axis=1, bitorder="little")


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([8, 16, 128, 256]), st.integers(0, 70))
def test_transpose_matches_definition(rows, colbytes):
    m = Rng(b"t%d" % colbytes).array((rows, colbytes))
    assert np.array_equal(transpose(m), reference_transpose(m))


def test_transpose_is_an_involution_and_checks_rows():
    m = Rng(b"x").array((128, 64))
    assert np.array_equal(transpose(transpose(m)), m)
    with pytest.raises(ParameterError):
        transpose(np.zeros((7, 2), np.uint8))


def test_pack_bits_little_endian():
    assert pack_bits([1, 0, 0, 0, 0, 0, 0, 0, 0, 1]).tolist() == [1, 2]
    assert unpack_bits([1, 2], 10).tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]


def py_gf_mul(a: int, b: int) -> int:
    r = 0
    for i in range(128):
        if b >> i & 1:
            r ^= a << i
    for i in range(254, 127, -1):
        if r >> i & 1:
            r ^= (1 << i) | (0x87 << (i - 128))
    return r


def as_int(block) -> int:
    return int.from_bytes(block.tobytes(), "little")


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 40))
def test_gf128_matches_python_integers(n):
    rng = Rng(b"gf%d" % n)
    a, b = rng.blocks(n), rng.blocks(n)
    c = gf128.mul(a, b)
    assert c.shape == (n, 16)
    for i in range(n):
        assert as_int(c[i]) == py_gf_mul(as_int(a[i]), as_int(b[i]))


def test_gf128_field_laws():
    rng = Rng(b"laws")
    a, b, c = rng.blocks(64), rng.blocks(64), rng.blocks(64)
    one = np.zeros((64, 16), np.uint8)
    one[:, 0] = 1
    assert np.array_equal(gf128.mul(a, one), a)
    assert np.array_equal(gf128.mul(a, b), gf128.mul(b, a))
    assert np.array_equal(gf128.mul(a, b ^ c), gf128.mul(a, b) ^ gf128.mul(a, c))
    x = np.zeros((1, 16), np.uint8)
    x[0, 15] = 0x80  # x^127 * x = x^128 = x^7 + x^2 + x + 1
    xx = np.zeros((1, 16), np.uint8)
    xx[0, 0] = 2
    assert as_int(gf128.mul(x, xx)[0]) == 0x87
