import queue
import socket
import struct
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import ChannelClosed, ChannelTimeout, HandshakeError, ParameterError, ProtocolError
from pqmpc.net import BufferChannel, Channel, MemoryChannel, TcpChannel, handshake, run_pair
from tests.helpers import tcp_pair


@pytest.fixture(params=["memory", "tcp", "buffer"])
def pair(request):
    if request.param == "memory":
        a, b = MemoryChannel.pair(timeout=5.0)
    elif request.param == "tcp":
        a, b = tcp_pair()
    else:
        a = BufferChannel(timeout=5.0)
        b = BufferChannel(timeout=5.0)
        a.on_output = b.feed
        b.on_output = a.feed
    yield a, b
    a.close()
    b.close()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.binary(max_size=3000), max_size=8))
def test_messages_arrive_whole_and_in_order(msgs):
    a, b = MemoryChannel.pair(timeout=5.0)
    for m in msgs:
        a.send(m)
    assert [b.recv() for _ in msgs] == msgs
    assert a.stats.bytes_sent == b.stats.bytes_received == sum(len(m) + 4 for m in msgs)
    assert a.stats.messages_sent == b.stats.messages_received == len(msgs)


def test_every_transport_frames_edge_cases(pair):
    a, b = pair
    big = np.arange(3 << 20, dtype=np.uint8)  # larger than one TCP segment or buffer
    for m in (b"", b"x", bytes(70000)):
        a.send(m)
        assert b.recv() == m
    a.send(big)
    got = b.recv_array(np.uint8, big.shape, "big")
    assert np.array_equal(got, big)
    got[0] = 1  # received arrays are writable
    a.send(np.zeros((0, 16), np.uint8))
    assert b.recv_array(np.uint8, (0, 16), "empty").shape == (0, 16)
    assert a.stats.bytes_sent == b.stats.bytes_received


def test_recv_array_checks_length_and_names_step():
    a, b = MemoryChannel.pair(timeout=5.0)
    a.send(bytes(15))
    with pytest.raises(ProtocolError, match="step 7"):
        b.recv_array(np.uint8, (1, 16), "step 7")
    a.send(bytes(40))
    assert b.recv_array(np.uint64, (-1,), "var").shape == (5,)
    a.send(bytes(41))
    with pytest.raises(ProtocolError, match="whole number"):
        b.recv_array(np.uint64, (-1,), "var")


def test_bits_roundtrip_and_padding_check():
    a, b = MemoryChannel.pair(timeout=5.0)
    bits = np.array([1, 0, 1, 1, 0, 0, 0, 1, 1, 1, 0], np.uint8)
    a.send_bits(bits)
    assert np.array_equal(b.recv_bits(11, "bits"), bits)
    a.send(bytes([0, 0xFF]))
    with pytest.raises(ProtocolError, match="padding"):
        b.recv_bits(11, "bits")


def test_non_contiguous_arrays_are_refused():
    a, _ = MemoryChannel.pair()
    with pytest.raises(ParameterError):
        a.send(np.zeros((4, 4), np.uint8)[:, ::2])


def test_absurd_length_is_refused_without_allocating():
    a, b = tcp_pair()
    a.send(b"hello")
    assert b.recv() == b"hello"
    a.sock.sendall(struct.pack("<I", 0xFFFFFFF0))
    with pytest.raises(ProtocolError, match="limit"):
        b.recv()
    a.close()
    b.close()


@pytest.mark.parametrize("first, shown", [(b"HTTP/1.1 400 Bad Request\r\n\r\n", "'HTTP'"),
                                          (b"\x16\x03\x01\x02\x00", "'16 03 01 02'")])
def test_a_peer_not_speaking_pqmpc_is_named_as_such(first, shown):
    # An HTTP server or a TLS client on the other end: its first bytes are no length a pqmpc
    # step would accept, and the user should hear that, not a four-gigabyte message size.
    a, b = tcp_pair()
    a.sock.sendall(first)
    with pytest.raises(ProtocolError, match="not speaking pqmpc") as info:
        b.recv_json("psi handshake")
    assert shown in str(info.value) and "bytes above" not in str(info.value)
    a.close()
    b.close()


def test_small_limit_applies_to_sender_and_receiver():
    a, b = MemoryChannel.pair(max_message=10)
    with pytest.raises(ParameterError, match="chunks"):
        a.send(bytes(11))
    # The receiver's limit holds on its own, whatever the sender allows itself.
    big_sender, _ = MemoryChannel.pair()
    small = MemoryChannel(big_sender._outbox, queue.SimpleQueue(), timeout=5.0, max_message=10)
    big_sender.send(bytes(10))
    assert small.recv() == bytes(10)
    big_sender.send(bytes(11))
    with pytest.raises(ProtocolError, match="limit of 10 bytes"):
        small.recv()


def test_peer_closing_mid_message_is_a_clear_error():
    a, b = tcp_pair()
    a.sock.sendall(struct.pack("<I", 100) + bytes(10))
    a.close()
    with pytest.raises(ChannelClosed, match="middle of a message"):
        b.recv()
    b.close()


def test_tcp_timeout():
    a, b = tcp_pair(timeout=0.2)
    t0 = time.monotonic()
    with pytest.raises(ChannelTimeout, match="no data"):
        b.recv()
    assert time.monotonic() - t0 < 3
    a.close()
    b.close()


def test_connect_retries_until_listener_appears():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    box = {}

    def late_listener():
        time.sleep(0.3)
        box["ch"] = TcpChannel.accept("127.0.0.1", port, timeout=5)

    t = threading.Thread(target=late_listener)
    t.start()
    ch = TcpChannel.connect("127.0.0.1", port, timeout=5, retry_for=5)
    t.join()
    ch.send(b"hi")
    assert box["ch"].recv() == b"hi"
    ch.close()
    box["ch"].close()


def test_connect_gives_up_with_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(Exception, match=f"could not connect to 127.0.0.1:{port}"):
        TcpChannel.connect("127.0.0.1", port, timeout=1, retry_for=0.2)


def test_run_pair_returns_both_results():
    def f0(ch):
        ch.send(b"ping")
        return ch.recv()

    def f1(ch):
        m = ch.recv()
        ch.send(m + b"/pong")
        return len(m)

    assert run_pair(f0, f1) == (b"ping/pong", 4)


def test_run_pair_reraises_and_unblocks_the_other_side():
    def f0(ch):
        raise ValueError("boom on side 0")

    def f1(ch):
        return ch.recv()  # would hang forever without the unblocking close

    t0 = time.monotonic()
    with pytest.raises(ValueError, match="boom on side 0"):
        run_pair(f0, f1)
    assert time.monotonic() - t0 < 5


def test_run_pair_timeout():
    with pytest.raises(ChannelTimeout):
        run_pair(lambda ch: time.sleep(0.5), lambda ch: ch.recv(), timeout=0.1)


def test_handshake_mismatch_fails_on_both_sides():
    errors = []

    def side(params):
        def f(ch):
            try:
                handshake(ch, "demo", 1, params)
            except HandshakeError as exc:
                errors.append(str(exc))
                raise
        return f

    with pytest.raises(HandshakeError, match="kappa: ours"):
        run_pair(side({"kappa": 128, "n": 5}), side({"kappa": 256, "n": 5}))
    assert len(errors) == 2 and all("kappa" in e and "n:" not in e for e in errors)


def test_handshake_roles():
    def f(role, peer):
        return lambda ch: handshake(ch, "p", 1, {}, role=role, peer_role=peer)

    run_pair(f("sender", "receiver"), f("receiver", "sender"))
    with pytest.raises(HandshakeError, match="role"):
        run_pair(f("sender", "receiver"), f("sender", "receiver"))


def test_handshake_rejects_a_non_pqmpc_peer():
    def f0(ch):
        ch.send(b"HELLO")
        return ch.recv()

    with pytest.raises(ProtocolError):
        run_pair(f0, lambda ch: handshake(ch, "p", 1))


def test_buffer_channel_drain_and_feed_in_pieces():
    a = BufferChannel(timeout=5.0)
    a.send(b"hello")
    a.send(np.arange(3, dtype=np.uint16))
    wire = a.drain()
    assert a.drain() == b""
    b = BufferChannel(timeout=5.0)
    result = {}
    t = threading.Thread(target=lambda: result.update(x=b.recv(), y=b.recv()))
    t.start()
    for i in range(len(wire)):  # one byte at a time
        b.feed(wire[i:i + 1])
    t.join(5)
    assert result == {"x": b"hello", "y": np.arange(3, dtype=np.uint16).tobytes()}


def test_buffer_channel_eof():
    b = BufferChannel(timeout=5.0)
    b.feed(b"\x05\x00")
    b.feed_eof()
    with pytest.raises(ChannelClosed):
        b.recv()


def test_subclass_on_a_byte_stream():
    """Integrators subclass Channel with two hooks; framing comes for free."""

    class Pipe(Channel):
        def __init__(self):
            super().__init__()
            self.buf = bytearray()

        def _write(self, parts):
            for p in parts:
                self.buf += p

        def _read_exact(self, n):
            if len(self.buf) < n:
                raise ChannelClosed("empty")
            out = self.buf[:n]
            del self.buf[:n]
            return out

    p = Pipe()
    p.send(b"abc")
    p.send_json({"k": [1, 2]})
    assert p.recv() == b"abc"
    assert p.recv_json("json") == {"k": [1, 2]}
    with pytest.raises(ChannelClosed):
        p.recv()


def test_a_peer_that_stops_before_the_session_says_why():
    # An input error found before the handshake (a missing column, an unreadable file) reaches
    # the peer as one line instead of a timeout; a mangled reason is still a PeerStopped.
    from pqmpc.errors import PeerStopped
    from pqmpc.net import handshake, send_abort

    a, b = MemoryChannel.pair(timeout=5.0)
    assert send_abort(a, "input error: column 'email' not found in a.csv" + "x" * 1000)
    with pytest.raises(PeerStopped, match="other side stopped before the session: input error: column 'email'") as e:
        handshake(b, "psi", 2, role="sender")
    assert len(str(e.value)) < 400
    a.send_json({"magic": "pqmpc-handshake/1", "abort": {"not": "a string"}})
    with pytest.raises(PeerStopped):
        handshake(b, "psi", 2)
    b.close()
    assert not send_abort(b, "closed")


def test_loopback_pair_is_one_connection_and_leaves_no_listener():
    a, b = TcpChannel.loopback_pair(timeout=5.0)
    try:
        assert a.sock.getsockname() == b.sock.getpeername() and b.sock.getsockname() == a.sock.getpeername()
        port = a.sock.getsockname()[1]
        a.send(b"ping")
        assert b.recv() == b"ping"
    finally:
        a.close()
        b.close()
    with pytest.raises(OSError):  # the listening socket was closed once the pair was made
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def _frame_of(arr):
    while isinstance(arr, np.ndarray):
        arr = arr.base
    return arr.obj if isinstance(arr, memoryview) else arr


def test_memory_channel_reuses_a_large_copy_only_after_the_receiver_let_go():
    """Large message copies are recycled (no fresh pages per message), but never while anything the
    receiver holds still refers to one: an array received earlier keeps its bytes whatever follows."""
    a, b = MemoryChannel.pair(timeout=5.0)
    n = 1 << 17
    first = np.full(n, 1, np.uint8)
    a.send(first)
    kept = b.recv_array(np.uint8, (n,), "first")
    for v in range(2, 6):  # same size, while ``kept`` is alive: each must go to another buffer
        a.send(np.full(n, v, np.uint8))
        got = b.recv_array(np.uint8, (n,), "next")
        assert (got == v).all()
        assert (kept == 1).all()
        del got
    first_id = id(_frame_of(kept))
    del kept
    a.send(np.full(n, 9, np.uint8))
    again = b.recv_array(np.uint8, (n,), "again")
    assert (again == 9).all()
    assert id(_frame_of(again)) == first_id  # the first buffer, free again, was reused
    assert len(a._pool._bufs) == 2
    # a different size or a small message never takes a pooled buffer of another size
    a.send(np.full(n + 1, 7, np.uint8))
    assert (b.recv_array(np.uint8, (n + 1,), "odd") == 7).all()
    a.send(b"tiny")
    assert b.recv_bytes(4, "tiny") == b"tiny"
    a.close()
    b.close()
