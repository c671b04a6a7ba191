"""Channel.recv_into / recv_array_into: straight from the socket into the caller's buffer on
TCP, a copy on other channels; sizes checked like every receive."""

import socket
import threading

import numpy as np
import pytest

from pqmpc.errors import ChannelClosed, ParameterError, ProtocolError
from pqmpc.net import MemoryChannel, TcpChannel, TcpListener
from pqmpc.net.channel import HEADER


def tcp_socks():
    with TcpListener("127.0.0.1", 0) as lst:
        a = socket.create_connection(("127.0.0.1", lst.port), timeout=10)
        lst.sock.settimeout(10)
        b, _ = lst.sock.accept()
    return a, b


def tcp_pair():
    a, b = tcp_socks()
    return TcpChannel(a, timeout=10), TcpChannel(b, timeout=10)


def both_kinds():
    return [tcp_pair(), MemoryChannel.pair(timeout=10)]


@pytest.mark.parametrize("kind", [0, 1])
@pytest.mark.parametrize("nbytes", [0, 1, 1000, 1 << 16, (1 << 20) + 3, 3 << 20])
def test_roundtrip(kind, nbytes):
    x, y = both_kinds()[kind]
    data = np.random.default_rng(nbytes).integers(0, 256, nbytes, dtype=np.uint8)
    out = np.full(nbytes, 0xAA, np.uint8)
    t = threading.Thread(target=x.send, args=(data,))
    t.start()
    got = y.recv_into(out, "test")
    t.join()
    assert got is out and np.array_equal(out, data)
    assert y.stats.bytes_received == nbytes + HEADER.size and y.stats.messages_received == 1


@pytest.mark.parametrize("kind", [0, 1])
def test_array_into_shapes(kind):
    x, y = both_kinds()[kind]
    data = np.arange(128 * 64, dtype=np.uint64).reshape(128, 64)
    x.send(data[:4])
    scratch = np.zeros((4, 64), np.uint64)
    got = y.recv_array_into(scratch, "rows")
    assert got.shape == (4, 64) and got.dtype == np.uint64 and np.array_equal(got, data[:4])
    assert (got is scratch) == (kind == 0)  # TCP reads into the scratch; memory hands its frame over
    # the stream stays in step for the next message
    x.send(b"next")
    assert y.recv() == b"next"


@pytest.mark.parametrize("kind", [0, 1])
def test_short_and_long_frames_are_protocol_errors(kind):
    x, y = both_kinds()[kind]
    out = np.zeros(100, np.uint8)
    x.send(b"z" * 99)
    with pytest.raises(ProtocolError, match="step A: expected 100 bytes, got 99"):
        y.recv_into(out, "step A")
    x.send(b"y" * 101)
    with pytest.raises(ProtocolError, match="step B: expected 100 bytes"):
        y.recv_into(out, "step B")


def test_long_frame_refused_unread_on_tcp():
    x, y = tcp_pair()
    x.sock.sendall(HEADER.pack(1 << 30))  # announces 1 GiB, sends nothing: never allocated nor awaited
    y.stats.messages_received = 1
    with pytest.raises(ProtocolError, match="refused on the announced length"):
        y.recv_into(np.zeros(64, np.uint8), "U")


def test_foreign_first_frame_on_tcp():
    x, y = tcp_pair()
    x.sock.sendall(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(ProtocolError, match="not speaking pqmpc"):
        y.recv_into(np.zeros(64, np.uint8), "U")


def test_peer_closes_mid_frame():
    x, y = tcp_pair()
    x.sock.sendall(HEADER.pack(1000) + b"a" * 10)
    x.close()
    with pytest.raises(ChannelClosed):
        y.recv_into(np.zeros(1000, np.uint8), "U")


def test_bad_buffers():
    x, y = tcp_pair()
    with pytest.raises(ParameterError):
        y.recv_into(np.zeros((4, 4), np.uint8)[:, :2], "U")
    ro = np.zeros(4, np.uint8)
    ro.flags.writeable = False
    with pytest.raises(ParameterError):
        y.recv_into(ro, "U")
    with pytest.raises(ParameterError):
        y.recv_into(b"abcd", "U")
    with pytest.raises(ParameterError):
        y.recv_into(42, "U")


def test_subclass_receive_hook_is_honoured():
    """A channel that replaces the receive path (tampering, shaping) gets the copying path."""
    class Flip(TcpChannel):
        def recv_frame(self, max_bytes=None, step=None):
            f = super().recv_frame(max_bytes, step)
            f[0] ^= 1
            return f

    a, b = tcp_socks()
    x, y = TcpChannel(a, timeout=10), Flip(b, timeout=10)
    x.send(b"\x00" * 8)
    out = np.zeros(8, np.uint8)
    y.recv_into(out, "U")
    assert out[0] == 1


def x_reads_into_tcp():
    x, y = tcp_pair()
    return x.reads_into and y.reads_into and not MemoryChannel.pair()[0].reads_into


def test_secure_channel_over_tcp_copies_in():
    """The secure channel replaces the receive path: recv_into decrypts, then copies in."""
    from tests.net.secure_helpers import PSK, both, initiator, responder

    res = both(initiator(psk=PSK), responder(psk=PSK), channels=tcp_pair())
    (sx, ex), (sy, ey) = res
    assert ex is None and ey is None
    assert not sy.reads_into and x_reads_into_tcp()
    data = np.random.default_rng(5).integers(0, 256, (300_000,), dtype=np.uint8)
    t = threading.Thread(target=sx.send, args=(data,))
    t.start()
    out = np.zeros_like(data)
    assert sy.recv_into(out, "secure") is out
    t.join()
    assert np.array_equal(out, data)
    sx.send(b"short")
    with pytest.raises(ProtocolError, match="expected 16 bytes"):
        sy.recv_into(np.zeros(16, np.uint8), "secure")
