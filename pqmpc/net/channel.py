"""The ``Channel`` base class: framing, accounting and checked receives.

Wire format of one message: ``u32 little-endian payload length ‖ payload``.

A transport plugs in at one of two levels:

* a byte stream (TCP, a pipe, your own socket wrapper): implement
  ``_write(parts)`` (write every buffer in order) and ``_read_exact(n)``
  (return exactly ``n`` bytes or raise :class:`ChannelClosed`); framing,
  the size cap and the statistics come from this class;
* a message transport (queues, an RPC layer that already frames): override
  ``_send_message(payload)`` and ``_recv_message()`` instead.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

import numpy as np

from ..errors import ChannelClosed, ParameterError, ProtocolError

HEADER = struct.Struct("<I")
DEFAULT_MAX_MESSAGE = 1 << 30  # 1 GiB: bulk protocols chunk well below this.


@dataclass
class ChannelStats:
    """Bytes and messages through one end of a channel (frame headers included)."""

    bytes_sent: int = 0
    bytes_received: int = 0
    messages_sent: int = 0
    messages_received: int = 0

    def snapshot(self) -> "ChannelStats":
        return ChannelStats(self.bytes_sent, self.bytes_received, self.messages_sent, self.messages_received)

    def since(self, earlier: "ChannelStats") -> "ChannelStats":
        return ChannelStats(
            self.bytes_sent - earlier.bytes_sent,
            self.bytes_received - earlier.bytes_received,
            self.messages_sent - earlier.messages_sent,
            self.messages_received - earlier.messages_received,
        )

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def as_buffer(data) -> memoryview:
    """A flat byte view of ``data`` without copying it."""
    if isinstance(data, np.ndarray):
        if not data.flags.c_contiguous:
            raise ParameterError("numpy arrays sent on a channel must be C-contiguous")
        data = data.reshape(-1).view(np.uint8)
    try:
        mv = memoryview(data)
    except TypeError as exc:
        raise ParameterError(f"cannot send {type(data).__name__}: need bytes-like or numpy array") from exc
    if not mv.c_contiguous:
        raise ParameterError("buffers sent on a channel must be contiguous")
    return mv.cast("B") if mv.format != "B" or mv.ndim != 1 else mv


class Channel:
    """A reliable, ordered, framed message pipe between two parties."""

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE):
        self.stats = ChannelStats()
        self.max_message = max_message
        self.closed = False

    # -- transport hooks --------------------------------------------------
    def _write(self, parts: list[memoryview]) -> None:
        raise ChannelClosed(f"{type(self).__name__} implements neither _write nor _send_message")

    def _read_exact(self, n: int):
        raise ChannelClosed(f"{type(self).__name__} implements neither _read_exact nor _recv_message")

    def _send_message(self, payload: memoryview) -> None:
        self._write([memoryview(HEADER.pack(payload.nbytes)), payload])

    def _recv_message(self):
        header = self._read_exact(HEADER.size)
        (n,) = HEADER.unpack(bytes(header))
        if n > self.max_message:
            # Never allocate what a peer merely announces.
            raise ProtocolError(
                f"peer announced a {n}-byte message, above this channel's limit of {self.max_message} bytes"
            )
        return self._read_exact(n) if n else bytearray()

    def _close(self) -> None:
        pass

    # -- public API ---------------------------------------------------------
    def send(self, data) -> None:
        """Send one message: bytes-like or a C-contiguous numpy array (no copy)."""
        if self.closed:
            raise ChannelClosed("channel is closed")
        payload = as_buffer(data)
        if payload.nbytes > self.max_message:
            raise ParameterError(
                f"message of {payload.nbytes} bytes exceeds the channel limit of {self.max_message}; send it in chunks"
            )
        self._send_message(payload)
        self.stats.bytes_sent += payload.nbytes + HEADER.size
        self.stats.messages_sent += 1

    def recv_frame(self):
        """One message as a writable buffer (``bytearray`` for built-in transports)."""
        if self.closed:
            raise ChannelClosed("channel is closed")
        frame = self._recv_message()
        self.stats.bytes_received += len(frame) + HEADER.size
        self.stats.messages_received += 1
        return frame

    def recv(self) -> bytes:
        """One message as ``bytes``."""
        frame = self.recv_frame()
        return frame if isinstance(frame, bytes) else bytes(frame)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- checked helpers used by every protocol ---------------------------
    def recv_bytes(self, nbytes: int, step: str) -> bytes:
        frame = self.recv_frame()
        if len(frame) != nbytes:
            raise ProtocolError(f"{step}: expected {nbytes} bytes, got {len(frame)}")
        return bytes(frame)

    def recv_array(self, dtype, shape, step: str) -> np.ndarray:
        """Receive one message as an array of exactly ``shape`` (one ``-1`` allowed)."""
        dtype = np.dtype(dtype)
        shape = tuple(int(s) for s in (shape if isinstance(shape, (tuple, list)) else (shape,)))
        frame = self.recv_frame()
        got = len(frame)
        if shape.count(-1) > 1:
            raise ParameterError("at most one -1 in a shape")
        fixed = dtype.itemsize
        for s in shape:
            if s != -1:
                fixed *= s
        if -1 in shape:
            if fixed == 0 or got % fixed:
                raise ProtocolError(f"{step}: {got} bytes is not a whole number of {fixed}-byte rows")
            shape = tuple(got // fixed if s == -1 else s for s in shape)
        elif got != fixed:
            raise ProtocolError(f"{step}: expected {fixed} bytes, got {got}")
        if not isinstance(frame, bytearray):
            frame = bytearray(frame)
        return np.frombuffer(frame, dtype=dtype).reshape(shape)

    def send_bits(self, bits: np.ndarray) -> None:
        """Send 0/1 values packed eight to a byte, little-endian bit order."""
        self.send(np.packbits(np.asarray(bits, dtype=np.uint8), bitorder="little"))

    def recv_bits(self, n: int, step: str) -> np.ndarray:
        packed = self.recv_array(np.uint8, ((n + 7) // 8,), step)
        if n % 8 and packed[-1] >> (n % 8):
            raise ProtocolError(f"{step}: padding bits of the packed bit vector are not zero")
        return np.unpackbits(packed, count=n, bitorder="little")

    def send_json(self, obj) -> None:
        self.send(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode())

    def recv_json(self, step: str, max_bytes: int = 1 << 20):
        frame = self.recv_frame()
        if len(frame) > max_bytes:
            raise ProtocolError(f"{step}: control message of {len(frame)} bytes is too large")
        try:
            return json.loads(bytes(frame).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProtocolError(f"{step}: control message is not valid JSON ({exc})") from None
