"""MultiKeyCTR.next_mixed (the fused step of the extension matrix) equals its definition."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.primitives.prg import MultiKeyCTR
from pqmpc.rng import Rng


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([1, 3, 128]), st.lists(st.sampled_from([0, 1, 15, 16, 48, 129, 8192]), min_size=1, max_size=4),
       st.booleans(), st.sampled_from([16, 32]), st.integers(0, 2**32))
def test_next_mixed_is_keystream_xor_masked_a_xor_c(k, sizes, row_code, seed_bytes, seed):
    rng = Rng(seed.to_bytes(8, "little"))
    seeds = rng.blocks(k, seed_bytes)
    fused, plain = MultiKeyCTR(seeds), MultiKeyCTR(seeds)
    for nb in sizes:
        a = rng.array((k, nb))
        amask = rng.bits(k) * np.uint8(0xFF)
        c = rng.array((1 if row_code else k, nb))
        out = np.full((k, nb), 0xAA, np.uint8)
        got = fused.next_mixed(nb, out, a, amask, c)
        want = plain.next(nb) ^ (a & amask[:, None]) ^ c
        assert got is out
        np.testing.assert_array_equal(got, want)
        assert fused.pos == plain.pos
