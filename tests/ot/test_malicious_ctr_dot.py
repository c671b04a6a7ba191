"""The check's χ-and-multiply kernel (``gf128.ctr_dot``) gives the same bytes on every register
width (xmm, ymm, zmm) and equals the AES-CTR stream times the rows, across the step boundaries of
each width (16 rows per xmm batch ... 32 per zmm step, 32 per ymm step) and the xmm tails."""

import numpy as np
import pytest

from pqmpc.primitives import gf128
from pqmpc.primitives.aes_kernels import round_keys_many
from pqmpc.primitives.prg import MultiKeyCTR

BACKENDS = ("auto", "ymm", "aesni")


@pytest.mark.skipif(not gf128.HAVE_CTR_DOT, reason="needs AES-NI and PCLMULQDQ")
@pytest.mark.parametrize("n", [0, 1, 15, 31, 32, 33, 63, 64, 65, 95, 257, 4096 + 29])
@pytest.mark.parametrize("start", [0, 7])
def test_every_width_matches_the_ctr_stream(n, start):
    g = np.random.default_rng(1000 * n + start)
    key = g.integers(0, 256, (1, 16), dtype=np.uint8)
    rows = g.integers(0, 256, (n, 16), dtype=np.uint8)
    sel = g.integers(0, 2, n).astype(np.uint8)
    chi = MultiKeyCTR(key).next(16 * (start + n))[0, 16 * start:].reshape(n, 16)
    want_dot = (np.bitwise_xor.reduce(gf128.gf128_mul(chi, rows, backend="fallback"), axis=0)
                if n else np.zeros(16, np.uint8))
    want_pick = np.bitwise_xor.reduce(chi[sel == 1], axis=0) if sel.any() else np.zeros(16, np.uint8)
    rk = round_keys_many(key)[0]
    for backend in BACKENDS:
        got = gf128.ctr_dot(rk, start, rows, sel, backend=backend)
        assert np.array_equal(got[:16], want_dot), backend
        assert np.array_equal(got[16:], want_pick), backend
        assert np.array_equal(gf128.ctr_dot(rk, start, rows, backend=backend)[:16], want_dot), backend


@pytest.mark.skipif(not gf128.HAVE_CTR_DOT, reason="needs AES-NI and PCLMULQDQ")
def test_all_ones_rows_and_challenges_hit_every_carry():
    """Extreme operands: every bit set, so every partial product and the fold's carries are live."""
    n = 200
    rows = np.full((n, 16), 0xFF, dtype=np.uint8)
    key = np.full((1, 16), 0xFF, dtype=np.uint8)
    chi = MultiKeyCTR(key).next(16 * n)[0].reshape(n, 16)
    want = np.bitwise_xor.reduce(gf128.gf128_mul(chi, rows, backend="fallback"), axis=0)
    rk = round_keys_many(key)[0]
    for backend in BACKENDS:
        assert np.array_equal(gf128.ctr_dot(rk, 0, rows, backend=backend)[:16], want), backend
