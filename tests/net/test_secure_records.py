"""The secure channel's record layer: tampering relays, eavesdropping, caps, rekeying, close."""

from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pqmpc.errors import ChannelClosed, IntegrityError, PqmpcError, ProtocolError, TruncationError
from pqmpc.net import MemoryChannel, SecureChannel
from pqmpc.net.secure import channel as secure_channel

from .secure_helpers import PSK, Relay, both, ids

MARKER = b"PLAINTEXT-MARKER-7f3a9c"
N_MSGS = 4
HANDSHAKE_FRAMES = 2  # message 1 and the initiator's confirmation record go a->b first


def _parties(mode="static+psk"):
    a, b = ids()
    k0 = dict(identity=a, peer=b.public, psk=PSK) if "static" in mode else dict(psk=PSK)
    k1 = dict(identity=b, peer=a.public, psk=PSK) if "static" in mode else dict(psk=PSK)

    def f0(ch):
        s = SecureChannel.wrap(ch, role="initiator", **k0)
        for i in range(N_MSGS):
            s.send(MARKER * (i + 1))
        reply = s.recv()
        s.close()
        return reply

    def f1(ch):
        s = SecureChannel.wrap(ch, role="responder", **k1)
        got = [s.recv() for _ in range(N_MSGS)]
        s.send(b"done")
        return got

    return f0, f1


def _run(mutate):
    relay = Relay(mutate, timeout=5.0)
    try:
        return both(*_parties(), (relay.a, relay.b)), relay
    finally:
        relay.stop()


def test_untouched_relay_passes_and_sees_no_plaintext():
    (r0, e0), (r1, e1) = _run(None)[0]
    assert e0 is None and e1 is None, (e0, e1)
    assert r0 == b"done" and r1 == [MARKER * (i + 1) for i in range(N_MSGS)]
    _, relay = _run(None)
    capture = b"".join(f for _, f in relay.capture)
    assert MARKER not in capture and MARKER[:8] not in capture
    assert b"done" not in capture
    assert PSK not in capture


def _flip(frame: bytes, pos: int) -> bytes:
    b = bytearray(frame)
    b[pos % len(b)] ^= 0x04
    return bytes(b)


TARGET = HANDSHAKE_FRAMES + 1  # the second application record a->b


def _tamper(kind):
    held = {}

    def mutate(direction, i, frame):
        if direction != "a->b":
            return [frame]
        if kind == "flip-body" and i == TARGET:
            return [_flip(frame, -3)]
        if kind == "flip-header" and i == TARGET:
            return [_flip(frame, 1)]  # the length field is authenticated too
        if kind == "drop" and i == TARGET:
            return []
        if kind == "duplicate" and i == TARGET:
            return [frame, frame]
        if kind == "reorder":
            if i == TARGET:
                held["f"] = frame
                return []
            if i == TARGET + 1:
                return [frame, held["f"]]
        if kind == "replay-old" and i == TARGET:
            return [frame, held["first"]]
        if kind == "replay-old" and i == TARGET - 1:
            held["first"] = frame
        if kind == "truncate" and i == TARGET:
            return None  # cut the connection here
        if kind == "flip-handshake" and i == 0:
            return [_flip(frame, 500)]
        return [frame]

    return mutate


@pytest.mark.parametrize("kind", ["flip-body", "flip-header", "drop", "duplicate", "reorder", "replay-old",
                                  "truncate"])
def test_tampering_relay_makes_both_sides_abort(kind):
    (r0, e0), (r1, e1) = _run(_tamper(kind))[0]
    assert isinstance(e0, PqmpcError) and isinstance(e1, PqmpcError), (kind, e0, e1)
    assert isinstance(e1, IntegrityError), (kind, e1)  # the receiver detects it
    if kind == "truncate":
        assert isinstance(e1, TruncationError) and "close record" in str(e1)
        assert isinstance(e0, (TruncationError, ChannelClosed))
    else:
        assert "failed authentication" in str(e1)
        assert isinstance(e0, IntegrityError) and "peer aborted" in str(e0), e0


def test_tampered_handshake_makes_both_sides_abort():
    (r0, e0), (r1, e1) = _run(_tamper("flip-handshake"))[0]
    assert isinstance(e0, ProtocolError) and isinstance(e1, ProtocolError), (e0, e1)


def test_caps_apply_through_the_secure_channel():
    def f0(ch):
        s = SecureChannel.wrap(ch, role="initiator", psk=PSK)
        s.send(bytes(32))
        s.send(np.zeros(6 << 20, np.uint8))  # six records
        return s.recv()

    def f1(ch):
        s = SecureChannel.wrap(ch, role="responder", psk=PSK)
        with pytest.raises(ProtocolError, match="coin: expected 16 bytes, got 32"):
            s.recv_bytes(16, "coin")
        return None

    (r0, e0), (r1, e1) = both(f0, f1)
    assert e1 is None
    assert isinstance(e0, IntegrityError) and "above our limit" in str(e0)


def test_large_announcement_allocates_only_what_arrived():
    sent = threading.Event()

    def f0(ch):
        s = SecureChannel.wrap(ch, role="initiator", psk=PSK)
        s.send(np.zeros(40 << 20, np.uint8))  # queued in memory before the receiver starts measuring
        sent.set()
        return None

    def f1(ch):
        s = SecureChannel.wrap(ch, role="responder", psk=PSK)
        assert sent.wait(10)
        tracemalloc.start()
        try:
            with pytest.raises(ProtocolError, match="big: peer announced a 41943040-byte message"):
                s.recv(max_bytes=1 << 20, step="big")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return peak

    (r0, e0), (peak, e1) = both(f0, f1)
    assert e1 is None and peak < 8 << 20, peak


def test_rekeying_keeps_both_sides_in_step(monkeypatch):
    monkeypatch.setattr(secure_channel, "REKEY_RECORDS", 3)

    def f0(ch):
        s = SecureChannel.wrap(ch, role="initiator", psk=PSK)
        k0 = s._tx.k
        for i in range(10):
            s.send(bytes([i]) * 100)
        assert s._tx.k != k0  # the key really moved on
        return s.recv()

    def f1(ch):
        s = SecureChannel.wrap(ch, role="responder", psk=PSK)
        got = [s.recv() for _ in range(10)]
        s.send(b"ok")
        return got

    (r0, e0), (r1, e1) = both(f0, f1)
    assert e0 is None and e1 is None, (e0, e1)
    assert r0 == b"ok" and r1 == [bytes([i]) * 100 for i in range(10)]


def test_clean_close_versus_cut_connection():
    def f0(ch):
        s = SecureChannel.wrap(ch, role="initiator", psk=PSK)
        s.send(b"bye")
        s.close()

    def f1(ch):
        s = SecureChannel.wrap(ch, role="responder", psk=PSK)
        assert s.recv() == b"bye"
        with pytest.raises(ChannelClosed) as info:
            s.recv()
        assert not isinstance(info.value, TruncationError)
        return True

    (_, e0), (r1, e1) = both(f0, f1)
    assert e0 is None and e1 is None and r1

    def g0(ch):
        SecureChannel.wrap(ch, role="initiator", psk=PSK)
        ch.close()  # the transport goes away without a close record

    def g1(ch):
        s = SecureChannel.wrap(ch, role="responder", psk=PSK)
        with pytest.raises(TruncationError, match="close record"):
            s.recv()
        return True

    (_, e0), (r1, e1) = both(g0, g1)
    assert e1 is None and r1


def test_local_close_unblocks_a_pending_receive():
    box = {}

    def f0(ch):
        s = SecureChannel.wrap(ch, role="initiator", psk=PSK)
        box["s"] = s
        with pytest.raises(ChannelClosed):
            s.recv()
        return True

    def f1(ch):
        s = SecureChannel.wrap(ch, role="responder", psk=PSK)
        import time

        time.sleep(0.2)
        box["s"].close()  # another thread closes our peer's channel while it waits
        with pytest.raises(ChannelClosed):
            s.recv()
        return True

    (r0, e0), (r1, e1) = both(f0, f1)
    assert e0 is None and e1 is None and r0 and r1


def test_stats_count_plaintext_and_inner_counts_wire():
    ch0, ch1 = MemoryChannel.pair(timeout=5.0)

    def f0(ch):
        s = SecureChannel.wrap(ch, role="initiator", psk=PSK)
        s.send(bytes(3 << 20))
        return s

    def f1(ch):
        s = SecureChannel.wrap(ch, role="responder", psk=PSK)
        s.recv()
        return s

    (s0, e0), (s1, e1) = both(f0, f1, (ch0, ch1))
    assert e0 is None and e1 is None
    assert s0.stats.bytes_sent == s1.stats.bytes_received == (3 << 20) + 4
    # message 1 (hello, e, tag), the confirmation record, then three full records
    assert s0.inner.stats.bytes_sent == (30 + 1216 + 16 + 4) + (9 + 23 + 16 + 4) + 3 * (9 + (1 << 20) + 16 + 4)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=300), max_size=12), st.lists(st.binary(max_size=300), max_size=6))
def test_messages_of_any_size_arrive_whole_in_both_directions(monkeypatch, msgs, replies):
    # Tiny records and frequent rekeying so that every boundary case is crossed.
    monkeypatch.setattr(secure_channel, "RECORD_BYTES", 64)
    monkeypatch.setattr(secure_channel, "REKEY_RECORDS", 5)

    def f0(ch):
        s = SecureChannel.wrap(ch, role="initiator", psk=PSK)
        for m in msgs:
            s.send(m)
        return [s.recv() for _ in replies]

    def f1(ch):
        s = SecureChannel.wrap(ch, role="responder", psk=PSK)
        for m in replies:
            s.send(m)
        return [s.recv() for _ in msgs]

    (r0, e0), (r1, e1) = both(f0, f1)
    assert e0 is None and e1 is None, (e0, e1)
    assert r0 == replies and r1 == msgs


def test_records_overrunning_the_announced_length_are_refused_before_decryption():
    """A peer holding the keys sends a second record longer than what is left of the message
    it announced: a ProtocolError naming the overrun, not a ValueError from the AEAD."""

    def f0(ch):
        s = SecureChannel.wrap(ch, role="initiator", psk=PSK)
        with s._send_lock:  # this module's own record writer, used to forge the sequence
            s._send_record(secure_channel.DATA, memoryview(bytes(8)), 10)
            s._send_record(secure_channel.DATA, memoryview(bytes(100)), 10)
        return None

    def f1(ch):
        s = SecureChannel.wrap(ch, role="responder", psk=PSK)
        return s.recv(step="overrun")

    (r0, e0), (r1, e1) = both(f0, f1)
    assert isinstance(e1, ProtocolError) and "overrun the announced 10-byte message" in str(e1), repr(e1)


def test_records_over_tcp_read_into_one_reused_buffer():
    """Over TCP each record lands in the channel's one record buffer (no fresh 1 MiB per
    record) and messages of every size across record boundaries arrive whole, both ways."""
    from pqmpc.net import TcpChannel, TcpListener

    sizes = [0, 1, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 5]
    rng = np.random.default_rng(7)
    msgs = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in sizes]
    listener = TcpListener("127.0.0.1", 0)
    box = {}
    t = threading.Thread(target=lambda: box.setdefault(
        "s", SecureChannel.wrap(listener.accept(5.0), role="responder", psk=PSK)))
    t.start()
    c = SecureChannel.wrap(TcpChannel.connect("127.0.0.1", listener.port, timeout=10.0), role="initiator", psk=PSK)
    t.join(10)
    listener.close()
    s = box["s"]

    def no_fresh_frames(*a, **kw):
        raise AssertionError("a record was read into a fresh buffer")

    s.inner._frame = c.inner._frame = no_fresh_frames  # after the handshake, records only
    buf_id = id(s._rxbuf)
    try:
        for m in msgs:
            c.send(m)
            assert s.recv() == m
            s.send(m[::-1])
            assert c.recv() == m[::-1]
        assert id(s._rxbuf) == buf_id and len(s._rxbuf) == secure_channel.HDR.size + secure_channel.RECORD_BYTES + 16
    finally:
        c.close()
        s.close()
