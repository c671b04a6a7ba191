"""Bucketed PSI (library): equals the plain intersection / join, handshake checks, resume semantics."""

from __future__ import annotations

import json
import os
import queue

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pqmpc.errors import HandshakeError, ProtocolError
from pqmpc.net import MemoryChannel, run_pair
from pqmpc.psi import psi_receiver, psi_sender
from pqmpc.psi.bucketed import ItemsSource, run_bucketed
from pqmpc.psi.bucketed.handshake import WIRE_VERSION, agree


def brokers():
    """open_channel for each side: the dialer makes a pipe, the listener takes the other end."""
    q = queue.Queue()

    def dial():
        x, y = MemoryChannel.pair()
        q.put(y)
        return x

    return (lambda: q.get(timeout=60)), dial


def bucketed(a, b, pa=None, peer_payload=False, s=None, r=None, pb=None, **kw):
    """Sender holds ``a`` (payloads ``pa``), receiver ``b`` (payloads ``pb``); ``s``/``r``: keywords for one
    side only."""
    acc, dial = brokers()
    return run_pair(
        lambda ch: run_bucketed("sender", ch, ItemsSource(a, payload=pa), dials=False, open_channel=acc, workers=1,
                                **kw, **(s or {})),
        lambda ch: run_bucketed("receiver", ch, ItemsSource(b, payload=pb), dials=True, open_channel=dial, workers=1,
                                peer_payload=peer_payload, **kw, **(r or {})), timeout=300)


def plain(a, b):
    sa = set(x if isinstance(x, bytes) else x.encode() for x in a)
    return [i for i, k in enumerate(b) if (k if isinstance(k, bytes) else k.encode()) in sa]


@pytest.mark.parametrize("protocol", ["rr22", "kkrt"])
@pytest.mark.parametrize("buckets", [1, 5])
def test_equals_plain_intersection(protocol, buckets):
    a = [f"user{i}@x.org" for i in range(0, 900, 2)] + ["dup", "dup", "é"]
    b = [f"user{i}@x.org" for i in range(0, 900, 3)] + ["dup", "é", "dup", "zz"]
    r0, r1 = bucketed(a, b, buckets=buckets, protocol=protocol, reveal_to_sender=True)
    assert r1.indices.tolist() == plain(a, b)
    assert r0.indices.tolist() == plain(b, a)
    assert r1.buckets == r0.buckets == buckets
    assert r1.distinct == len(set(b)) and r1.peer_distinct >= len(set(a))  # the peer's count is padded
    assert r1.intersection == len(set(a) & set(b))


def test_sender_learns_nothing_without_reveal():
    r0, r1 = bucketed(["a", "b", "c"], ["c", "d"], buckets=2)
    assert r0.indices is None and r1.indices.tolist() == [0]


@pytest.mark.parametrize("protocol", ["kkrt", "rr22"])
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from([f"k{i}" for i in range(40)] + ["", "ü", "\0"]), max_size=60),
       st.lists(st.sampled_from([f"k{i}" for i in range(40)] + ["", "ü", "\0"]), max_size=60),
       st.integers(1, 4))
def test_hypothesis_small_sizes_duplicates_empty(protocol, a, b, buckets):
    r0, r1 = bucketed(a, b, buckets=buckets, protocol=protocol, reveal_to_sender=True)
    assert r1.indices.tolist() == plain(a, b)
    assert r0.indices.tolist() == plain(b, a)


def test_payloads_equal_unbucketed_join():
    a = [f"k{i % 70}" for i in range(200)]  # duplicates on the payload side: several pairs per row
    pa = [f"payload-{i}".encode() for i in range(200)]
    b = [f"k{i}" for i in range(0, 140, 3)] + ["k3", "none"]
    r0, r1 = bucketed(a, b, pa=pa, peer_payload=True, buckets=4, payload_width=16)
    ref = run_pair(lambda ch: psi_sender(ch, a, payload=pa, payload_width=16),
                   lambda ch: psi_receiver(ch, b, peer_payload=True, payload_width=16), timeout=120)[1]
    assert r1.pairs.pairs() == ref.pairs()
    assert r1.indices.tolist() == ref.indices.tolist() == plain(a, b)


def test_payloads_both_directions():
    a = [f"k{i % 30}" for i in range(60)]
    pa = [f"s{i}" for i in range(60)]
    b = [f"k{i}" for i in range(0, 50, 2)] + ["k4"]
    pb = [f"r{i}" for i in range(len(b))]
    r0, r1 = bucketed(a, b, pa=pa, pb=pb, peer_payload=True, s={"peer_payload": True}, buckets=3, payload_width=8,
                      reveal_to_sender=True)
    ref = run_pair(lambda ch: psi_sender(ch, a, payload=pa, peer_payload=True, reveal_to_sender=True, payload_width=8),
                   lambda ch: psi_receiver(ch, b, payload=pb, peer_payload=True, reveal_to_sender=True,
                                           payload_width=8), timeout=120)
    assert r0.pairs.pairs() == ref[0].pairs() and r1.pairs.pairs() == ref[1].pairs()


def test_bucket_requests_are_checked():
    from pqmpc.psi.bucketed.sessions import Context, check_request

    ctx = Context(work_dir=".", role="sender", run_id="ab" * 32, buckets=4, counts=[0] * 4, todo=frozenset({1, 3}),
                  protocol="rr22", reveal_to_sender=False, malicious=False, sends_payload=False)
    assert check_request(ctx, {"run": "ab" * 32, "bucket": 3}) == 3
    assert check_request(ctx, {"run": "ab" * 32, "bucket": None}) is None
    for bad in ({"run": "cd" * 32, "bucket": 1}, {"run": "ab" * 32, "bucket": 2}, {"run": "ab" * 32, "bucket": True},
                {"run": "ab" * 32, "bucket": "1"}, {"run": "ab" * 32}, [1], None):
        with pytest.raises(ProtocolError):
            check_request(ctx, bad)


def test_parameter_mismatch_stops_both():
    acc, dial = brokers()
    with pytest.raises(HandshakeError, match="protocol"):
        run_pair(lambda ch: run_bucketed("sender", ch, ItemsSource(["a"]), dials=False, open_channel=acc,
                                         protocol="kkrt", workers=1),
                 lambda ch: run_bucketed("receiver", ch, ItemsSource(["a"]), dials=True, open_channel=dial,
                                         protocol="rr22", workers=1), timeout=60)


def test_explicit_bucket_counts_must_agree_and_suggestions_take_max():
    hello = dict(params={"p": 1}, workers=2, input_digest="0" * 64)
    with pytest.raises(HandshakeError, match="buckets"):
        run_pair(lambda ch: agree(ch, True, rows=10, buckets=3, **hello),
                 lambda ch: agree(ch, False, rows=10, buckets=4, **hello))
    a0, a1 = run_pair(lambda ch: agree(ch, True, rows=10, buckets=None, **hello),
                      lambda ch: agree(ch, False, rows=5 << 20, buckets=None, **{**hello, "workers": 1}))
    assert a0.buckets == a1.buckets == 5 and a0.workers == a1.workers == 1
    assert a0.salt == a1.salt and a0.run_id == a1.run_id


def test_malformed_hello_and_bad_commitment_are_protocol_errors():
    hello = dict(params={"p": 1}, rows=3, buckets=None, workers=1, input_digest="0" * 64)

    def bad_peer(msg):
        def peer(ch):
            ch.recv_json("x", max_bytes=10000)
            ch.send(msg)
            return None
        return peer

    for msg in (b"[1]", b"{", json.dumps({"kind": "x"}).encode(), b"\x00" * 9000):
        with pytest.raises(ProtocolError):
            run_pair(lambda ch: agree(ch, False, **hello), bad_peer(msg), timeout=30)

    def cheat(ch):  # a correct hello and verdict, then an opening that does not match the commitment
        ch.send_json({"kind": "pqmpc-bucketed-psi", "v": WIRE_VERSION, "params": {"p": 1}, "suggest": 1,
                      "buckets": None, "workers": 1, "input": "1" * 64, "resume": None})
        ch.recv_json("h", max_bytes=10000)
        ch.send_json({"problems": []})
        ch.recv_json("v", max_bytes=10000)
        ch.send(b"\x01" * 32)
        ch.recv(100)
        ch.send(b"\x02" * 32)

    with pytest.raises(ProtocolError, match="commitment"):
        run_pair(lambda ch: agree(ch, False, **hello), cheat, timeout=30)


def test_resume_reruns_only_missing_buckets_and_refuses_changed_input(tmp_path):
    a = [f"k{i}" for i in range(500)]
    b = [f"k{i}" for i in range(250, 800)]
    ws, wr = str(tmp_path / "s"), str(tmp_path / "r")
    first = bucketed(a, b, buckets=4, protocol="kkrt", s={"work_dir": ws}, r={"work_dir": wr})[1]
    assert first.indices.tolist() == plain(a, b)
    # Padding: every bucket session announced the same number of distinct items, whatever the bucket held.
    for w, mine in ((wr, b), (ws, a)):
        man = json.load(open(os.path.join(w, "manifest.json")))
        assert sum(man["partition"]["distinct"]) == len(set(mine)) and len(set(man["partition"]["distinct"])) > 1
        assert len({v["peer_distinct"] for v in man["finished"].values()}) == 1
    # Lose one finished bucket on the receiver (as if killed before the manifest recorded it).
    man = json.load(open(os.path.join(wr, "manifest.json")))
    del man["finished"]["2"]
    json.dump(man, open(os.path.join(wr, "manifest.json"), "w"))
    again = bucketed(a, b, buckets=4, protocol="kkrt", s={"work_dir": ws}, r={"work_dir": wr}, resume=True)[1]
    assert again.resumed_buckets == 3
    assert np.array_equal(again.indices, first.indices)
    with pytest.raises(HandshakeError, match="input changed"):
        bucketed(a[:-1] + ["other"], b, buckets=4, protocol="kkrt", s={"work_dir": ws}, r={"work_dir": wr}, resume=True)
    with pytest.raises(Exception, match="--resume"):
        bucketed(a, b, buckets=4, protocol="kkrt", s={"work_dir": ws}, r={"work_dir": wr})


def test_ray_actor_addresses_from_the_peer_are_checked():
    from pqmpc.psi.bucketed.ray_engine import check_addresses

    assert check_addresses({"actors": [["10.0.0.1", 9001], ["h", 9002]]}, 2) == [["10.0.0.1", 9001], ["h", 9002]]
    for bad in ({"actors": [["h", 9001]]}, {"actors": [["h", 0], ["h", 1]]}, {"actors": [["", 1], ["h", 2]]},
                {"actors": [["h", True], ["h", 2]]}, {"actors": [["h" * 256, 1], ["h", 2]]}, {"actors": "x"},
                {"actors": [["h", 1], ["h", 2]], "x": 1}, [], None):
        with pytest.raises(ProtocolError):
            check_addresses(bad, 2)
