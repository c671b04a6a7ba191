"""The tree-by-tree group kernels: byte for byte the trees of spcot followed by the LSB encodings of lpn."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc import Rng
from pqmpc.errors import ParameterError
from pqmpc.ot.ext import ferret_fused, spcot
from pqmpc.ot.ext.lpn import LocalCode

pytestmark = pytest.mark.skipif(not ferret_fused.AVAILABLE, reason="the group kernels need AES-NI")


@settings(max_examples=20, deadline=None)
@given(logk=st.integers(1, 12), h=st.integers(1, 10), T=st.integers(0, 5), start=st.integers(0, 3000),
       seed=st.binary(min_size=1, max_size=8))
def test_groups_match_trees_then_encoding(logk, h, T, start, seed):
    rng = Rng(seed)
    k, first = 1 << logk, 2 * start
    code = LocalCode(rng.bytes(16), k)
    x = rng.blocks(k)
    x[:, 0] &= 0xFE
    seeds, delta = rng.blocks(T), rng.blocks(1)[0]
    v, k0 = spcot.sender_expand(seeds, delta, h)
    code.add_encoded_lsb(first, x, v)
    out = rng.blocks(T << h)  # garbage to be overwritten
    assert np.array_equal(ferret_fused.sender_group(code, first, x, seeds, delta, h, out), k0)
    assert np.array_equal(out, v)
    assert not (out[:, 0] & 1).any()

    xu = x.copy()
    xu[:, 0] |= rng.bits(k)
    kb, b = rng.blocks(T * h).reshape(T, h, 16), rng.bits(T * h).reshape(T, h)
    w, pos = spcot.receiver_expand(kb, b, h)
    bits = np.zeros(T << h, np.uint8)
    bits[(np.arange(T, dtype=np.int64) << h) + pos] = 1
    code.add_encoded_lsb_bits(first, xu, w, bits)
    out, got_bits = rng.blocks(T << h), rng.bits(T << h)
    assert np.array_equal(ferret_fused.receiver_group(code, first, xu, kb, b, h, out, got_bits), pos)
    assert np.array_equal(out, w)
    assert np.array_equal(got_bits, bits)
    assert np.array_equal(got_bits, out[:, 0] & 1)


def test_unaligned_output_is_written_correctly():
    # the non-temporal stores cover the 64-byte-aligned middle of each tree's rows; the rest is plain
    rng = Rng(b"unaligned")
    code, h, T = LocalCode(rng.bytes(16), 1 << 8), 6, 3
    x, seeds, delta = rng.blocks(1 << 8), rng.blocks(T), rng.blocks(1)[0]
    x[:, 0] &= 0xFE
    size = (T << h) * 16
    raw = np.zeros(size + 128, np.uint8)
    off = (16 - raw.ctypes.data) % 64 or 64  # 16 bytes past a line boundary
    out = raw[off:off + size].reshape(T << h, 16)
    assert out.ctypes.data % 64 == 16
    ferret_fused.sender_group(code, 4, x, seeds, delta, h, out)
    v, _ = spcot.sender_expand(seeds, delta, h)
    code.add_encoded_lsb(4, x, v)
    assert np.array_equal(out, v) and not raw[:off].any() and not raw[off + size:].any()


def test_bad_arguments():
    code = LocalCode(bytes(16), 1 << 6)
    x, seeds, delta = np.zeros((64, 16), np.uint8), np.zeros((2, 16), np.uint8), np.ones(16, np.uint8)
    with pytest.raises(ParameterError, match="first row must be even"):
        ferret_fused.sender_group(code, 1, x, seeds, delta, 4, np.zeros((32, 16), np.uint8))
    with pytest.raises(ParameterError, match="out must be"):
        ferret_fused.sender_group(code, 0, x, seeds, delta, 4, np.zeros((31, 16), np.uint8))
    with pytest.raises(ParameterError, match="x must be"):
        ferret_fused.sender_group(code, 0, x[:32], seeds, delta, 4, np.zeros((32, 16), np.uint8))
    with pytest.raises(ParameterError, match="bits must be"):
        ferret_fused.receiver_group(code, 0, x, np.zeros((2, 4, 16), np.uint8), np.zeros((2, 4), np.uint8), 4,
                                    np.zeros((32, 16), np.uint8), np.zeros(31, np.uint8))


@settings(max_examples=20, deadline=None)
@given(h=st.integers(1, 9), T=st.integers(0, 6), step=st.integers(1, 4), seed=st.binary(min_size=1, max_size=8))
def test_check_sums_over_steps_equal_one_call_over_the_group(h, T, step, seed):
    # the check passes feed the trees to Challenges a step at a time; the values must be those of one
    # call over the leaves of spcot, with the punctured points picked (any step size, T = 0 included)
    from pqmpc.ot.ext.check import Challenges

    rng = Rng(seed)
    seeds, delta = rng.blocks(T), rng.blocks(1)[0]
    coins = rng.bytes(16), rng.bytes(16)
    scratch = np.empty((step << h, 16), np.uint8)
    v, _ = spcot.sender_expand(seeds, delta, h)
    want = Challenges(*coins, b"g").sender_sum(v)
    assert np.array_equal(ferret_fused.sender_check_sum(Challenges(*coins, b"g"), seeds, delta, h, scratch), want)

    kb, b = rng.blocks(T * h).reshape(T, h, 16), rng.bits(T * h).reshape(T, h)
    w, pos = spcot.receiver_expand(kb, b, h)
    want = Challenges(*coins, b"g").sum_and_pick(w, (np.arange(T, dtype=np.int64) << h) + pos)
    got = ferret_fused.receiver_check_sums(Challenges(*coins, b"g"), kb, b, h, scratch)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])

    # with the first `early` trees handed out (and clobbered) once summed: same sums, every early
    # tree handed over exactly once, in order, with its own leaves and punctured position
    early = int(rng.bits(1)[0]) * T // 2 + (T > 0)
    seen = []

    def encode(a, leaves, p):
        assert np.array_equal(leaves, w[a << h:(a + p.shape[0]) << h]) and np.array_equal(p, pos[a:a + p.shape[0]])
        seen.extend(range(a, a + p.shape[0]))
        leaves[:] = 0

    got = ferret_fused.receiver_check_sums(Challenges(*coins, b"g"), kb, b, h, scratch, early, encode)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert seen == list(range(min(early, T)))


@settings(max_examples=15, deadline=None)
@given(logk=st.integers(1, 10), h=st.integers(1, 9), T=st.integers(0, 4), start=st.integers(0, 3000),
       seed=st.binary(min_size=1, max_size=8))
def test_encoding_expanded_leaves_matches_the_receiver_group(logk, h, T, start, seed):
    rng = Rng(seed)
    k, first = 1 << logk, 2 * start
    code = LocalCode(rng.bytes(16), k)
    x = rng.blocks(k)
    kb, b = rng.blocks(T * h).reshape(T, h, 16), rng.bits(T * h).reshape(T, h)
    out, bits = rng.blocks(T << h), rng.bits(T << h)
    pos = ferret_fused.receiver_group(code, first, x, kb, b, h, out, bits)
    leaves, pos2 = spcot.receiver_expand(kb, b, h)
    assert np.array_equal(pos, pos2)
    got, got_bits = rng.blocks(T << h), rng.bits(T << h)
    ferret_fused.receiver_encode_leaves(code, first, x, leaves, pos, h, got, got_bits)
    assert np.array_equal(got, out) and np.array_equal(got_bits, bits)


def test_sender_group_streams_the_raw_leaves_when_asked():
    rng = Rng(b"raw leaves")
    code, h, T = LocalCode(rng.bytes(16), 1 << 8), 6, 5
    x, seeds, delta = rng.blocks(1 << 8), rng.blocks(T), rng.blocks(1)[0]
    x[:, 0] &= 0xFE
    out, raw = rng.blocks(T << h), rng.blocks(T << h)
    plain = rng.blocks(T << h)
    k0 = ferret_fused.sender_group(code, 2, x, seeds, delta, h, out, raw)
    assert np.array_equal(k0, ferret_fused.sender_group(code, 2, x, seeds, delta, h, plain))
    v, _ = spcot.sender_expand(seeds, delta, h)
    assert np.array_equal(raw, v)  # before encoding and the LSB convention
    assert np.array_equal(out, plain)
    with pytest.raises(ParameterError, match="raw must be"):
        ferret_fused.sender_group(code, 2, x, seeds, delta, h, out, raw[1:])
    with pytest.raises(ParameterError, match="check scratch"):
        ferret_fused.sender_check_sum(None, seeds, delta, h, np.empty((1 << (h - 1), 16), np.uint8))
