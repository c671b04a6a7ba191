"""PSI against a plain set intersection, on random and adversarial sets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pqmpc.errors import HandshakeError, PqmpcError, ProtocolError
from pqmpc.net import MemoryChannel, run_pair
from pqmpc.psi import psi_receiver, psi_sender, run_psi
from pqmpc.psi.session import tag_bytes
from pqmpc.rng import Rng


def expected(mine, theirs):
    def norm(x):
        return x.encode() if isinstance(x, str) else bytes(x)

    other = {norm(x) for x in theirs}
    return [i for i, x in enumerate(mine) if norm(x) in other]


def run(sender_items, receiver_items, reveal=True, seed=b"t", **kw):
    return run_pair(lambda ch: run_psi("sender", ch, sender_items, Rng(seed + b"s"), reveal, **kw),
                    lambda ch: run_psi("receiver", ch, receiver_items, Rng(seed + b"r"), reveal, **kw))


def check(sender_items, receiver_items, reveal=True, **kw):
    rs, rr = run(sender_items, receiver_items, reveal, **kw)
    assert rr.indices.tolist() == expected(receiver_items, sender_items)
    if reveal:
        assert rs.indices.tolist() == expected(sender_items, receiver_items)
    else:
        assert rs.indices is None
    return rs, rr


keys = st.one_of(st.text(max_size=12), st.binary(max_size=12))
small_sets = st.lists(st.sampled_from(["a", "b", "", "é", "日本", "a" * 40, "x\x00y"]) | keys, max_size=40)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=small_sets, b=small_sets, reveal=st.booleans())
def test_matches_plain_intersection(a, b, reveal):
    check(a, b, reveal)


@pytest.mark.parametrize("na,nb", [(0, 0), (0, 5), (5, 0), (1, 1), (127, 128), (129, 1), (1, 129), (300, 1000)])
def test_sizes(na, nb):
    a = [f"k{i}" for i in range(na)]
    b = [f"k{i}" for i in range(na // 2, na // 2 + nb)]
    check(a, b)


def test_identical_disjoint_and_duplicates():
    a = [f"id-{i}" for i in range(200)]
    check(a, list(a))
    check(a, [f"other-{i}" for i in range(200)])
    dup_a = a[:50] * 3 + ["z"]
    dup_b = ["z", "z", "id-7", "id-7", "nothing", "id-49"]
    rs, rr = check(dup_a, dup_b)
    assert rr.distinct == 4 and rr.duplicates == 2 and rr.intersection == 3
    assert rs.intersection == 3


def test_long_unicode_and_bytes_keys():
    long1 = "ж" * 5000
    long2 = "ж" * 4999 + "з"
    a = [long1, long2, "🙂", b"\xff\xfe", "e\u0301", "é"]
    b = [long1, "🙂", "\xff\xfe", b"\xff\xfe", "é", "x" * 100_000]
    check(a, b)


def test_str_and_bytes_are_the_same_key():
    _, rr = check(["é"], ["é".encode()])
    assert rr.indices.tolist() == [0]


def test_kappa_256():
    a = [f"k{i}" for i in range(100)]
    check(a, a[30:] + ["q"], kappa=256)


def test_chunking_does_not_change_result():
    a = [f"k{i}" for i in range(3000)]
    b = [f"k{i}" for i in range(1500, 5000)]
    _, rr = check(a, b, chunk=256)
    assert rr.params["bins"] > 256 * 10


def test_public_api_returns_sorted_indices():
    a = ["c", "a", "b", "q"]
    b = ["b", "x", "a", "c", "a"]
    s, r = run_pair(lambda ch: psi_sender(ch, a, reveal_to_sender=True), lambda ch: psi_receiver(ch, b, reveal_to_sender=True))
    assert r.tolist() == [0, 2, 3, 4] and s.tolist() == [0, 1, 2]
    s, r = run_pair(lambda ch: psi_sender(ch, a), lambda ch: psi_receiver(ch, b))
    assert s is None and r.tolist() == [0, 2, 3, 4]


def test_sender_values_are_sorted_and_lookup_finds_all():
    from pqmpc.psi import values as api

    rng = np.random.default_rng(3)
    for n, ell in [(1, 5), (7, 6), (1000, 8), (5000, 10), (3000, 16)]:
        raw = np.zeros((n, 16), dtype=np.uint8)
        raw[:, :ell] = rng.integers(0, 256, (n, ell), dtype=np.uint8)
        raw[n // 2:n // 2 + 3] = raw[:3]  # repeated values sort fine too
        tw = raw.view(np.uint64)
        order = np.empty(n, dtype=np.int64)
        msg = np.empty((n, ell), dtype=np.uint8)
        api.sort_values(tw, ell, *api.bucket_bits(n, ell), order, msg)
        ref = sorted(range(n), key=lambda i: (int(tw[i, 0]), int(tw[i, 1])))
        assert [bytes(raw[i, :ell]) for i in ref] == [bytes(r) for r in msg]
        stw = api.tag_words(msg, ell)
        assert api.is_sorted(stw)
        found = np.empty(n, dtype=np.int64)
        api.lookup(stw, tw, *api.bucket_bits(n, ell), found)
        assert (found >= 0).all() and np.array_equal(stw[found], tw)
        miss = tw.copy()
        miss[:, 0] ^= np.uint64(1)  # the lowest tag byte differs
        api.lookup(stw, miss, *api.bucket_bits(n, ell), found)
        assert (found == -1).sum() >= n - 10


def test_wire_size_and_tag_length():
    n = 1000
    a = [f"k{i}" for i in range(n)]
    rs, rr = check(a, a)
    assert tag_bytes(n, n) * 8 >= 40 + 20
    from pqmpc.ot import KyberOT

    to_base_sender, to_base_receiver = KyberOT().message_bytes(512)
    # receiver → sender: 512 bits per bin plus the base OTs (the PSI receiver is the base-OT sender);
    # sender → receiver: 3 tags per item plus the base OTs.
    m = (rr.params["bins"] + 127) // 128 * 128  # padded to whole 128-bin blocks
    assert m * 64 + to_base_receiver <= rr.bytes_sent < m * 64 + to_base_receiver + 20_000
    assert 3 * n * tag_bytes(n, n) + to_base_sender <= rs.bytes_sent < 3 * n * tag_bytes(n, n) + to_base_sender + 20_000


def test_output_mode_mismatch_stops_both():
    with pytest.raises(HandshakeError, match="output"):
        run_pair(lambda ch: run_psi("sender", ch, ["a"], reveal_to_sender=True),
                 lambda ch: run_psi("receiver", ch, ["a"], reveal_to_sender=False))


def test_two_receivers_rejected():
    with pytest.raises(HandshakeError, match="role"):
        run_pair(lambda ch: run_psi("receiver", ch, ["a"]), lambda ch: run_psi("receiver", ch, ["a"]))


def test_bad_items_rejected():
    from pqmpc.errors import ParameterError

    ch, _ = MemoryChannel.pair()
    with pytest.raises(ParameterError):
        psi_receiver(ch, "not a list")
    with pytest.raises(ParameterError):
        psi_receiver(ch, [1, 2])
    with pytest.raises(ParameterError):
        psi_receiver(ch, ["\ud800"])


def test_unsorted_sender_values_are_rejected(monkeypatch):
    from pqmpc.psi import values

    real = values.sort_values

    def reversed_values(tw, ell, bits, shift, order, out):
        real(tw, ell, bits, shift, order, out)
        out[:] = out[::-1].copy()

    monkeypatch.setattr(values, "sort_values", reversed_values)
    a = [f"k{i}" for i in range(50)]
    with pytest.raises(ProtocolError, match="step 6"):
        run(a, a)


def test_truncated_values_are_rejected():
    a = [f"k{i}" for i in range(50)]
    c0, c1 = MemoryChannel.pair()
    ell = tag_bytes(50, 10)
    real_send = c0.send

    def truncating_send(data):  # the sender's value list loses its last entry
        if isinstance(data, np.ndarray) and data.shape == (50, ell):
            data = data[:-1]
        real_send(np.ascontiguousarray(data) if isinstance(data, np.ndarray) else data)

    c0.send = truncating_send
    with pytest.raises(ProtocolError, match="step 6"):
        run_pair(lambda ch: run_psi("sender", ch, a), lambda ch: run_psi("receiver", ch, a[:10]), channels=(c0, c1))


def test_peer_disappears():
    from pqmpc.errors import ChannelError

    a, b = MemoryChannel.pair(timeout=5)

    def quitter(ch):
        ch.recv()
        ch.close()

    with pytest.raises(ChannelError):
        run_pair(lambda ch: run_psi("receiver", ch, ["a", "b"]), quitter, channels=(a, b))


def test_cuckoo_failure_stops_both_sides(monkeypatch):
    from pqmpc.psi import PeerAbort, cuckoo

    monkeypatch.setattr(cuckoo, "num_bins", lambda n, lam=40: max(1, n // 4))  # far too small a table
    errors = {}

    def side(role, items):
        def f(ch):
            try:
                run_psi(role, ch, items)
            except PqmpcError as exc:  # recorded per side
                errors[role] = exc
        return f

    a = [f"k{i}" for i in range(100)]
    run_pair(side("sender", a), side("receiver", a))
    assert isinstance(errors["receiver"], cuckoo.CuckooError)
    assert isinstance(errors["sender"], PeerAbort) and "cuckoo" in str(errors["sender"])


def test_memoryview_items_are_their_bytes():
    from pqmpc.psi import keys as k

    data, offsets = k.encode_items([memoryview(np.arange(3, dtype=np.int32)), b"ab"])
    assert offsets.tolist() == [0, 12, 14] and bytes(data[12:]) == b"ab"


def test_find_rows_against_a_dict():
    from pqmpc.psi import values

    rng = np.random.default_rng(9)
    for n in (1, 2, 17, 5000):
        rows = np.unique(rng.integers(0, 256, (n, 16), dtype=np.uint8), axis=0)
        rows[:, 8:] = rows[0, 8:] if n > 1 else rows[:, 8:]  # many rows share a high word
        rows = np.unique(rows, axis=0)
        queries = np.concatenate([rows[rng.permutation(rows.shape[0])[: rows.shape[0] // 2 + 1]],
                                  rng.integers(0, 256, (7, 16), dtype=np.uint8)])
        where = {bytes(r): i for i, r in enumerate(rows)}
        assert values.find_rows(rows, queries).tolist() == [where.get(bytes(q), -1) for q in queries]
    assert values.find_rows(rows, rows[:0]).shape == (0,)


def test_sort_is_stable_and_lookup_finds_the_first_copy():
    """The two-pass radix sort equals a stable sort by (word 0, word 1) for every bucket split, ties
    keep the row order, and lookup gives the first of equal sorted values (as the one-pass versions)."""
    from pqmpc.psi import values as api

    rng = np.random.default_rng(11)
    for n, ell, distinct in [(0, 8, 1), (1, 16, 1), (513, 5, 7), (4096, 10, 300), (20000, 16, 20000), (9000, 11, 50)]:
        pool = rng.integers(0, 256, (max(distinct, 1), 16), dtype=np.uint8)
        raw = pool[rng.integers(0, max(distinct, 1), n)]
        buf = np.full((n, 16), 0xAA, dtype=np.uint8)   # dirty: tag_words(out=) must clear above ell
        tw = api.tag_words(raw, ell, buf)
        assert np.array_equal(tw, api.tag_words(raw, ell))
        for bits, shift in [api.bucket_bits(n, ell), (1, 8 * min(ell, 8) - 1), (3, 8 * min(ell, 8) - 3)]:
            order = np.empty(n, dtype=np.int64)
            msg = np.empty((n, ell), dtype=np.uint8)
            api.sort_values(tw, ell, bits, shift, order, msg)
            ref = np.lexsort((tw[:, 1], tw[:, 0])) if n else order
            assert np.array_equal(order, ref)
            assert np.array_equal(msg, tw.view(np.uint8).reshape(n, 16)[ref, :ell])
        stw = api.tag_words(msg, ell)
        found = np.empty(n, dtype=np.int64)
        api.lookup(stw, tw, *api.bucket_bits(n, ell), found)
        if n:
            first = {}
            for p in range(n - 1, -1, -1):
                first[stw[p].tobytes()] = p
            assert found.tolist() == [first[t.tobytes()] for t in tw]
