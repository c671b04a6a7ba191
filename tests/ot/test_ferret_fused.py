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
@given(h=st.integers(1, 9), T=st.integers(0, 7), cuts=st.lists(st.integers(0, 7), max_size=3),
       step=st.sampled_from([1, 2, 3, 64]), seed=st.binary(min_size=1, max_size=8))
def test_receiver_check_sums_over_steps_and_segments_equal_one_call(h, T, cuts, step, seed):
    # the receiver's check pass feeds its trees to Challenges a step at a time, into the segments of
    # the group's destination; the values must be those of one call over the leaves of spcot, with
    # the punctured points picked, and the leaves must land in the segments (T = 0 and empty segments too)
    from pqmpc.ot.ext.check import Challenges

    rng = Rng(seed)
    kb, b = rng.blocks(T * h).reshape(T, h, 16), rng.bits(T * h).reshape(T, h)
    coins = rng.bytes(16), rng.bytes(16)
    w, pos = spcot.receiver_expand(kb, b, h)
    want = Challenges(*coins, b"g").sum_and_pick(w, (np.arange(T, dtype=np.int64) << h) + pos)
    bounds = [0, *sorted(min(c, T) for c in cuts), T]
    segments = [(hi - lo, rng.blocks((hi - lo) << h)) for lo, hi in zip(bounds, bounds[1:])]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ferret_fused, "CHECK_STEP_LEAVES", step << h)
        got = ferret_fused.receiver_check_sums(Challenges(*coins, b"g"), kb, b, h, segments)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1]) and np.array_equal(got[2], pos)
    assert np.array_equal(np.concatenate([x for _, x in segments]), w)
    with pytest.raises(ParameterError, match="segments"):
        ferret_fused.receiver_check_sums(Challenges(*coins, b"g"), kb, b, h, segments + [(1, rng.blocks(1 << h))])
