"""The sender's sorted sealing and the receiver's shared-index lookup give what the reference path gives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import ProtocolError
from pqmpc.psi import keys, payload, payload_kernels, values
from pqmpc.rng import Rng

pytestmark = pytest.mark.skipif(not payload_kernels.AVAILABLE, reason="fused kernels need AES-NI and PCLMUL")


def _reference(f, inverse, rank, mult, data, offsets, width, ell):
    pt = payload.pad_payloads(data, offsets, width, mult, inverse)
    sealed = payload.seal_rows(f, rank, pt, ell, payload.nblocks(width), item=inverse, backend="reference")
    return values.sort_rows_by_tag(sealed, ell)


def _case(seed, n_distinct, n_rows, width):
    rng = np.random.default_rng(seed)
    inverse = np.concatenate([np.arange(n_distinct), rng.integers(0, max(1, n_distinct), n_rows - n_distinct)])
    rng.shuffle(inverse)
    inverse = inverse.astype(np.int64)
    f = rng.integers(0, 256, (n_distinct, 16), dtype=np.uint8)
    # lengths 0 .. width, empty and full cells included
    pl = [bytes(rng.integers(0, 256, int(rng.integers(0, width + 1)), dtype=np.uint8)) for _ in range(n_rows)]
    data, offsets = keys.encode_items(pl, "payload")
    rank, mult = payload.row_ranks(inverse, n_distinct, Rng(b"k%d" % seed))
    return f, inverse, rank, mult, data, offsets


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 300), st.integers(0, 3), st.sampled_from([0, 1, 7, 8, 9, 24, 32, 33, 100]),
       st.sampled_from([5, 8, 11, 16]), st.sampled_from([1, 2]))
def test_seal_sorted_equals_seal_then_sort(seed, n_distinct, dup, width, ell, workers):
    n_rows = n_distinct + dup * (n_distinct // 3)
    f, inverse, rank, mult, data, offsets = _case(seed, n_distinct, n_rows, width)
    got = payload_kernels.seal_sorted(f, inverse, rank, data, offsets, mult, width, ell, payload.nblocks(width),
                                      payload.TWEAK_ITEM, *values.bucket_bits(n_rows, ell), workers=workers)
    assert np.array_equal(got, _reference(f, inverse, rank, mult, data, offsets, width, ell))


def test_seal_sorted_threads_on_large_inputs():
    n = (1 << 16) + 37  # above the size where the work is split between threads
    f, inverse, rank, mult, data, offsets = _case(3, n - 500, n, 32)
    ref = _reference(f, inverse, rank, mult, data, offsets, 32, 11)
    for workers in (1, 2):
        got = payload_kernels.seal_sorted(f, inverse, rank, data, offsets, mult, 32, 11, payload.nblocks(32),
                                          payload.TWEAK_ITEM, *values.bucket_bits(n, 11), workers=workers)
        assert np.array_equal(got, ref)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 2000), st.integers(1, 4))
def test_tag_places_is_the_stable_sort(seed, n, spread):
    rng = np.random.default_rng(seed)
    # few distinct words, so equal tags (ties) and full buckets happen
    tw = rng.integers(0, 1 << spread, (n, 2), dtype=np.uint64) << np.uint64(60)
    tw[:, 1] = rng.integers(0, 3, n, dtype=np.uint64)
    bits, shift = values.bucket_bits(n, 8)
    for threads in (1, 2, 3):
        dest = payload_kernels.tag_places(tw, bits, shift, threads)
        order = np.lexsort((tw[:, 1], tw[:, 0]))  # stable: ties keep row order
        assert np.array_equal(dest[order], np.arange(n))


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 500), st.sampled_from([5, 10, 11, 16]))
def test_query_tags_and_shared_lookup_equal_the_reference(seed, n, ell):
    r = Rng(b"q%d" % seed)
    f = r.blocks(n)
    ranks = r.integers(n, 5)
    tw = payload_kernels.query_tags(f, ranks, ell, payload.TWEAK_ITEM)
    assert np.array_equal(tw, values.tag_words(payload.tags_of(f, ranks, ell), ell))
    sorted_tw = values.tag_words(values.sort_rows_by_tag(payload.tags_of(f[: n // 2], ranks[: n // 2], ell), ell), ell)
    bits, shift = values.bucket_bits(sorted_tw.shape[0], ell)
    want = np.empty(n, dtype=np.int64)
    values.lookup(sorted_tw, tw, bits, shift, want)
    got = np.empty(n, dtype=np.int64)
    values.lookup_in(values.bucket_starts(sorted_tw, bits, shift), sorted_tw, tw, shift, got)
    assert np.array_equal(got, want)
    assert (got[: n // 2] >= 0).all()


@pytest.mark.parametrize("lengths", [[4, 4, 4], [4, 0, 4], [0, 0, 0], [3, 4, 5]])
def test_payload_bytes_full_width_and_not(lengths):
    width = 4
    pt = np.zeros((len(lengths), payload.HEADER + width), dtype=np.uint8)
    for i, ln in enumerate(lengths):
        pt[i, :4] = np.frombuffer(np.uint32(ln).tobytes(), dtype=np.uint8)
        pt[i, payload.HEADER:payload.HEADER + min(ln, width)] = np.arange(1, min(ln, width) + 1) + 10 * i
    if max(lengths) > width:  # a length past the width never reaches here (refused), but must not be read short
        pt = np.concatenate([pt, np.zeros((len(lengths), 1), dtype=np.uint8)], axis=1)
    data, offsets = payload.payload_bytes(pt)
    want = [pt[i, payload.HEADER:payload.HEADER + ln].tobytes() for i, ln in enumerate(lengths)]
    assert [data[offsets[i]:offsets[i + 1]].tobytes() for i in range(len(lengths))] == want


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 700), st.sampled_from([5, 8, 9, 11, 16]), st.booleans())
def test_index_sorted_equals_check_sorted_and_bucket_starts(seed, n, ell, shuffle):
    rng = np.random.default_rng(seed)
    entries = rng.integers(0, 4, (n, ell + 3), dtype=np.uint8)  # small bytes: equal tags happen
    entries = values.sort_rows_by_tag(entries, ell)
    if shuffle and n > 1:
        entries = entries[rng.permutation(n)]
    want_sorted = bool(values.is_sorted(values.tag_words(entries, ell)))
    if want_sorted:
        tw, index = payload.index_sorted(entries, ell, "t")
        assert np.array_equal(tw, payload.check_sorted(entries, ell, "t"))
        assert np.array_equal(index, values.bucket_starts(tw, *values.bucket_bits(n, ell)))
    else:
        with pytest.raises(ProtocolError, match="not sorted"):
            payload.index_sorted(entries, ell, "t")


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 30), st.integers(0, 10), st.booleans())
def test_join_pairs_against_a_plain_loop(seed, n_distinct, extra_rows, distinct_items):
    """Both join layouts (one payload per item, and repeats) give every (own row, peer payload) pair."""
    rng = np.random.default_rng(seed)
    n_rows = n_distinct + extra_rows if n_distinct else 0
    inverse = np.concatenate([np.arange(n_distinct), rng.integers(0, max(1, n_distinct), n_rows - n_distinct)])
    inverse = inverse.astype(np.int64)
    if distinct_items:
        item = rng.permutation(n_distinct)[: int(rng.integers(0, n_distinct + 1))].astype(np.int64)
    else:
        item = rng.integers(0, max(1, n_distinct), int(rng.integers(0, 2 * n_distinct + 1)) if n_distinct else 0)
        item = item.astype(np.int64)
    width = 5
    lens = rng.integers(0, width + 1, item.shape[0])
    pt = np.zeros((item.shape[0], payload.HEADER + width), dtype=np.uint8)
    pt[:, 0] = lens
    for i, ln in enumerate(lens):
        pt[i, payload.HEADER:payload.HEADER + ln] = rng.integers(0, 3, ln)
    pj = payload.join_pairs(inverse, item, pt)
    got = [(r, bytes(p)) for r, p in pj.pairs()]
    want = sorted((r, pt[k, payload.HEADER:payload.HEADER + lens[k]].tobytes())
                  for r in range(n_rows) for k in range(item.shape[0]) if item[k] == inverse[r])
    assert sorted(got) == want
    assert list(pj.rows) == sorted(pj.rows)


@pytest.mark.parametrize("n", [1, 9, (1 << 16) + 3])
def test_seal_sorted_takes_constant_ranks_and_counts(n):
    """Without duplicates the sender passes rank 0 and count 1 as broadcast constants: same bytes."""
    f, inverse, rank, mult, data, offsets = _case(11, n, n, 32)
    const_rank = np.broadcast_to(np.zeros(1, dtype=np.int64), (n,))
    const_mult = np.broadcast_to(np.ones(1, dtype=np.int64), (n,))
    assert not rank.any() and (mult == 1).all()
    args = (32, 11, payload.nblocks(32), payload.TWEAK_ITEM, *values.bucket_bits(n, 11))
    a = payload_kernels.seal_sorted(f, inverse, const_rank, data, offsets, const_mult, *args, workers=2)
    assert np.array_equal(a, payload_kernels.seal_sorted(f, inverse, rank, data, offsets, mult, *args, workers=2))
