"""Bit-matrix transpose: tiled kernel against an unpack/pack reference, every edge case."""

import numpy as np
import pytest

from pqmpc.errors import ParameterError
from pqmpc.primitives import bits
from pqmpc.primitives.transpose_kernels import transpose_into


def reference(mat):
    full = np.unpackbits(mat, axis=1, bitorder="little")  # (rows, cols) 0/1
    return np.packbits(np.ascontiguousarray(full.T), axis=1, bitorder="little")


# Shapes hit every path: staged 64 x 64-byte blocks, 64-, 32- and 16-row tiles, 8-row and byte-column edges,
# and the 128-row scratch bands of tall inputs (rows > 1536) with each kind of remainder.
SHAPES = [(8, 1), (16, 16), (8, 16), (24, 17), (32, 16), (48, 32), (128, 16), (128, 1000), (136, 33), (256, 64),
          (40, 9), (0, 4), (16, 0), (1544, 2), (1552, 16), (2048, 20), (2080, 18), (2096, 16), (2104, 17),
          (64, 16), (96, 48), (112, 16), (120, 17), (3000 - 3000 % 8, 3),
          (192, 130), (200, 64), (104, 80), (64, 64), (128, 8192)]


@pytest.mark.parametrize("rows,cb", SHAPES)
def test_transpose_matches_reference(rows, cb):
    mat = np.random.default_rng(rows * 7 + cb).integers(0, 256, (rows, cb), dtype=np.uint8)
    out = bits.transpose(mat)
    assert out.shape == (8 * cb, rows // 8)
    assert np.array_equal(out, reference(mat))


@pytest.mark.parametrize("rows,cb", [(128, 48), (256, 32), (2048, 16)])
def test_transpose_round_trip(rows, cb):
    mat = np.random.default_rng(1).integers(0, 256, (rows, cb), dtype=np.uint8)
    assert np.array_equal(bits.transpose(bits.transpose(mat)), mat)


def test_single_bits_land_where_the_convention_says():
    # bit (r, c) of the input must become bit (c, r): (out[c, r // 8] >> (r % 8)) & 1
    rows, cols = 144, 272
    for r, c in [(0, 0), (0, 271), (143, 0), (143, 271), (17, 129), (128, 8), (9, 255)]:
        mat = np.zeros((rows, cols // 8), np.uint8)
        mat[r, c // 8] = 1 << (c % 8)
        out = bits.transpose(mat)
        assert (out[c, r // 8] >> (r % 8)) & 1 == 1
        assert int(np.unpackbits(out).sum()) == 1


def test_transpose_into_from_njit():
    from numba import njit

    @njit
    def twice(mat, tmp, back):
        transpose_into(mat, tmp)
        transpose_into(tmp, back)

    mat = np.random.default_rng(2).integers(0, 256, (32, 32), dtype=np.uint8)
    tmp = np.empty((256, 4), np.uint8)
    back = np.empty_like(mat)
    twice(mat, tmp, back)
    assert np.array_equal(back, mat) and np.array_equal(tmp, reference(mat))


def test_transpose_accepts_read_only_input():
    mat = np.random.default_rng(3).integers(0, 256, (64, 32), dtype=np.uint8)
    mat.setflags(write=False)
    assert np.array_equal(bits.transpose(mat), reference(mat))


def test_transpose_rejects_ragged_rows():
    with pytest.raises(ParameterError):
        bits.transpose(np.zeros((12, 2), np.uint8))
    with pytest.raises(ParameterError):
        bits.transpose(np.zeros(16, np.uint8))
