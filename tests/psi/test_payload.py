"""Payload (labeled) PSI against a plain SQL join computed by sqlite3, and its failure modes."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pqmpc.errors import HandshakeError, ParameterError, ProtocolError
from pqmpc.net import MemoryChannel, run_pair
from pqmpc.psi import payload, payload_kernels, payload_wire, psi_receiver, psi_sender, run_psi
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


def run(s_items, s_pl, r_items, r_pl=None, width=payload.DEFAULT_WIDTH, seed=b"p"):
    both = r_pl is not None
    return run_pair(
        lambda ch: run_psi("sender", ch, s_items, Rng(seed + b"s"), both, payload=s_pl, peer_payload=both,
                           payload_width=width),
        lambda ch: run_psi("receiver", ch, r_items, Rng(seed + b"r"), both, payload=r_pl, peer_payload=True,
                           payload_width=width))


def check(s_items, s_pl, r_items, r_pl=None, width=payload.DEFAULT_WIDTH):
    rs, rr = run(s_items, s_pl, r_items, r_pl, width)
    for how in ("inner", "left"):
        assert got_pairs(rr.pairs, len(r_items), how) == sql_join(r_items, s_items, s_pl, how)
    assert rr.indices.tolist() == sorted({r for r, _ in sql_join(r_items, s_items, s_pl)})
    if r_pl is not None:
        for how in ("inner", "left"):
            assert got_pairs(rs.pairs, len(s_items), how) == sql_join(s_items, r_items, r_pl, how)
    else:
        assert rs.pairs is None and rs.indices is None
    return rs, rr


def test_duplicates_empty_unicode_long_both_directions():
    s = ["k1", "k2", "k2", "k2", "日本", "", "k9", "x\x00y"]
    sp = ["a", "b1", "", "b3", "ユニコード", "empty key", "z" * 32, "nul\x00inside"]
    r = ["k2", "k9", "k2", "日本", "nope", "", "x\x00y", "x"]
    rp = ["r1", "", "r3" * 16, "é", "n", "e", "\x00", "q"]
    check(s, sp, r, rp)
    check(s, sp, r)


def test_bytes_payloads_and_exact_width():
    s = [b"\xff", b"\x00", b"k"]
    sp = [bytes(range(16)), b"", b"\xff" * 5]
    check(s, sp, [b"\x00", b"\xff", b"k", b"\xff"], width=16)
    check(s, sp, [b"\x00"], width=16)


keys = st.sampled_from(["a", "b", "c", "é", "", "long" * 10]) | st.text(max_size=4)
cells = st.text(max_size=12) | st.binary(max_size=12)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(s=st.lists(st.tuples(keys, cells), max_size=30), r=st.lists(st.tuples(keys, cells), max_size=30),
       both=st.booleans())
def test_matches_sqlite_join(s, r, both):
    s_items, s_pl = [k for k, _ in s], [p for _, p in s]
    r_items, r_pl = [k for k, _ in r], [p for _, p in r]
    check(s_items, s_pl, r_items, r_pl if both else None, width=48)


@pytest.mark.parametrize("ns,nr", [(0, 0), (0, 1), (1, 0), (1, 1), (200, 300)])
def test_sizes(ns, nr):
    s = [f"k{i % 150}" for i in range(ns)]
    r = [f"k{i}" for i in range(100, 100 + nr)]
    check(s, [f"p{i}" for i in range(ns)], r, [f"q{i}" for i in range(nr)])


def test_too_long_payload_is_refused_before_any_message():
    ch = MemoryChannel.pair()[0]
    with pytest.raises(ParameterError, match="payload of item 1 is 33 bytes, longer than the agreed payload_width"):
        run_psi("sender", ch, ["a", "b"], payload=["x", "y" * 33])
    assert ch.stats.bytes_sent == 0
    with pytest.raises(ParameterError, match="one payload per item"):
        run_psi("sender", ch, ["a", "b"], payload=["x"])
    with pytest.raises(ParameterError, match="reveal_to_sender"):
        run_psi("receiver", ch, ["a"], payload=["x"])
    with pytest.raises(ParameterError, match="payload_width"):
        run_psi("sender", ch, ["a"], payload=["x"], payload_width=-1)


@pytest.mark.parametrize("skw,rkw", [
    ({"payload": ["p"]}, {}),                                            # receiver did not ask
    ({}, {"peer_payload": True}),                                        # sender sends none
    ({"payload": ["p"], "payload_width": 16}, {"peer_payload": True}),  # widths differ
])
def test_disagreement_is_a_handshake_error(skw, rkw):
    with pytest.raises(HandshakeError, match="payload"):
        run_pair(lambda ch: psi_sender(ch, ["a"], **skw), lambda ch: psi_receiver(ch, ["a"], **rkw), timeout=60)


def test_library_calls_return_the_join():
    pj = run_pair(lambda ch: psi_sender(ch, ["a", "b"], payload=["pa", "pb"]),
                  lambda ch: psi_receiver(ch, ["b", "c", "b"], peer_payload=True))[1]
    assert isinstance(pj, payload.PayloadJoin)
    assert pj.pairs() == [(0, b"pb"), (2, b"pb")] and pj.indices.tolist() == [0, 2] and len(pj) == 2


def _tamper(monkeypatch, col):
    orig = payload_wire.recv_list

    def recv(ch, n_rows, ell, width, step):
        entries = orig(ch, n_rows, ell, width, step)
        entries[:, col(ell)] ^= 1
        return entries

    monkeypatch.setattr(payload_wire, "recv_list", recv)


@pytest.mark.parametrize("where", ["ciphertext", "header", "mac"])
def test_tampered_entries_are_rejected(monkeypatch, where):
    col = {"ciphertext": lambda ell: ell + payload.HEADER + 3, "header": lambda ell: ell,
           "mac": lambda ell: -1}[where]
    _tamper(monkeypatch, col)
    with pytest.raises(ProtocolError, match="fails authentication"):
        run(["a", "b"], ["pa", "pb"], ["b"])


def test_tampered_frame_bytes_end_in_protocol_error():
    # Flip one ciphertext byte of every entry in the receiver's entry lists, at the channel.
    chans = MemoryChannel.pair(timeout=30)
    ell = payload_wire.entry_tag_bytes(3, 1)
    width = payload.entry_bytes(ell, payload.DEFAULT_WIDTH)
    orig = chans[1]._recv_message
    state = {"done": 0}

    def recv():
        frame = orig()
        if len(frame) == 3 * width:
            state["done"] += 1
            b = np.frombuffer(bytes(frame), dtype=np.uint8).reshape(3, width).copy()
            b[:, ell + payload.HEADER + 1] ^= 0x40
            return bytearray(b.tobytes())
        return frame

    chans[1]._recv_message = recv
    err = {}

    def side(role, items, **kw):
        def f(c):
            try:
                return run_psi(role, c, items, Rng(role.encode()), **kw)
            except BaseException as exc:
                err[role] = exc
                raise
        return f

    with pytest.raises(ProtocolError):
        run_pair(side("sender", ["a", "b", "c"], payload=["1", "2", "3"]),
                 side("receiver", ["a", "b", "c"], peer_payload=True), channels=chans, timeout=60)
    assert state["done"] and isinstance(err["receiver"], ProtocolError)


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


def test_step8_counts_are_checked(monkeypatch):
    orig = payload_wire.send_own_payloads

    def lying(ch, matched, inverse, data, offsets, width):
        # Claim one row more for the first matched id than is sent.
        from pqmpc.psi import values
        values.send_rows(ch, np.full((matched.shape[0], 1), 5, dtype="<u4"))
        values.send_rows(ch, np.zeros((5 * matched.shape[0], payload.HEADER + width), dtype=np.uint8))

    monkeypatch.setattr(payload_wire, "send_own_payloads", lying)
    with pytest.raises(ProtocolError, match="step 8"):
        run(["a", "b"], ["1", "2"], ["a"], ["r"])
    del orig
