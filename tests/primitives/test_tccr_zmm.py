"""The zmm TCCR kernels behind pqmpc.ot.derive: the same bytes as hashing.tccr on every row."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.ot import derive
from pqmpc.primitives.hashing import TAG_IKNP, tccr
from pqmpc.primitives.tccr_zmm import HAVE_TCCR_ZMM, STEP, random_ot_rows, tccr_rows

STARTS = st.one_of(st.integers(0, 1 << 20), st.integers((1 << 64) - 40, (1 << 64) - 1))
TAGS = st.sampled_from([0, 7, TAG_IKNP, (1 << 63) - 1])


def _tweaks(start: int, n: int) -> np.ndarray:
    return np.arange(n, dtype=np.uint64) + np.uint64(start)  # wraps mod 2^64, as derive.tweak_range


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 70), start=STARTS, tag=TAGS, seed=st.integers(0, 2**32 - 1), in_place=st.booleans())
def test_derive_hashes_equal_tccr(n, start, tag, seed, in_place):
    """hash_rows and random_ot_from_cot (zmm steps plus the bulk tail) give tccr's bytes, with the
    tweak counter wrapping past 2^64 and m0 aliasing q."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    delta = rng.integers(0, 256, 16, dtype=np.uint8)
    want0 = tccr(x, _tweaks(start, n), tag=tag)
    want1 = tccr(x ^ delta, _tweaks(start, n), tag=tag)
    got = x.copy() if in_place else np.empty_like(x)
    derive.hash_rows(x.copy() if not in_place else got, start, out=got, tag=tag)
    assert np.array_equal(got, want0)
    q = x.copy()
    m0 = q if in_place else np.empty_like(x)
    m1 = np.empty_like(x)
    derive.random_ot_from_cot(q, delta, start, m0, m1, tag=tag)
    assert np.array_equal(m0, want0) and np.array_equal(m1, want1)


def test_kernels_do_whole_steps_only():
    """The kernels stop at the last whole 16-row step and write nothing past it."""
    if not HAVE_TCCR_ZMM:
        return
    rng = np.random.default_rng(1)
    n = 3 * STEP + 5
    x = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    out = np.zeros_like(x)
    assert tccr_rows(x, 9, 7, out) == 3 * STEP
    assert np.array_equal(out[:3 * STEP], tccr(x[:3 * STEP], _tweaks(9, 3 * STEP), tag=7))
    assert not out[3 * STEP:].any()
    m0, m1 = np.zeros_like(x), np.zeros_like(x)
    d = rng.integers(0, 256, 16, dtype=np.uint8)
    assert random_ot_rows(x, d, 9, 7, m0, m1) == 3 * STEP
    assert np.array_equal(m1[:3 * STEP], tccr(x[:3 * STEP] ^ d, _tweaks(9, 3 * STEP), tag=7))
    assert not m0[3 * STEP:].any() and not m1[3 * STEP:].any()


def _at(buf: np.ndarray, off: int, n: int) -> np.ndarray:
    """``n`` 16-byte rows starting ``off`` bytes past a 64-byte line of ``buf``."""
    base = (-buf.ctypes.data) % 64 + off
    return buf[base:base + 16 * n].view(np.uint8).reshape(n, 16)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 200), start=STARTS, tag=TAGS, seed=st.integers(0, 2**32 - 1),
       o0=st.sampled_from([0, 16, 32, 48]), o1=st.sampled_from([0, 16, 32, 48]), in_place=st.booleans())
def test_streaming_kernels_equal_tccr(n, start, tag, seed, o0, o1, in_place):
    """The non-temporal loops give tccr's bytes on their whole 16-row steps at every place of the rows
    in their 64-byte lines (m1 placed alike or not), in place too, and write nothing past the last step."""
    if not HAVE_TCCR_ZMM:
        return
    from pqmpc.primitives.tccr_zmm import hash_keys, pair_loop_nt, tccr_loop_nt

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    delta = rng.integers(0, 256, 16, dtype=np.uint8)
    stop = n - n % STEP
    want0 = tccr(x[:stop], _tweaks(start, stop), tag=tag)
    want1 = tccr(x[:stop] ^ delta, _tweaks(start, stop), tag=tag)
    b0, b1 = np.zeros(16 * n + 128, np.uint8), np.zeros(16 * n + 128, np.uint8)
    m0, m1 = _at(b0, o0, n), _at(b1, o1, n)
    src = m0 if in_place else x
    if in_place:
        m0[:] = x
    s, t = np.uint64(start % (1 << 64)), np.uint64(tag)
    assert tccr_loop_nt(hash_keys(), src.view(np.uint64), s, t, m0.view(np.uint64)) == stop
    assert np.array_equal(m0[:stop], want0)
    assert np.array_equal(m0[stop:], x[stop:] if in_place else np.zeros_like(x[stop:]))
    m0[:] = x if in_place else 0
    assert pair_loop_nt(hash_keys(), src.view(np.uint64), delta.view(np.uint64), s, t, m0.view(np.uint64),
                        m1.view(np.uint64)) == stop
    assert np.array_equal(m0[:stop], want0) and np.array_equal(m1[:stop], want1)
    assert not m1[stop:].any()
    assert np.array_equal(m0[stop:], x[stop:] if in_place else np.zeros_like(x[stop:]))
