"""The shaped channel: transfers take about size/bandwidth + latency; protocols still run over it."""

import threading
import time

import numpy as np
import pytest

from pqmpc.errors import ParameterError, ProtocolError
from pqmpc.net import LAN1G, WAN100M, Link, MemoryChannel, ShapedChannel, run_pair, shape_pair
from pqmpc.rng import Rng


def timed_transfer(link, nbytes, frames=1):
    a, b = ShapedChannel.pair(link, timeout=10.0)
    data = np.arange(nbytes // frames, dtype=np.uint8)
    got = []

    def recv():
        for _ in range(frames):
            got.append(b.recv())

    t = threading.Thread(target=recv)
    t.start()
    t0 = time.monotonic()
    for _ in range(frames):
        a.send(data)
    t.join()
    elapsed = time.monotonic() - t0
    assert all(g == data.tobytes() for g in got)
    return elapsed


def test_bandwidth_dominated_transfer_takes_size_over_bandwidth():
    link = Link("slow", 200e6, 1e-3)  # 200 Mbit/s: 2.5 MB is 0.1 s of wire time
    nbytes = 2_500_000
    elapsed = timed_transfer(link, nbytes, frames=10)
    model = 8 * nbytes / link.bandwidth + link.latency
    assert 0.9 * model <= elapsed <= 2.0 * model + 0.05


def test_latency_dominated_transfer_takes_one_way_latency():
    elapsed = timed_transfer(WAN100M, 100)
    assert WAN100M.latency <= elapsed <= WAN100M.latency + 0.05


def test_sender_is_not_blocked_by_latency():
    a, b = ShapedChannel.pair(Link("far", 10e9, 0.2), timeout=5.0)
    t0 = time.monotonic()
    for _ in range(5):
        a.send(b"ping")
    assert time.monotonic() - t0 < 0.1  # five sends, no 0.2 s wait each
    for _ in range(5):
        assert b.recv() == b"ping"
    assert time.monotonic() - t0 >= 0.2


def test_round_trips_pay_latency_each_way():
    link = Link("rtt", 10e9, 0.01)

    def ping(ch):
        for _ in range(5):
            ch.send(b"x")
            ch.recv()

    def pong(ch):
        for _ in range(5):
            ch.send(ch.recv())

    t0 = time.monotonic()
    run_pair(ping, pong, channels=ShapedChannel.pair(link, timeout=5.0))
    assert time.monotonic() - t0 >= 10 * link.latency


def test_checked_receives_and_stats_are_those_of_the_protocol():
    a, b = ShapedChannel.pair(LAN1G, timeout=5.0)
    a.send(np.arange(8, dtype=np.uint64))
    assert b.recv_array(np.uint64, (8,), "step").tolist() == list(range(8))
    a.send(b"12345")
    with pytest.raises(ProtocolError, match="step 2"):
        b.recv_array(np.uint8, (4,), "step 2")
    a.send_json({"k": 1})
    assert b.recv_json("json") == {"k": 1}
    assert a.stats.bytes_sent == 64 + 5 + 7 + 3 * 4  # the stamp is not counted
    assert b.stats.bytes_received == 64 + 7 + 2 * 4  # the refused frame is not either


def test_frame_without_stamp_is_a_protocol_error():
    x, y = MemoryChannel.pair(timeout=5.0)
    shaped = ShapedChannel(y, LAN1G)
    x.send(b"abc")
    with pytest.raises(ProtocolError, match="stamp"):
        shaped.recv()


def test_bad_links_are_refused():
    with pytest.raises(ParameterError):
        Link("x", 0, 0)
    with pytest.raises(ParameterError):
        Link("x", 1e9, -1)
    with pytest.raises(ParameterError):
        ShapedChannel(object(), LAN1G)


def test_iknp_runs_over_a_shaped_link():
    from pqmpc.ot import IKNP
    from pqmpc.ot.base.simplest import MRR20X25519OT

    ot = IKNP(base=MRR20X25519OT())
    n = 1000
    choices = Rng(b"c").bits(n)
    (m0, m1), mb = run_pair(lambda ch: ot.send_random(ch, n, Rng(b"s")),
                            lambda ch: ot.receive_random(ch, choices, Rng(b"r")),
                            channels=shape_pair(*MemoryChannel.pair(timeout=120.0), link=LAN1G))
    assert np.array_equal(mb, np.where(choices[:, None] == 1, m1, m0))
