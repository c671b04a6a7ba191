"""Test helpers shared across layers."""

from pqmpc.net import MemoryChannel, TcpChannel


class RecordingChannel(MemoryChannel):
    """A memory channel that keeps a copy of every frame it sends (for transcript vectors)."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.sent = []

    def _send_message(self, payload):
        self.sent.append(bytes(payload))
        super()._send_message(payload)

    def frames_without_handshake(self):
        """The sent frames minus JSON handshakes, which carry the package version."""
        return [f for f in self.sent if not f.startswith(b'{"magic":"pqmpc-handshake/')]


def tcp_pair(timeout=5.0, **kw):
    """Two connected ``TcpChannel`` ends over loopback: ``(accepted, connected)``."""
    return TcpChannel.loopback_pair(timeout, **kw)
