"""RR22 payload PSI in RR22's reused session workspace: over TCP (entries read straight into the
pool) and in memory, sessions of changing sizes in a row, results that never alias the pool, and
malformed entry frames ending in ProtocolError."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from pqmpc.errors import ProtocolError
from pqmpc.net import MemoryChannel, TcpChannel, TcpListener, run_pair
from pqmpc.primitives.buffers import ScratchPool
from pqmpc.psi import payload, payload_wire, run_protocol
from pqmpc.rng import Rng

from .test_payload import got_pairs, sql_join


def tcp_pair():
    with TcpListener("127.0.0.1", 0) as lst:
        a = socket.create_connection(("127.0.0.1", lst.port), timeout=30)
        lst.sock.settimeout(30)
        b, _ = lst.sock.accept()
    return TcpChannel(a, timeout=60), TcpChannel(b, timeout=60)


def channels(kind):
    return tcp_pair() if kind == "tcp" else MemoryChannel.pair(timeout=60)


def session(kind, s, sp, r, seed=b"w"):
    return run_pair(lambda ch: run_protocol("rr22", "sender", ch, s, Rng(seed + b"s"), payload=sp),
                    lambda ch: run_protocol("rr22", "receiver", ch, r, Rng(seed + b"r"), peer_payload=True),
                    timeout=120, channels=channels(kind))


def case(n, seed):
    g = np.random.default_rng(seed)
    s = [f"k{int(x)}" for x in g.integers(0, 2 * n, n)]   # duplicates on the sender's side too
    r = [f"k{int(x)}" for x in g.integers(0, 2 * n, max(1, n // 2))]
    sp = [f"p{i}-{'x' * int(g.integers(0, 20))}" for i in range(n)]
    return s, sp, r


@pytest.mark.parametrize("kind", ["tcp", "memory"])
def test_sessions_in_a_row_reuse_the_workspace_and_keep_their_results(kind):
    """Sizes up and down (the pool's buffers grow, then serve smaller views); each session's
    results equal the SQL join and stay intact after the next sessions reuse the workspace."""
    kept = []
    for i, n in enumerate([3000, 70000, 500, 3000]):
        s, sp, r = case(n, i)
        rs, rr = session(kind, s, sp, r, bytes([i]))
        want = sql_join(r, s, sp)
        assert got_pairs(rr.pairs) == want
        assert rr.indices.tolist() == sorted({row for row, _ in want})
        kept.append((rr, want, rr.pairs.data.copy(), rr.indices.copy()))
    for rr, want, data, idx in kept:
        assert np.array_equal(rr.pairs.data, data) and np.array_equal(rr.indices, idx)
        assert got_pairs(rr.pairs) == want


def test_tcp_and_memory_give_the_same_results(monkeypatch):
    from pqmpc.psi import values
    calls = []
    orig = values.recv_rows
    monkeypatch.setattr(values, "recv_rows", lambda ch, n, w, step, *a: calls.append(step) or orig(ch, n, w, step, *a))
    s, sp, r = case(20000, 7)
    a = session("tcp", s, sp, r)
    assert not any("payload entries" in c for c in calls)   # one frame: received into the workspace
    b = session("memory", s, sp, r)
    assert got_pairs(a[1].pairs) == got_pairs(b[1].pairs)
    assert a[0].bytes_sent == b[0].bytes_sent and a[1].bytes_sent == b[1].bytes_sent


@pytest.mark.parametrize("n,width,dup", [(1, 8, False), (1000, 32, False), (70000, 32, False), (5000, 9, True)])
def test_pooled_entries_are_byte_identical(n, width, dup):
    rng = Rng(b"pool%d" % n)
    n_distinct = max(1, n // 3) if dup else n
    vals = rng.blocks(n_distinct)
    inverse = np.arange(n) % n_distinct if dup else np.arange(n)
    data, offsets = payload.encode_payloads([b"v%d" % i for i in range(n)], n, width)
    ell = payload_wire.entry_tag_bytes(n, n)
    want = list(payload.seal_iter([vals], inverse, data, offsets, width, ell, Rng(b"x")))
    pool = ScratchPool()
    pool.get("payload entries", (3 * n + 100, 99)).fill(0xAA)  # larger and dirty, as after an earlier session
    for _ in range(2):
        got = list(payload.seal_iter([vals], inverse, data, offsets, width, ell, Rng(b"x"), pool=pool))
        assert len(got) == len(want) and all(np.array_equal(a, b) for a, b in zip(got, want))


def _short_frame(extra):
    """A sender that runs the OPRF honestly, announces its true row count, then sends an entry
    frame ``extra`` bytes off the right size."""
    def lying(ch, value_lists, inverse, data, offsets, width, n_receiver, rng, pool=None):
        n = inverse.shape[0]
        ch.send_json({"rows": int(n)})
        row = payload.entry_bytes(payload_wire.entry_tag_bytes(n, n_receiver), width)
        ch.send(np.zeros(n * row + extra, dtype=np.uint8))
    return lying


@pytest.mark.parametrize("kind", ["tcp", "memory"])
@pytest.mark.parametrize("extra", [-1, 1, 67])
def test_wrong_sized_entry_frames_are_protocol_errors(monkeypatch, kind, extra):
    monkeypatch.setattr(payload_wire, "send_entries", _short_frame(extra))
    with pytest.raises(ProtocolError, match="step 5"):
        session(kind, ["a", "b", "c"], ["1", "2", "3"], ["a", "c"])


@pytest.mark.parametrize("kind", ["tcp", "memory"])
def test_lists_over_one_frame_arrive_frame_by_frame(monkeypatch, kind):
    """Smaller frames (both sides frame by the same rule; the OKVS table still fits one): the entry
    list spans frames, so the receiver takes the frame-by-frame path, not the pooled one; same join."""
    from pqmpc.psi import values
    monkeypatch.setattr(values, "FRAME_BYTES", 1 << 16)
    s, sp, r = case(3000, 11)
    assert 3000 * 60 > 1 << 17   # three frames at least
    calls = []
    orig = values.recv_rows
    monkeypatch.setattr(values, "recv_rows", lambda ch, n, w, step, *a: calls.append(step) or orig(ch, n, w, step, *a))
    rs, rr = session(kind, s, sp, r)
    assert any("payload entries" in c for c in calls)
    assert got_pairs(rr.pairs) == sql_join(r, s, sp)
