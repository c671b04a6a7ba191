"""The zmm (AVX-512 VAES) wide hash gives the bytes of the one-row AES-NI kernel on every row,
whatever the count (whole 16-row steps, then the ymm pairs, then single rows)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.primitives import cpu, hashing
from pqmpc.primitives.aes_unrolled import tccr_wide_ni_loop, tccr_wide_zmm_loop
from pqmpc.primitives.gf128_vaes import HAVE_ZMM

pytestmark = pytest.mark.skipif(not (cpu.HAVE_VAES and HAVE_ZMM), reason="needs AVX-512 VAES")


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 70), st.booleans(), st.integers(0, 2**63 - 1), st.binary(min_size=8, max_size=8))
def test_zmm_rows_match_single_rows(n, block_tweaks, tag, seed):
    rng = np.random.default_rng(int.from_bytes(seed, "little"))
    x = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    if block_tweaks:
        tw = rng.integers(0, 256, (n, 16), dtype=np.uint8)
        tw[:, 15] &= 0x7F
        twv = tw.view(np.uint64)
    else:
        tw = twv = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64)
    want = np.zeros((n, 4), np.uint64)
    tccr_wide_ni_loop(x.view(np.uint64), twv, want, np.uint64(tag))
    got = np.zeros((n, 4), np.uint64)
    stop = tccr_wide_zmm_loop(x.view(np.uint64), twv, got, np.uint64(tag))
    assert stop == n - n % 16
    np.testing.assert_array_equal(got[:stop], want[:stop])
    assert not got[stop:].any()  # nothing past the whole steps
    # the public function, whichever kernels it combines, equals the single-row kernel
    np.testing.assert_array_equal(hashing.tccr_wide(x, tw, tag=0 if block_tweaks else tag).view(np.uint64),
                                  want if not block_tweaks else _ni(x, twv))


def _ni(x, twv):
    out = np.zeros((x.shape[0], 4), np.uint64)
    tccr_wide_ni_loop(x.view(np.uint64), twv, out, np.uint64(0))
    return out
