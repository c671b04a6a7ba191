"""The local linear code: kernels against an independent reference, and its shape."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc import Rng
from pqmpc.errors import ParameterError
from pqmpc.ot.ext.ferret_params import LPN_D
from pqmpc.ot.ext.lpn import LocalCode, pack_bits


def reference(code: LocalCode, start: int, x, u, v, bits):
    """``v ⊕ A·x`` and ``bits ⊕ A·u`` from the OpenSSL-computed positions, with numpy."""
    pos = code.row_positions(start, v.shape[0])
    out, ob = v.copy(), bits.copy()
    for j in range(LPN_D):
        out ^= x[pos[:, j]]
        ob ^= u[pos[:, j]]
    return out, ob


#: a code of 2^logk rows and inputs for ``m`` outputs from ``start`` (even: the kernels take row pairs)
CASES = dict(logk=st.integers(1, 14), start=st.integers(0, 5000), m=st.integers(0, 600),
             seed=st.binary(min_size=1, max_size=8))


def case(logk, start, m, seed):
    """``(start, code, x, u, v, bits)`` for one drawn case."""
    start, m, k = 2 * start, 2 * m, 1 << logk
    rng = Rng(seed)
    code = LocalCode(rng.bytes(16), k)
    return start, code, rng.blocks(k), rng.bits(k), rng.blocks(m), rng.bits(m)


@settings(max_examples=25, deadline=None)
@given(**CASES)
def test_kernels_match_reference(logk, start, m, seed):
    start, code, x, u, v, bits = case(logk, start, m, seed)
    want, want_bits = reference(code, start, x, u, v, bits)
    got = v.copy()
    code.add_encoded(start, x, got)
    assert np.array_equal(got, want)
    got2, got_bits = v.copy(), bits.copy()
    code.add_encoded_with_bits(start, x, u, got2, got_bits)
    assert np.array_equal(got2, want)
    assert np.array_equal(got_bits, want_bits)


@settings(max_examples=25, deadline=None)
@given(**CASES)
def test_lsb_kernels_match_reference(logk, start, m, seed):
    """The LSB-convention kernels: bit 0 of ``out`` replaced (0, or ``bits``) before ``A·x`` is added;
    with ``u`` in bit 0 of ``x`` the receiver's bits come out as ``bits ⊕ A·u``."""
    start, code, x, u, v, bits = case(logk, start, m, seed)
    x0 = x.copy()
    x0[:, 0] &= 0xFE
    v0 = v.copy()
    v0[:, 0] &= 0xFE
    want, _ = reference(code, start, x0, u, v0, bits)
    got = v.copy()
    code.add_encoded_lsb(start, x0, got)
    assert np.array_equal(got, want)
    assert not (got[:, 0] & 1).any()
    xu, vb = x0.copy(), v0.copy()
    xu[:, 0] |= u
    vb[:, 0] |= bits
    want, want_bits = reference(code, start, xu, u, vb, bits)
    got, got_bits = v.copy(), bits.copy()
    code.add_encoded_lsb_bits(start, xu, got, got_bits)
    assert np.array_equal(got, want)
    assert np.array_equal(got_bits, want_bits)
    assert np.array_equal(got_bits, got[:, 0] & 1)


def test_lsb_bits_shape_is_checked():
    code = LocalCode(bytes(16), 1 << 4)
    with pytest.raises(ParameterError, match="bits must be"):
        code.add_encoded_lsb_bits(0, np.zeros((16, 16), np.uint8), np.zeros((4, 16), np.uint8), np.zeros(3, np.uint8))


def test_rows_are_addressed_by_global_index():
    rng = Rng(b"lpn split")
    k = 1 << 10
    code = LocalCode(rng.bytes(16), k)
    x = rng.blocks(k)
    whole = np.zeros((1000, 16), np.uint8)
    code.add_encoded(0, x, whole)
    parts = np.zeros((1000, 16), np.uint8)
    code.add_encoded(600, x, parts[600:])
    code.add_encoded(0, x, parts[:600])
    assert np.array_equal(whole, parts)


def test_positions_in_range_and_spread():
    k = 1 << 12
    code = LocalCode(bytes(range(16)), k)
    pos = code.row_positions(0, 40000)
    assert pos.shape == (40000, LPN_D) and pos.min() >= 0 and pos.max() < k
    counts = np.bincount(pos.ravel(), minlength=k)
    # 400,000 draws into 4096 cells: mean ~97.7, sd ~9.9; a bias would show far outside this.
    assert 60 < counts.min() and counts.max() < 140
    assert np.isclose(counts.mean(), 40000 * LPN_D / k)


def test_different_seeds_give_different_codes():
    a = LocalCode(bytes(16), 1 << 16).row_positions(0, 100)
    b = LocalCode(bytes(15) + b"\x01", 1 << 16).row_positions(0, 100)
    assert not np.array_equal(a, b)


def test_encoding_is_linear():
    rng = Rng(b"lpn linear")
    k = 1 << 8
    code = LocalCode(rng.bytes(16), k)
    x1, x2 = rng.blocks(k), rng.blocks(k)
    y1, y2, y12 = (np.zeros((256, 16), np.uint8) for _ in range(3))
    code.add_encoded(2, x1, y1)
    code.add_encoded(2, x2, y2)
    code.add_encoded(2, x1 ^ x2, y12)
    assert np.array_equal(y1 ^ y2, y12)
    assert y1.any()


@pytest.mark.parametrize("bad", [dict(seed=bytes(15)), dict(k=3), dict(k=0)])
def test_bad_code_parameters(bad):
    args = dict(seed=bytes(16), k=1 << 4) | bad
    with pytest.raises(ParameterError):
        LocalCode(**args)


def test_bad_call_shapes():
    code = LocalCode(bytes(16), 16)
    x = np.zeros((16, 16), np.uint8)
    with pytest.raises(ParameterError):
        code.add_encoded(1, x, np.zeros((4, 16), np.uint8))
    with pytest.raises(ParameterError):
        code.add_encoded(0, x, np.zeros((3, 16), np.uint8))
    with pytest.raises(ParameterError):
        code.add_encoded(0, np.zeros((8, 16), np.uint8), np.zeros((4, 16), np.uint8))
    with pytest.raises(ParameterError):
        code.add_encoded_with_bits(0, x, np.zeros(8, np.uint8), np.zeros((4, 16), np.uint8), np.zeros(4, np.uint8))
    with pytest.raises(ParameterError):  # a packed u of the wrong length (k = 16 packs into one word)
        code.add_encoded_with_bits(0, x, np.zeros(16, np.uint8), np.zeros((4, 16), np.uint8), np.zeros(4, np.uint8),
                                   packed_u=np.zeros(2, np.uint64))


@settings(max_examples=20, deadline=None)
@given(logk=st.integers(0, 13), seed=st.binary(min_size=1, max_size=8))
def test_pack_bits_matches_the_bytes(logk, seed):
    """Bit i of u at bit i % 64 of word i // 64 (k below 64 too), and encoding with it agrees with u's bytes."""
    k = 1 << logk
    rng = Rng(seed)
    u = rng.bits(k)
    words = pack_bits(u)
    assert words.shape == (-(-k // 64),) and words.dtype == np.uint64
    idx = np.arange(k)
    assert np.array_equal((words[idx // 64] >> (idx % 64).astype(np.uint64)) & np.uint64(1), u.astype(np.uint64))
    code = LocalCode(rng.bytes(16), k)
    x, v, bits = rng.blocks(k), rng.blocks(200), rng.bits(200)
    a, ab, b, bb = v.copy(), bits.copy(), v.copy(), bits.copy()
    code.add_encoded_with_bits(6, x, u, a, ab)
    code.add_encoded_with_bits(6, x, u, b, bb, packed_u=words)
    want, want_bits = reference(code, 6, x, u, v, bits)
    assert np.array_equal(a, want) and np.array_equal(b, want)
    assert np.array_equal(ab, want_bits) and np.array_equal(bb, want_bits)
