"""Channels between the two parties: framing, accounting, transports, the secure channel."""

from .buffer import BufferChannel
from .channel import Channel, ChannelStats
from .handshake import handshake, send_abort
from .memory import MemoryChannel
from .pair import run_pair
from .shaped import LAN1G, LAN10G, WAN100M, Link, ShapedChannel, shape_pair
from .tcp import TcpChannel, TcpListener

_SECURE = ("SecureChannel", "Identity", "PublicKey", "generate_psk", "load_psk", "save_psk")

__all__ = ["Channel", "ChannelStats", "MemoryChannel", "TcpChannel", "TcpListener", "BufferChannel",
           "run_pair", "handshake", "send_abort", "ShapedChannel", "Link", "shape_pair", "LAN10G", "LAN1G", "WAN100M",
           *_SECURE]


def __getattr__(name):
    # The secure channel pulls in ML-KEM, X25519 and friends (~50 ms): only on first use.
    if name in _SECURE:
        from . import secure

        return getattr(secure, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
