"""The receiver's open-into-the-join path (:mod:`pqmpc.psi.payload_open`) against the general path
(open every match, then :func:`join_pairs`): same hits, same join, byte for byte; it declines sender
duplicates and bad headers (the general path decides), and a changed entry fails authentication."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import ProtocolError
from pqmpc.net import run_pair
from pqmpc.primitives.buffers import ScratchPool
from pqmpc.psi import keys, payload, payload_kernels, payload_open, payload_wire, run_protocol, values
from pqmpc.psi.payload_join import distinct_sorted, join_pairs
from pqmpc.rng import Rng

from .test_payload import got_pairs, sql_join

pytestmark = pytest.mark.skipif(not payload_kernels.AVAILABLE, reason="needs AES-NI and PCLMULQDQ")


def _setup(seed, n_s, n_r, width, dup_s=False, full=False):
    g = np.random.default_rng(seed)
    vals = g.integers(0, 256, (n_s, 16), dtype=np.uint8)          # the sender's distinct items' OPRF values
    inv_s = np.arange(n_s, dtype=np.int64)
    if dup_s and n_s:
        inv_s = np.concatenate([inv_s, g.integers(0, n_s, 3)])
    lens = np.full(inv_s.shape[0], width) if full else g.integers(0, width + 1, inv_s.shape[0])
    pl = keys.encode_items([bytes(g.integers(0, 256, k, dtype=np.uint8)) for k in lens])
    ell = payload_wire.entry_tag_bytes(inv_s.shape[0], n_r)
    (entries,) = payload.seal([vals], inv_s, *pl, width, ell, Rng(b"seal"))
    # the receiver: some of the sender's values, some others, in a random OPRF order; rows repeat items
    shared = g.choice(n_s, min(n_s, n_r // 2), replace=False) if n_s else np.zeros(0, dtype=np.int64)
    f = g.integers(0, 256, (n_r, 16), dtype=np.uint8)
    f[:shared.shape[0]] = vals[shared]
    order = g.permutation(n_r).astype(np.int64)
    inverse = g.integers(0, n_r, n_r + 5) if n_r else np.zeros(0, dtype=np.int64)
    return np.ascontiguousarray(entries), f, order, inverse, ell


def _general(entries, f, order, inverse, ell, width):
    tw, index = payload.index_sorted(entries, ell, "t")
    where, pt = payload.open_entries(entries, tw, f, ell, width, entries.shape[0], "t", index=index)
    items = order[where]
    return distinct_sorted(items, order.shape[0]), join_pairs(inverse, items, pt)


def _fast(entries, f, order, inverse, ell, width, pool=None):
    pool = pool or ScratchPool()
    tw, index = payload.index_sorted(entries, ell, "t", pool)
    return payload_open.open_joined(entries, tw, index, f, order, inverse, ell, width, payload.nblocks(width),
                                    payload.TWEAK_ITEM, values.bucket_bits(entries.shape[0], ell)[1], "t", pool)


def _same(a, b):
    (ha, ja), (hb, jb) = a, b
    assert np.array_equal(ha, hb)
    for k in ("rows", "payload_index", "data", "offsets"):
        assert np.array_equal(getattr(ja, k), getattr(jb, k)), k


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_s=st.integers(1, 300), n_r=st.integers(1, 300),
       width=st.sampled_from([0, 1, 7, 8, 9, 15, 16, 17, 24, 32, 33, 100]), full=st.booleans())
def test_open_joined_equals_the_general_path(seed, n_s, n_r, width, full):
    e, f, order, inverse, ell = _setup(seed, n_s, n_r, width, full=full)
    _same(_fast(e, f, order, inverse, ell, width), _general(e, f, order, inverse, ell, width))


@pytest.mark.parametrize("n", [70000, 140001])   # both threads, sizes off the thread split
def test_open_joined_large_and_pool_reuse(n):
    pool = ScratchPool()
    pool.get("payload place", 3 * n, np.int32).fill(7)   # stale, larger scratch from an earlier session
    pool.get("payload slot", 3 * n, np.int32).fill(7)
    e, f, order, inverse, ell = _setup(n, n, n, 32, full=True)
    _same(_fast(e, f, order, inverse, ell, 32, pool), _general(e, f, order, inverse, ell, 32))


def test_sender_duplicates_go_the_general_way():
    e, f, order, inverse, ell = _setup(5, 200, 200, 16, dup_s=True)
    assert _fast(e, f, order, inverse, ell, 16) is None


def test_a_changed_matching_entry_fails_authentication():
    e, f, order, inverse, ell = _setup(6, 200, 200, 32)
    tw, index = payload.index_sorted(e, ell, "t")
    found = np.empty(f.shape[0], dtype=np.int64)
    values.lookup_in(index, tw, payload_kernels.query_tags(f, np.zeros(f.shape[0], np.int64), ell,
                                                                    payload.TWEAK_ITEM),
                              values.bucket_bits(e.shape[0], ell)[1], found)
    hit = found[found >= 0]
    assert hit.size
    for col in (ell, ell + 8 + 32 - 1, ell + 8 + 32 + 15):   # ciphertext start, its last byte, the MAC
        bad = e.copy()
        bad[hit[0], col] ^= 1
        with pytest.raises(ProtocolError, match="fails authentication"):
            _fast(bad, f, order, inverse, ell, 32)


def test_sessions_take_the_fast_path_and_match_sqlite(monkeypatch):
    calls = []
    orig = payload_open.open_joined
    monkeypatch.setattr(payload_wire, "open_joined", lambda *a, **k: calls.append(1) or orig(*a, **k))
    g = np.random.default_rng(3)
    s = [f"k{i}" for i in g.permutation(3000)[:2000]]          # no sender duplicates
    r = [f"k{int(x)}" for x in g.integers(0, 3000, 1500)]      # receiver duplicates
    sp = [f"p{i}-{'x' * int(g.integers(0, 20))}" for i in range(len(s))]
    _, rr = run_pair(lambda ch: run_protocol("rr22", "sender", ch, s, Rng(b"s"), payload=sp),
                     lambda ch: run_protocol("rr22", "receiver", ch, r, Rng(b"r"), peer_payload=True), timeout=120)
    assert calls and got_pairs(rr.pairs) == sql_join(r, s, sp)
