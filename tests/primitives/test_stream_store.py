"""stream_copy: non-temporal middle, ordinary head and tail; every byte lands, nothing around it."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from pqmpc.primitives.stream_store import stream_copy


@njit
def _copy(src, dst):
    stream_copy(src, dst)


@settings(max_examples=60, deadline=None)
@given(off=st.integers(0, 130), n=st.integers(0, 700), seed=st.integers(0, 2**32 - 1))
def test_copy_any_alignment_and_length(off, n, seed):
    src = np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8)
    buf = np.full(off + n + 70, 0xA5, np.uint8)
    _copy(src, buf[off:off + n])
    assert np.array_equal(buf[off:off + n], src)
    assert (buf[:off] == 0xA5).all() and (buf[off + n:] == 0xA5).all()


def test_large_copy():
    src = np.random.default_rng(1).integers(0, 256, 1 << 20, dtype=np.uint8)
    dst = np.zeros((1 << 20) + 64, np.uint8)[5:5 + (1 << 20)]
    _copy(src, dst)
    assert np.array_equal(dst, src)
