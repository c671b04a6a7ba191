"""Payload (labeled) PSI against a plain SQL join computed by sqlite3, and its failure modes, on both protocols."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pqmpc.errors import HandshakeError, ParameterError, ProtocolError
from pqmpc.net import MemoryChannel, run_pair
from pqmpc.psi import payload, payload_kernels, payload_wire, psi_receiver, psi_sender, run_protocol
from pqmpc.rng import Rng


def blob(x) -> bytes:
    return x.encode() if isinstance(x, str) else bytes(x)


def sql_join(mine, theirs, their_payloads, how="inner"):
    """(own row, peer payload or None) pairs of ``mine JOIN theirs ON key``, ordered like PayloadJoin."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE a (row INTEGER, k BLOB)")
    db.execute("CREATE TABLE b (k BLOB, p BLOB)")
    db.executemany("INSERT INTO a VALUES (?, ?)", [(i, blob(k)) for i, k in enumerate(mine)])
    db.executemany("INSERT INTO b VALUES (?, ?)", [(blob(k), blob(p)) for k, p in zip(theirs, their_payloads)])
    join = "JOIN" if how == "inner" else "LEFT JOIN"
    rows = db.execute(f"SELECT a.row, b.p FROM a {join} b ON a.k = b.k").fetchall()
    # sqlite orders BLOBs bytewise: the PayloadJoin order (row, then payload bytes).
    return sorted((r, None if p is None else bytes(p)) for r, p in rows)


def got_pairs(pj, n_rows=None, how="inner"):
    if how == "inner":
        return pj.pairs()
    rows, idx = pj.join(n_rows, how)
    o = pj.offsets
    return [(int(r), None if j < 0 else pj.data[o[j]:o[j + 1]].tobytes()) for r, j in zip(rows, idx)]


PROTOCOLS = ["rr22", "kkrt"]


def run(s_items, s_pl, r_items, r_pl=None, width=payload.DEFAULT_WIDTH, seed=b"p", protocol="rr22", **kw):
    both = r_pl is not None
    return run_pair(
        lambda ch: run_protocol(protocol, "sender", ch, s_items, Rng(seed + b"s"), both, payload=s_pl,
                                peer_payload=both, payload_width=width, **kw),
        lambda ch: run_protocol(protocol, "receiver", ch, r_items, Rng(seed + b"r"), both, payload=r_pl,
                                peer_payload=True, payload_width=width, **kw))


def check(s_items, s_pl, r_items, r_pl=None, width=payload.DEFAULT_WIDTH, protocol="rr22", **kw):
    rs, rr = run(s_items, s_pl, r_items, r_pl, width, protocol=protocol, **kw)
    for how in ("inner", "left"):
        assert got_pairs(rr.pairs, len(r_items), how) == sql_join(r_items, s_items, s_pl, how)
    assert rr.indices.tolist() == sorted({r for r, _ in sql_join(r_items, s_items, s_pl)})
    if r_pl is not None:
        for how in ("inner", "left"):
            assert got_pairs(rs.pairs, len(s_items), how) == sql_join(s_items, r_items, r_pl, how)
    else:
        assert rs.pairs is None and rs.indices is None
    return rs, rr


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_duplicates_empty_unicode_long_both_directions(protocol):
    s = ["k1", "k2", "k2", "k2", "日本", "", "k9", "x\x00y"]
    sp = ["a", "b1", "", "b3", "ユニコード", "empty key", "z" * 32, "nul\x00inside"]
    r = ["k2", "k9", "k2", "日本", "nope", "", "x\x00y", "x"]
    rp = ["r1", "", "r3" * 16, "é", "n", "e", "\x00", "q"]
    check(s, sp, r, rp, protocol=protocol)
    check(s, sp, r, protocol=protocol)


def test_rr22_malicious_mode_with_payloads():
    s = ["k1", "k2", "k2", "日本", ""]
    sp = ["a", "b1", "b2", "ユ", "e"]
    r = ["k2", "", "zz", "日本", "k2"]
    rs, rr = check(s, sp, r, ["r1", "r2", "r3", "r4", "r5"], malicious=True)
    assert rs.params["cot"] == rr.params["cot"] == "KOS"   # the same checked COTs as plain malicious RR22
    check(s, sp, r, malicious=True)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_reference_path_end_to_end(monkeypatch, protocol):
    # What runs where numba lacks AES-NI or PCLMUL (no table AES on secret keys): same join.
    monkeypatch.setattr(payload_kernels, "AVAILABLE", False)
    s = ["k1", "k2", "k2", "日本", ""] * 3
    r = ["k2", "", "zz", "日本", "k2"]
    check(s, [f"p{i}" * (i % 4) for i in range(15)], r, ["r1", "", "r3", "r4", "r5"], width=20, protocol=protocol)


def test_kkrt_kappa_256_with_payloads():
    check(["a", "b", "b", "é"], ["1", "2", "3", "4"], ["b", "é", "x"], ["r1", "r2", "r3"], protocol="kkrt", kappa=256)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_long_cells_at_a_wide_width(protocol):
    s = [f"k{i}" for i in range(40)]
    sp = [("é" * (i * 37 % 500)).encode() + bytes([i]) for i in range(40)]
    r = [f"k{i}" for i in range(20, 60)] + ["k21"]
    check(s, sp, r, [("r" * (i * 91 % 1000)) for i in range(41)], width=1001, protocol=protocol)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_bytes_payloads_and_exact_width(protocol):
    s = [b"\xff", b"\x00", b"k"]
    sp = [bytes(range(16)), b"", b"\xff" * 5]
    check(s, sp, [b"\x00", b"\xff", b"k", b"\xff"], width=16, protocol=protocol)
    check(s, sp, [b"\x00"], width=16, protocol=protocol)
    check(s, [b"", b"", b""], [b"k", b"\x00"], [b"", b""], width=0, protocol=protocol)


keys = st.sampled_from(["a", "b", "c", "é", "", "long" * 10]) | st.text(max_size=4)
cells = st.text(max_size=12) | st.binary(max_size=12)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(s=st.lists(st.tuples(keys, cells), max_size=30), r=st.lists(st.tuples(keys, cells), max_size=30),
       both=st.booleans(), protocol=st.sampled_from(PROTOCOLS))
def test_matches_sqlite_join(s, r, both, protocol):
    s_items, s_pl = [k for k, _ in s], [p for _, p in s]
    r_items, r_pl = [k for k, _ in r], [p for _, p in r]
    check(s_items, s_pl, r_items, r_pl if both else None, width=48, protocol=protocol)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ns=st.sampled_from([0, 1, 2, 7, 9, 127, 129, 300]), nr=st.sampled_from([0, 1, 3, 8, 17, 255, 257]),
       dup=st.integers(1, 5), protocol=st.sampled_from(PROTOCOLS))
def test_sizes_and_duplicate_rates(ns, nr, dup, protocol):
    s = [f"k{i // dup}" for i in range(ns)]
    r = [f"k{i}" for i in range(ns // (2 * dup), ns // (2 * dup) + nr)]
    check(s, [f"p{i}" for i in range(ns)], r, [f"q{i}" for i in range(nr)], protocol=protocol)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("ns,nr", [(0, 0), (0, 1), (1, 0), (1, 1), (200, 300)])
def test_sizes(ns, nr, protocol):
    s = [f"k{i % 150}" for i in range(ns)]
    r = [f"k{i}" for i in range(100, 100 + nr)]
    check(s, [f"p{i}" for i in range(ns)], r, [f"q{i}" for i in range(nr)], protocol=protocol)


def test_too_long_payload_is_refused_before_any_message():
    ch = MemoryChannel.pair()[0]
    for protocol in PROTOCOLS:
        with pytest.raises(ParameterError, match="payload of item 1 is 33 bytes, longer than the agreed payload_width"):
            run_protocol(protocol, "sender", ch, ["a", "b"], payload=["x", "y" * 33])
        with pytest.raises(ParameterError, match="one payload per item"):
            run_protocol(protocol, "sender", ch, ["a", "b"], payload=["x"])
        with pytest.raises(ParameterError, match="reveal_to_sender"):
            run_protocol(protocol, "receiver", ch, ["a"], payload=["x"])
        for bad in (-1, payload.MAX_WIDTH + 1, 1 << 40, True, 2.0):
            with pytest.raises(ParameterError, match="payload_width"):
                run_protocol(protocol, "sender", ch, ["a"], payload=["x"], payload_width=bad)
    assert ch.stats.bytes_sent == 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("skw,rkw", [
    ({"payload": ["p"]}, {}),                                            # receiver did not ask
    ({}, {"peer_payload": True}),                                        # sender sends none
    ({"payload": ["p"], "payload_width": 16}, {"peer_payload": True}),  # widths differ
    ({"payload": ["p"], "payload_width": payload.MAX_WIDTH}, {"peer_payload": True}),  # a huge width: refused
])
def test_disagreement_is_a_handshake_error(skw, rkw, protocol):
    with pytest.raises(HandshakeError, match="payload"):
        run_pair(lambda ch: psi_sender(ch, ["a"], protocol=protocol, **skw),
                 lambda ch: psi_receiver(ch, ["a"], protocol=protocol, **rkw), timeout=60)


def test_payloads_default_to_rr22_and_a_kkrt_peer_is_refused():
    pj = run_pair(lambda ch: psi_sender(ch, ["a", "b"], payload=["pa", "pb"]),
                  lambda ch: psi_receiver(ch, ["b", "c", "b"], peer_payload=True))[1]
    assert isinstance(pj, payload.PayloadJoin)
    assert pj.pairs() == [(0, b"pb"), (2, b"pb")] and pj.indices.tolist() == [0, 2] and len(pj) == 2
    with pytest.raises(HandshakeError):
        run_pair(lambda ch: psi_sender(ch, ["a"], payload=["p"]),
                 lambda ch: psi_receiver(ch, ["a"], peer_payload=True, protocol="kkrt"), timeout=60)


def test_numpy_and_series_payloads():
    class Column:  # what a pandas Series offers here (pandas itself is optional)
        def __init__(self, values, dtype=object):
            self._v, self._d = values, dtype

        def to_numpy(self):
            return np.array(self._v, dtype=self._d)

    s, sp = ["k1", "k2", "k2", "é"], ["p1", "", "p2b", "ü" * 5]
    r, rp = ["k2", "é", "x"], [b"r1", b"r2", b"r3"]
    want_r, want_s = sql_join(r, s, sp), sql_join(s, r, rp)
    for items, pls, ritems, rpls in [
        (np.array(s, dtype=object), np.array(sp, dtype=object), np.array(r, dtype=str), np.array(rp, dtype=bytes)),
        (Column(s), Column(sp, dtype=str), Column(r), Column(rp)),
    ]:
        for protocol in PROTOCOLS:
            rs, rr = run(items, pls, ritems, rpls, protocol=protocol)
            assert got_pairs(rr.pairs) == want_r and got_pairs(rs.pairs) == want_s


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_pandas_join_when_pandas_is_installed(protocol):
    pd = pytest.importorskip("pandas")
    a = pd.DataFrame({"k": ["x", "y", "y", "z", ""], "v": ["1", "2", "3", "", "5"]})
    b = pd.DataFrame({"k": ["y", "z", "w", "", "y"], "w": ["a", "b", "c", "d", "e"]})
    rs, rr = run(a["k"], a["v"], b["k"], b["w"], protocol=protocol)
    for own, peer, pj, col in ((b, a, rr.pairs, "v"), (a, b, rs.pairs, "w")):
        want = own.reset_index().merge(peer, on="k", how="left")
        want = sorted((int(i), None if isinstance(v, float) else v.encode()) for i, v in zip(want["index"], want[col]))
        assert got_pairs(pj, len(own), "left") == want


def _flip_frames(chans, width, col, ell_of):
    """Flip one byte in every row of every frame ``width`` bytes per row that the receiver reads."""
    orig = chans[1]._recv_message
    state = {"done": 0}

    def recv():
        frame = orig()
        if len(frame) and len(frame) % width == 0 and len(frame) // width in (3, 4):
            state["done"] += 1
            b = np.frombuffer(bytes(frame), dtype=np.uint8).reshape(-1, width).copy()
            b[:, col(ell_of)] ^= 0x40
            return bytearray(b.tobytes())
        return frame

    chans[1]._recv_message = recv
    return state


# (A changed tag only hides an entry: the same as a sender without that item, which no receiver can tell.)
@pytest.mark.parametrize("protocol,part", [("rr22", "header"), ("rr22", "ciphertext"), ("rr22", "mac"),
                                           ("kkrt", "block"), ("kkrt", "mac"), ("kkrt", "key"),
                                           ("kkrt", "pointer")])
def test_tampered_payload_messages_end_in_protocol_error(protocol, part):
    n = 4
    ell = payload_wire.entry_tag_bytes(n, n)
    w = payload.DEFAULT_WIDTH
    width, col = {
        "header": (payload.entry_bytes(ell, w), ell + 1), "ciphertext": (payload.entry_bytes(ell, w), ell + 9),
        "mac": (payload.entry_bytes(ell, w) if protocol == "rr22" else payload.cipher_bytes(w), -1),
        "block": (payload.cipher_bytes(w), 3), "key": (payload.wrapped_bytes(ell), ell + 2),
        "pointer": (payload.wrapped_bytes(ell), -1)}[part]
    chans = MemoryChannel.pair(timeout=30)
    state = _flip_frames(chans, width, lambda _: col, ell)
    err = {}

    def side(role, items, **kw):
        def f(c):
            try:
                return run_protocol(protocol, role, c, items, Rng(role.encode()), **kw)
            except BaseException as exc:
                err[role] = exc
                raise
        return f

    with pytest.raises(ProtocolError):
        run_pair(side("sender", ["a", "b", "c", "d"], payload=["1", "2", "3", "4"]),
                 side("receiver", ["a", "b", "c", "e"], peer_payload=True), channels=chans, timeout=60)
    assert state["done"] and isinstance(err["receiver"], ProtocolError)
    assert "step 6" in str(err["receiver"]) or "step 5" in str(err["receiver"])
    assert any(w in str(err["receiver"]) for w in ("fails authentication", "points past", "row counts",
                                                     "longer than")), err["receiver"]


def _announce(protocol, rows):
    """A sender that runs the OPRF honestly, then announces ``rows`` rows and sends nothing more."""
    orig = payload_wire.send_entries

    def lying(ch, *a, **k):
        ch.send_json({"rows": rows})
        ch.send(np.zeros(16, dtype=np.uint8))  # a short first frame

    return orig, lying


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("rows,match", [(1 << 30, "step"), ((1 << 30) + 1, "rows"), (1, "rows"), (-5, "rows")])
def test_announced_row_counts_are_checked_before_allocation(monkeypatch, protocol, rows, match):
    _, lying = _announce(protocol, rows)
    monkeypatch.setattr(payload_wire, "send_entries", lying)
    import tracemalloc
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError, match=match):
            run_pair(lambda ch: run_protocol(protocol, "sender", ch, ["a", "b"], payload=["1", "2"]),
                     lambda ch: run_protocol(protocol, "receiver", ch, ["a"], peer_payload=True), timeout=60)
        # 2^30 announced rows of 72+ bytes would be 72 GiB: nothing near that was allocated.
        assert tracemalloc.get_traced_memory()[1] < 1 << 28
    finally:
        tracemalloc.stop()


def test_non_members_cannot_open_entries():
    rng = Rng(b"nm")
    vals = rng.blocks(64)
    inverse = np.arange(64)
    data, off = payload.encode_payloads([b"secret%d" % i for i in range(64)], 64, 32)
    ell = 10
    entries = payload.seal([vals], inverse, data, off, 32, ell, rng)[0]
    nblk = -(-(payload.HEADER + 32) // 16)
    zero = np.zeros(64, dtype=np.int64)
    # A member's value opens its entry; random values (non-members) find no tag and fail every MAC.
    tw = payload.check_sorted(entries, ell, "t")
    item, pt = payload.open_entries(entries, tw, vals[:5], ell, 32, 64, "t")
    assert sorted(payload.payload_bytes(pt[np.argsort(item)])[0].tobytes().split(b"secret")[1:]) == \
        sorted(b"%d" % i for i in range(5))
    others = rng.blocks(64)
    item, pt = payload.open_entries(entries, tw, others, ell, 32, 64, "t")
    assert item.size == 0
    for backend in ("reference", "fused") if payload_kernels.AVAILABLE else ("reference",):
        for k in range(entries.shape[0]):
            with pytest.raises(ProtocolError, match="fails authentication"):
                payload.open_rows(others[k:k + 1], zero[:1], entries[k:k + 1], ell, payload.HEADER + 32, nblk, "t",
                                  backend)
        # the right value with the wrong rank fails too
        tags = payload.tags_of(vals, zero, ell, nblk)
        k = int(np.flatnonzero((entries[:, :ell] == tags[7]).all(axis=1))[0])
        with pytest.raises(ProtocolError):
            payload.open_rows(vals[7:8], np.ones(1, dtype=np.int64), entries[k:k + 1], ell, payload.HEADER + 32,
                              nblk, "t", backend)


@pytest.mark.skipif(not payload_kernels.AVAILABLE, reason="fused kernels need AES-NI and PCLMUL")
@pytest.mark.parametrize("width", [0, 1, 7, 8, 9, 24, 32, 100])
def test_fused_kernels_equal_the_reference(width):
    rng = Rng(b"fk%d" % width)
    n = 37
    f = rng.blocks(n)
    ranks = rng.integers(n, 1000)
    pt = rng.bytes(n * (payload.HEADER + width))
    pt = np.frombuffer(pt, dtype=np.uint8).reshape(n, -1).copy()
    nblk = -(-(payload.HEADER + width) // 16)
    a = payload.seal_rows(f, ranks, pt, 11, nblk, "fused")
    assert np.array_equal(a, payload.seal_rows(f, ranks, pt, 11, nblk, "reference"))
    for backend in ("fused", "reference"):
        assert np.array_equal(payload.open_rows(f, ranks, a, 11, payload.HEADER + width, nblk, "t", backend), pt)
    b = payload.seal_rows(f, ranks, pt, 0, nblk, "fused", tag=payload.TWEAK_ROW, workers=2)
    assert np.array_equal(b, payload.seal_rows(f, ranks, pt, 0, nblk, "reference", tag=payload.TWEAK_ROW))
    assert not np.array_equal(b, a[:, 11:])  # the two tweak tags give unrelated bytes
    item = rng.integers(n, n)
    ptr = rng.integers(n, n)
    for ell in (5, 8, 16):
        w = payload.wrap_rows(f, item, ranks, pt[:, :16] if width >= 8 else f, ptr, ell, "fused")
        assert np.array_equal(w, payload.wrap_rows(f, item, ranks, pt[:, :16] if width >= 8 else f, ptr, ell,
                                                   "reference"))
        for backend in ("fused", "reference"):
            k, p = payload.unwrap_rows(np.ascontiguousarray(f[item]), ranks, w, ell, backend)
            assert np.array_equal(p, ptr)
            assert np.array_equal(k, (pt[:, :16] if width >= 8 else f)[ptr])


def test_ranks_are_random_within_an_item_and_count_rows():
    inverse = np.array([0, 1, 0, 2, 0, 1])
    seen = set()
    for i in range(20):
        rank, mult = payload.row_ranks(inverse, 3, Rng(b"%d" % i))
        assert mult.tolist() == [3, 2, 1]
        assert sorted(rank[inverse == 0].tolist()) == [0, 1, 2] and rank[3] == 0
        seen.add(tuple(rank[inverse == 0].tolist()))
    assert len(seen) > 1


def test_pack_columns_round_trip_and_malformed():
    cols = [["a", "", "日本"], [b"\x00", b"xyz", b""]]
    data, off = payload.pack_columns(cols)
    back = payload.unpack_columns(data, off, 2)
    for (d, o), col in zip(back, cols):
        assert [d[o[i]:o[i + 1]].tobytes() for i in range(3)] == [blob(x) for x in col]
    with pytest.raises(ProtocolError, match="payload 0"):
        payload.unpack_columns(data, off, 3)
    with pytest.raises(ProtocolError):
        payload.unpack_columns(np.frombuffer(b"\xff\xff\xff\xff", dtype=np.uint8), np.array([0, 4]), 1)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_step8_counts_are_checked(monkeypatch, protocol):
    orig = payload_wire.send_own_payloads

    def lying(ch, matched, inverse, data, offsets, width):
        # Claim one row more for the first matched id than is sent.
        from pqmpc.psi import values
        values.send_rows(ch, np.full((matched.shape[0], 1), 5, dtype="<u4"))
        values.send_rows(ch, np.zeros((5 * matched.shape[0], payload.HEADER + width), dtype=np.uint8))

    monkeypatch.setattr(payload_wire, "send_own_payloads", lying)
    with pytest.raises(ProtocolError, match="step 8"):
        run(["a", "b"], ["1", "2"], ["a"], ["r"], protocol=protocol)
    del orig


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 300), width=st.integers(1, 80), ell=st.integers(1, 16), workers=st.integers(1, 3),
       seed=st.binary(min_size=1, max_size=8), few=st.booleans())
def test_sort_rows_by_tag_is_the_checked_order(n, width, ell, workers, seed, few):
    from pqmpc.psi import values
    from pqmpc.psi.payload_join import take_rows

    ell = min(ell, width)
    rows = np.frombuffer(Rng(seed).bytes(n * width), dtype=np.uint8).reshape(n, width).copy()
    if few and n:  # many equal tags: ties keep the input order (a stable sort), as sort_values does
        rows[:, :ell] = rows[np.arange(n) % 3, :ell]
    got = values.sort_rows_by_tag(rows, ell, workers)
    order = np.empty(n, dtype=np.int64)
    if n:
        values.sort_values(values.tag_words(rows, ell), ell, *values.bucket_bits(n, ell), order,
                           np.empty((n, ell), dtype=np.uint8))
    assert np.array_equal(got, take_rows(rows, order)) and values.is_sorted(values.tag_words(got, ell))


def test_random_permutation_is_a_uniform_permutation():
    for n in (0, 1, 2, 5, 1000):
        p = payload.random_permutation(n, Rng(b"perm%d" % n))
        assert sorted(p.tolist()) == list(range(n))
    # all 6 orders of 3 elements, each about 1/6 of the time
    seen = {}
    for i in range(600):
        k = tuple(payload.random_permutation(3, Rng(b"u%d" % i)).tolist())
        seen[k] = seen.get(k, 0) + 1
    assert len(seen) == 6 and min(seen.values()) > 60
