"""The command line's flag handshake tells a peer that went away from a peer that is another program."""

from __future__ import annotations

import pytest

from pqmpc.cli.psi_handshake import agree_flags
from pqmpc.errors import ChannelError, ProtocolError, TruncationError
from pqmpc.net import MemoryChannel


class _EndsMidHandshake(MemoryChannel):
    """Sends normally; its first receive finds the connection gone, as a secure channel reports a
    transport that ended without the peer's close record (a peer interrupted mid-handshake)."""

    def _recv_message(self):
        raise TruncationError("the secure channel's connection ended without the peer's close record")


def test_a_connection_that_ends_mid_handshake_is_a_connection_error():
    a, _b = MemoryChannel.pair(timeout=5.0)
    ch = _EndsMidHandshake(a._inbox, a._outbox, timeout=5.0)
    with pytest.raises(ChannelError, match="connection ended") as info:
        agree_flags(ch, {"rows": 1}, "serve")
    assert "not speaking pqmpc" not in str(info.value)


def test_a_first_message_that_is_not_a_handshake_is_another_program():
    a, b = MemoryChannel.pair(timeout=5.0)
    b.send(b"\x00\x01 definitely not json")
    with pytest.raises(ProtocolError, match="not speaking pqmpc") as info:
        agree_flags(a, {"rows": 1}, "serve")
    assert not isinstance(info.value, ChannelError)
