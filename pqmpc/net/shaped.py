"""A channel wrapper that imposes a link's bandwidth and one-way latency (for benchmarks).

``ShapedChannel(inner, link)`` wraps any :class:`~pqmpc.net.Channel`; both ends
of a connection must be wrapped with the same :class:`Link` (see :func:`shape_pair`
and :meth:`ShapedChannel.pair`). Each direction is its own link, as on a
full-duplex network.

Model (one direction): the link serialises frames in order at ``bandwidth``
bits per second. A frame of ``b`` bytes (payload plus the 4-byte frame header)
that is sent at time ``s`` starts transmitting at ``start = max(s, free)``,
where ``free`` is when the link finishes the previous frame, and leaves at
``done = start + 8·b / bandwidth``; it is delivered at ``done + latency``.

* The sender is held back by bandwidth only, like a writer on a socket whose
  send buffer holds ``buffer`` bytes: ``send`` returns once at most ``buffer``
  bytes are still queued on the link (a token bucket of that depth). Latency
  never blocks the sender.
* The receiver sleeps until the frame's delivery time. Every wait is a
  ``time.sleep`` (no busy waiting), so the modelled time is accurate to the
  scheduler's sleep granularity (tens of µs on Linux), which is far below
  the per-frame delays of the presets.

The delivery time travels in an 8-byte prefix of each frame on the inner
channel, read off ``time.monotonic()``: both ends must share that clock, i.e.
run on one host (threads of one process, or processes on one machine over a
loopback TCP channel). This is a benchmarking tool, not a transport. The
wrapper's ``stats`` count the protocol's bytes as an unshaped channel would
(the prefix is not counted); the inner channel's stats include it.

Presets: :data:`LAN10G` (10 Gbit/s, 0.05 ms one-way), :data:`LAN1G`
(1 Gbit/s, 0.5 ms one-way), :data:`WAN100M` (100 Mbit/s, 20 ms one-way).
"""

from __future__ import annotations

import struct
import threading
import time
from dataclasses import dataclass

from ..errors import ParameterError, ProtocolError
from .channel import HEADER, Channel
from .memory import MemoryChannel

_STAMP = struct.Struct("<d")


@dataclass(frozen=True)
class Link:
    """One direction of a network link: ``bandwidth`` in bit/s, one-way ``latency`` in s,
    ``buffer``: bytes a sender may have queued on the link before ``send`` waits."""

    name: str
    bandwidth: float
    latency: float
    buffer: int = 1 << 20

    def __post_init__(self):
        if not self.bandwidth > 0:
            raise ParameterError(f"bandwidth must be positive, got {self.bandwidth!r}")
        if not self.latency >= 0:
            raise ParameterError(f"latency must be non-negative, got {self.latency!r}")
        if not (isinstance(self.buffer, int) and self.buffer >= 0):
            raise ParameterError(f"buffer must be a non-negative int, got {self.buffer!r}")

    def transfer_time(self, nbytes: int) -> float:
        """Modelled time for one frame of ``nbytes`` payload bytes to arrive on an idle link."""
        return 8 * (nbytes + HEADER.size) / self.bandwidth + self.latency


LAN10G = Link("LAN10G", 10e9, 0.05e-3)
LAN1G = Link("LAN1G", 1e9, 0.5e-3)
WAN100M = Link("WAN100M", 100e6, 20e-3)
PRESETS = {link.name: link for link in (LAN10G, LAN1G, WAN100M)}


def _sleep_until(t: float) -> None:
    delay = t - time.monotonic()
    if delay > 0:
        time.sleep(delay)


class ShapedChannel(Channel):
    """``inner`` with ``link``'s bandwidth and latency imposed on every frame (module docstring)."""

    def __init__(self, inner: Channel, link: Link = LAN1G):
        if not isinstance(inner, Channel):
            raise ParameterError(f"inner must be a Channel, not {type(inner).__name__}")
        if not isinstance(link, Link):
            raise ParameterError(f"link must be a Link (e.g. LAN1G), not {type(link).__name__}")
        super().__init__(max_message=inner.max_message - _STAMP.size)
        self.inner = inner
        self.link = link
        self._free = 0.0  # when the outgoing link finishes the frames queued so far
        self._lock = threading.Lock()

    @classmethod
    def pair(cls, link: Link = LAN1G, **kw) -> tuple["ShapedChannel", "ShapedChannel"]:
        """Two ends of a shaped in-memory link (``kw`` go to :meth:`MemoryChannel.pair`)."""
        a, b = MemoryChannel.pair(**kw)
        return cls(a, link), cls(b, link)

    def _send_message(self, payload) -> None:
        link = self.link
        with self._lock:
            now = time.monotonic()
            start = max(now, self._free)
            self._free = start + 8 * (payload.nbytes + HEADER.size) / link.bandwidth
            deliver = self._free + link.latency
            # Hold the writer while more than `buffer` bytes are still queued on the link.
            release = self._free - 8 * link.buffer / link.bandwidth
        self.inner.send(_concat(deliver, payload))
        _sleep_until(release)

    def _recv_bounded(self, limit: int, step: str | None, exact: bool = False):
        frame = self.inner.recv_frame(max_bytes=limit + _STAMP.size, step=step)
        if len(frame) < _STAMP.size:
            raise ProtocolError(f"{step or 'shaped channel'}: frame of {len(frame)} bytes lacks the delivery stamp")
        (deliver,) = _STAMP.unpack_from(frame)
        _sleep_until(deliver)
        if isinstance(frame, bytearray):
            del frame[:_STAMP.size]  # bytearray drops a prefix in place, without copying the body
            return frame
        return bytes(frame)[_STAMP.size:]

    def _close(self) -> None:
        self.inner.close()


def _concat(deliver: float, payload) -> bytearray:
    buf = bytearray(_STAMP.size + payload.nbytes)
    _STAMP.pack_into(buf, 0, deliver)
    buf[_STAMP.size:] = payload
    return buf


def shape_pair(ch0: Channel, ch1: Channel, link: Link = LAN1G) -> tuple[ShapedChannel, ShapedChannel]:
    """Wrap both ends of an existing connection with the same link."""
    return ShapedChannel(ch0, link), ShapedChannel(ch1, link)


__all__ = ["Link", "ShapedChannel", "shape_pair", "LAN10G", "LAN1G", "WAN100M", "PRESETS"]
