"""The GFNI band transpose equals transpose_into on every bit (and falls back to it elsewhere)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.primitives.transpose_gfni import transpose128_into
from pqmpc.primitives.transpose_kernels import transpose_into


@settings(max_examples=25, deadline=None)
@given(bands=st.integers(1, 3), cols=st.integers(1, 9), seed=st.integers(0, 2**32 - 1))
def test_bands_equal_transpose_into(bands, cols, seed):
    rng = np.random.default_rng(seed)
    mat = rng.integers(0, 256, (128 * bands, 64 * cols), dtype=np.uint8)
    want = np.empty((8 * mat.shape[1], mat.shape[0] // 8), np.uint8)
    transpose_into(mat, want)
    got = np.full_like(want, 0xA5)
    transpose128_into(mat, got)
    assert np.array_equal(got, want)


@settings(max_examples=15, deadline=None)
@given(rows8=st.integers(1, 40), cb=st.integers(1, 100), seed=st.integers(0, 2**32 - 1))
def test_other_shapes_fall_back(rows8, cb, seed):
    rng = np.random.default_rng(seed)
    mat = rng.integers(0, 256, (8 * rows8, cb), dtype=np.uint8)
    want = np.empty((8 * cb, rows8), np.uint8)
    transpose_into(mat, want)
    got = np.empty_like(want)
    transpose128_into(mat, got)
    assert np.array_equal(got, want)


def test_single_bits_land_where_the_definition_says():
    """out[c, r // 8] bit r % 8 = mat[r, c // 8] bit c % 8, for a few lone bits."""
    for r, c in ((0, 0), (127, 511), (5, 300), (64, 7), (200, 1000)):
        mat = np.zeros((256, 128), np.uint8)
        mat[r, c // 8] = 1 << (c % 8)
        out = np.empty((1024, 32), np.uint8)
        transpose128_into(mat, out)
        expect = np.zeros_like(out)
        expect[c, r // 8] = 1 << (r % 8)
        assert np.array_equal(out, expect), (r, c)
