"""The fused κ = 256 random-OT hash pair behind pqmpc.ot.derive: hashing.tccr_wide's bytes on every row."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.ot import derive
from pqmpc.primitives.hashing import TAG_IKNP, tccr_wide
from pqmpc.primitives.tccr_wide_zmm import HAVE_WIDE_ZMM, PAIR_STEP, wide_pair_rows

STARTS = st.one_of(st.integers(0, 1 << 20), st.integers((1 << 64) - 40, (1 << 64) - 1))
TAGS = st.sampled_from([0, 7, TAG_IKNP, (1 << 63) - 1])


def _tweaks(start: int, n: int) -> np.ndarray:
    return np.arange(n, dtype=np.uint64) + np.uint64(start)  # wraps mod 2^64, as derive.tweak_range


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 45), start=STARTS, tag=TAGS, seed=st.integers(0, 2**32 - 1), in_place=st.booleans())
def test_random_ot_pair_equals_tccr_wide(n, start, tag, seed, in_place):
    """random_ot_from_cot on 32-byte rows (zmm pair steps plus the tail) gives OpenSSL AES-256's
    tccr_wide bytes for q and q ⊕ Δ, with the tweak counter wrapping past 2^64 and m0 aliasing q."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    delta = rng.integers(0, 256, 32, dtype=np.uint8)
    want0 = tccr_wide(x, _tweaks(start, n), tag=tag, backend="fallback")
    want1 = tccr_wide(x ^ delta, _tweaks(start, n), tag=tag, backend="fallback")
    q = x.copy()
    m0 = q if in_place else np.empty_like(x)
    m1 = np.empty_like(x)
    derive.random_ot_from_cot(q, delta, start, m0, m1, tag=tag)
    assert np.array_equal(m0, want0) and np.array_equal(m1, want1)


def test_pair_kernel_does_whole_steps_only():
    """The kernel stops at the last whole 8-row step and writes nothing past it."""
    if not HAVE_WIDE_ZMM:
        return
    rng = np.random.default_rng(1)
    n = 5 * PAIR_STEP + 3
    k = 5 * PAIR_STEP
    x = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    d = rng.integers(0, 256, 32, dtype=np.uint8)
    m0, m1 = np.zeros_like(x), np.zeros_like(x)
    assert wide_pair_rows(x, d, _tweaks(9, n), 7, m0, m1) == k
    assert np.array_equal(m0[:k], tccr_wide(x[:k], _tweaks(9, k), tag=7))
    assert np.array_equal(m1[:k], tccr_wide(x[:k] ^ d, _tweaks(9, k), tag=7))
    assert not m0[k:].any() and not m1[k:].any()


# Row counts around the kernels' step edges: no step, one, a few, and many, with and without a tail.
ROW_COUNTS = st.one_of(st.integers(0, 3 * 16 + 17), st.sampled_from([16 * 37, 16 * 37 + 9, 8 * 75 + 5]))


@settings(max_examples=40, deadline=None)
@given(n=ROW_COUNTS, start=STARTS, tag=TAGS, seed=st.integers(0, 2**32 - 1), in_place=st.booleans(),
       blocks=st.booleans())
def test_wide_zmm_loop_equals_openssl(n, start, tag, seed, in_place, blocks):
    """The 16-row zmm kernel behind tccr_wide gives OpenSSL AES-256's bytes on every whole step, with
    integer or block tweaks, also hashing in place, and leaves the tail rows alone."""
    if not HAVE_WIDE_ZMM:
        return
    from pqmpc.primitives.aes_unrolled import tccr_wide_zmm_loop

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    if blocks:  # (n, 2) tweak words, bit 127 clear
        tw = rng.integers(0, 1 << 63, (n, 2), dtype=np.uint64)
        want = tccr_wide(x, tw.view(np.uint8).reshape(n, 16), backend="fallback")
    else:
        tw = _tweaks(start, n)
        want = tccr_wide(x, tw, tag=tag, backend="fallback")
    k = n - n % 16
    out = x.copy() if in_place else np.zeros_like(x)
    before = out.copy()
    src = out if in_place else x
    assert tccr_wide_zmm_loop(src.view(np.uint64), tw, out.view(np.uint64), np.uint64(0 if blocks else tag)) == k
    assert np.array_equal(out[:k], want[:k])
    assert np.array_equal(out[k:], before[k:])


@settings(max_examples=25, deadline=None)
@given(n=ROW_COUNTS, start=STARTS, tag=TAGS, seed=st.integers(0, 2**32 - 1))
def test_pair_kernel_in_place_over_many_groups(n, start, tag, seed):
    """wide_pair_rows with m0 aliasing q over many 8-row steps: no row is overwritten before it is read."""
    if not HAVE_WIDE_ZMM:
        return
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    delta = rng.integers(0, 256, 32, dtype=np.uint8)
    want0 = tccr_wide(x, _tweaks(start, n), tag=tag, backend="fallback")
    want1 = tccr_wide(x ^ delta, _tweaks(start, n), tag=tag, backend="fallback")
    q, m1 = x.copy(), np.zeros_like(x)
    k = wide_pair_rows(q, delta, _tweaks(start, n), tag, q, m1)
    assert k == n - n % PAIR_STEP
    assert np.array_equal(q[:k], want0[:k]) and np.array_equal(m1[:k], want1[:k])
    assert np.array_equal(q[k:], x[k:]) and not m1[k:].any()
