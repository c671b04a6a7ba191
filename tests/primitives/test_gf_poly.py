"""The polynomial-challenge kernels (``gf_poly``): Σ s^(j+1)·rows_j and ⊕_{sel} s^(j+1) equal the sums
of explicitly computed powers on every register width and the no-PCLMULQDQ path, whatever the
pieces the rows arrive in."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import ParameterError
from pqmpc.primitives import gf128, gf256, gf_poly

BACKENDS = ("auto", "ymm", "xmm", "fallback")


def _powers(s: np.ndarray, m: int, field) -> np.ndarray:
    out = np.empty((m, s.shape[0]), np.uint8)
    x = s.reshape(1, -1).copy()
    for j in range(m):
        out[j] = x[0]
        x = field.mul(x, s.reshape(1, -1))
    return out


@pytest.mark.parametrize("width", [16, 32])
@settings(max_examples=12, deadline=None)
@given(cuts=st.lists(st.integers(0, 600), min_size=1, max_size=4), table=st.sampled_from([1, 17, 64, 256, 1024]),
       seed=st.integers(0, 2**16))
def test_accumulate_is_the_sum_over_explicit_powers(width, cuts, table, seed):
    field = gf128 if width == 16 else gf256
    g = np.random.default_rng(seed)
    m = sum(cuts)
    s = g.integers(0, 256, width, dtype=np.uint8)
    rows = g.integers(0, 256, (m, width), dtype=np.uint8)
    sel = g.integers(0, 2, m).astype(np.uint8)
    chi = _powers(s, m, field)
    want = np.zeros(2 * width, np.uint8)
    if m:
        want[:width] = field.dot(chi, rows)
        want[width:] = np.bitwise_xor.reduce(chi * sel[:, None], axis=0)
    p = gf_poly.power_table(s, table)
    for backend in BACKENDS:
        r = gf_poly.unit(width)
        out = np.zeros(2 * width, np.uint8)
        a = 0
        for c in cuts:
            gf_poly.accumulate(p, r, rows[a:a + c], out, sel[a:a + c], backend=backend)
            a += c
        assert np.array_equal(out, want), backend
        if m:  # the running power ends at s^m
            assert np.array_equal(r.view(np.uint8), field.mul(chi[-1:], np.eye(1, width, dtype=np.uint8))[0])
        r2 = gf_poly.unit(width)
        only = np.zeros(2 * width, np.uint8)
        gf_poly.accumulate(p, r2, rows, only, backend=backend)  # no sel: the pick half stays zero
        assert np.array_equal(only[:width], want[:width]) and not only[width:].any()


@pytest.mark.parametrize("width", [16, 32])
def test_power_table_and_powers_at(width):
    field = gf128 if width == 16 else gf256
    s = np.arange(1, width + 1, dtype=np.uint8)
    p = gf_poly.power_table(s, 40)
    assert np.array_equal(p.view(np.uint8).reshape(40, width), _powers(s, 40, field))
    r = gf_poly.unit(width)
    assert np.array_equal(np.concatenate([gf_poly.powers_at(p, r, 0), gf_poly.powers_at(p, r, 95),
                                          gf_poly.powers_at(p, r, 1)]), _powers(s, 96, field))


def test_bad_arguments():
    p = gf_poly.power_table(np.ones(16, np.uint8), 8)
    with pytest.raises(ParameterError):
        gf_poly.power_table(np.ones(15, np.uint8))
    with pytest.raises(ParameterError):
        gf_poly.power_table(np.ones(16, np.uint8), 0)
    with pytest.raises(ParameterError):
        gf_poly.accumulate(p, gf_poly.unit(16), np.zeros((3, 32), np.uint8), np.zeros(32, np.uint8))
    with pytest.raises(ParameterError):
        gf_poly.accumulate(p, gf_poly.unit(16), np.zeros((3, 16), np.uint8), np.zeros(32, np.uint8), np.ones(2))
    with pytest.raises(ParameterError):
        gf_poly.accumulate(p, gf_poly.unit(16), np.zeros((3, 16), np.uint8), np.zeros(32, np.uint8), backend="x")
