"""The VAES leaf streams of the subspace VOLE are byte for byte MultiKeyCTR's streams, across
calls of every size and alignment (fast path and fallback interleaved), AES-128 and AES-256 keys."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.ot.ext.vole_prg import LeafStreams
from pqmpc.primitives.prg import MultiKeyCTR


@pytest.mark.parametrize("width,count", [(16, 1), (16, 48), (32, 5)])
@settings(max_examples=10, deadline=None)
@given(sizes=st.lists(st.sampled_from([0, 8, 16, 32, 48, 64, 256, 272, 2048, 4096 + 32]), min_size=1, max_size=6))
def test_leaf_streams_match_multikey_ctr(width, count, sizes):
    seeds = np.random.default_rng(len(sizes) * width + count).integers(0, 256, (count, width), dtype=np.uint8)
    ref, fast = MultiKeyCTR(seeds), LeafStreams(seeds)
    for nbytes in sizes:
        out = np.empty((count, nbytes), dtype=np.uint8)
        assert np.array_equal(fast.next(nbytes, out), ref.next(nbytes))
        assert fast.pos == ref.pos
