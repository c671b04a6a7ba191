"""Channels between the two parties: framing, accounting, transports, the secure channel."""

from .buffer import BufferChannel
from .channel import Channel, ChannelStats
from .handshake import handshake
from .memory import MemoryChannel
from .pair import run_pair
from .secure import Identity, PublicKey, SecureChannel, generate_psk, load_psk, save_psk
from .tcp import TcpChannel, TcpListener

__all__ = ["Channel", "ChannelStats", "MemoryChannel", "TcpChannel", "TcpListener", "BufferChannel",
           "run_pair", "handshake", "SecureChannel", "Identity", "PublicKey", "generate_psk", "load_psk",
           "save_psk"]
