"""Receives turn every malformed or oversized message into a ProtocolError naming the step.

Review findings (issue 12 items 2 and 3): JSON steps leaked RecursionError and
ValueError, and TCP allocated whatever length a peer announced.
"""

import struct
import threading
import time
import tracemalloc

import numpy as np
import pytest

from pqmpc.errors import ChannelClosed, ProtocolError
from pqmpc.net import BufferChannel, Channel, MemoryChannel, TcpChannel
from tests.helpers import tcp_pair


@pytest.fixture
def mem():
    a, b = MemoryChannel.pair(timeout=5.0)
    yield a, b
    a.close()
    b.close()


def test_deeply_nested_json_is_a_protocol_error(mem):
    a, b = mem
    a.send(b"[" * 400_000 + b"]" * 400_000)  # over the default cap
    with pytest.raises(ProtocolError, match="step 3"):
        b.recv_json("step 3")
    a.send(b"[" * 5000 + b"]" * 5000)  # within a raised cap: the parser's recursion
    with pytest.raises(ProtocolError, match="step 4.*nested"):
        b.recv_json("step 4", max_bytes=1 << 20)


def test_huge_integer_is_a_protocol_error(mem):
    a, b = mem
    a.send(b'{"n":' + b"9" * 5000 + b"}")
    with pytest.raises(ProtocolError, match="step 5"):
        b.recv_json("step 5", max_bytes=1 << 20)


@pytest.mark.parametrize("text", [b"NaN", b"[Infinity]", b'{"x":-Infinity}', b"\xff\xfe", b"{", b""])
def test_non_json_is_a_protocol_error(mem, text):
    a, b = mem
    a.send(text)
    with pytest.raises(ProtocolError, match="ctl"):
        b.recv_json("ctl")


def test_json_default_cap_is_small(mem):
    a, b = mem
    a.send_json({"pad": "x" * 5000})
    with pytest.raises(ProtocolError, match="ctl: .*limit of 4096"):
        b.recv_json("ctl")
    a.send_json({"pad": "x" * 5000})
    assert b.recv_json("ctl", max_bytes=8192)["pad"] == "x" * 5000


def _announce_only(sender: TcpChannel, n: int):
    sender.sock.sendall(struct.pack("<I", n))


@pytest.mark.parametrize("call", [
    lambda ch: ch.recv_json("ctl"),
    lambda ch: ch.recv_bytes(32, "ctl"),
    lambda ch: ch.recv_array(np.uint64, (4, 2), "ctl"),
    lambda ch: ch.recv_array(np.uint8, (-1, 16), "ctl", max_bytes=1024),
    lambda ch: ch.recv_bits(100, "ctl"),
    lambda ch: ch.recv_frame(max_bytes=100, step="ctl"),
    lambda ch: ch.recv(max_bytes=100, step="ctl"),
])
def test_announced_length_is_checked_before_the_body(call):
    """The peer announces more than the step expects and sends nothing else: refuse at once."""
    a, b = tcp_pair(timeout=3.0)
    try:
        _announce_only(a, 5000)
        t0 = time.monotonic()
        with pytest.raises(ProtocolError, match=r"ctl: (peer announced a 5000-byte message|expected \d+ bytes, "
                                                r"got 5000 \(refused on the announced length\))"):
            call(b)
        assert time.monotonic() - t0 < 1.0  # did not wait for a body
    finally:
        a.close()
        b.close()


def test_buffer_channel_checks_the_announcement_before_waiting():
    b = BufferChannel(timeout=3.0)
    b.feed(struct.pack("<I", 1 << 20))
    t0 = time.monotonic()
    with pytest.raises(ProtocolError, match="coin"):
        b.recv_bytes(32, "coin")
    assert time.monotonic() - t0 < 1.0


def test_tcp_does_not_allocate_what_the_peer_announces():
    a, b = tcp_pair(timeout=5.0)
    try:
        a.sock.sendall(struct.pack("<I", 512 << 20) + bytes(1000))
        a.close()
        tracemalloc.start()
        try:
            with pytest.raises(ChannelClosed, match="middle of a message"):
                b.recv()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 8 << 20, f"allocated {peak} bytes for a 1000-byte body"
    finally:
        b.close()


def test_tcp_large_frames_still_arrive_whole():
    a, b = tcp_pair(timeout=10.0)
    try:
        data = np.random.default_rng(1).integers(0, 256, (5 << 20) + 123, dtype=np.uint8)
        t = threading.Thread(target=a.send, args=(data,))
        t.start()
        got = b.recv_array(np.uint8, data.shape, "bulk")
        t.join()
        assert np.array_equal(got, data)
    finally:
        a.close()
        b.close()


def test_legacy_recv_frame_override_still_works_and_is_capped():
    """A subclass from before recv_frame took keywords keeps working with the helpers."""

    class Counting(MemoryChannel):
        seen = 0

        def recv_frame(self):
            Counting.seen += 1
            return super().recv_frame()

    a, _ = MemoryChannel.pair()
    b = Counting(a._outbox, a._inbox, timeout=5.0)
    a.send(bytes(32))
    assert b.recv_bytes(32, "x") == bytes(32)
    a.send_json({"k": 1})
    assert b.recv_json("j") == {"k": 1}
    a.send(bytes(33))
    with pytest.raises(ProtocolError, match="x"):
        b.recv_bytes(32, "x")
    assert Counting.seen == 3


def test_message_transport_subclass_is_capped():
    class Queue(Channel):
        def __init__(self, msgs):
            super().__init__()
            self.msgs = list(msgs)

        def _recv_message(self):
            return bytearray(self.msgs.pop(0))

    q = Queue([bytes(64), bytes(16)])
    with pytest.raises(ProtocolError, match="step 1: expected 16 bytes, got 64"):
        q.recv_bytes(16, "step 1")
    assert q.recv_bytes(16, "step 2") == bytes(16)
