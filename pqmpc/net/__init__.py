"""Channels between the two parties: framing, accounting, transports."""

from .buffer import BufferChannel
from .channel import Channel, ChannelStats
from .handshake import handshake
from .memory import MemoryChannel
from .pair import run_pair
from .tcp import TcpChannel, TcpListener

__all__ = ["Channel", "ChannelStats", "MemoryChannel", "TcpChannel", "TcpListener", "BufferChannel",
           "run_pair", "handshake"]
