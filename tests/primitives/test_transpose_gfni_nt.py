"""The streaming GFNI band transpose equals ``transpose_into`` at every 16-byte alignment of its
output and writes nothing outside it."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.primitives.transpose_gfni import HAVE_GFNI_ZMM
from pqmpc.primitives.transpose_kernels import transpose_into

pytestmark = pytest.mark.skipif(not HAVE_GFNI_ZMM, reason="needs AVX-512 VBMI + GFNI")


@settings(max_examples=30, deadline=None)
@given(j=st.integers(1, 9), shift=st.sampled_from([0, 16, 32, 48]), seed=st.integers(0, 2**32 - 1),
       sparse=st.booleans())
def test_stream_matches_transpose_into(j, shift, seed, sparse):
    from pqmpc.primitives.transpose_gfni_nt import transpose128_stream

    rng = np.random.default_rng(seed)
    mat = rng.integers(0, 256, (128, 64 * j), dtype=np.uint8)
    if sparse:  # single bits show a misplaced bit exactly
        mat = np.zeros_like(mat)
        mat[rng.integers(0, 128), rng.integers(0, 64 * j)] = 1 << int(rng.integers(0, 8))
    want = np.empty((512 * j, 16), np.uint8)
    transpose_into(mat, want)
    buf = np.full(512 * j * 16 + 128, 0xA5, np.uint8)
    off = (-buf.ctypes.data) % 64 + shift
    out = buf[off:off + 512 * j * 16].reshape(512 * j, 16)
    transpose128_stream(mat, out, np.empty((128, 64), np.uint8))
    np.testing.assert_array_equal(out, want)
    assert (buf[:off] == 0xA5).all() and (buf[off + 512 * j * 16:] == 0xA5).all()
