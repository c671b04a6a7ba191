"""A channel for integrators who carry the bytes themselves.

The protocol runs in its own thread and talks to a ``BufferChannel``; your
transport drains what it wrote (``drain()``, or an ``on_output`` callback)
and feeds in what arrived from the peer (``feed(data)``), in any chunking.
This is the buffering-socket pattern of C++ OT libraries, for stacks that
own their event loop or message bus.
"""

from __future__ import annotations

import threading
import time

from ..errors import ChannelClosed, ChannelTimeout
from .channel import Channel


class BufferChannel(Channel):
    def __init__(self, timeout: float | None = None, on_output=None, **kw):
        super().__init__(**kw)
        self.timeout = timeout
        self.on_output = on_output
        self._out = bytearray()
        self._in = bytearray()
        self._eof = False
        self._cv = threading.Condition()

    def _write(self, parts) -> None:
        data = b"".join(parts)
        if self.on_output is not None:
            self.on_output(data)
            return
        with self._cv:
            self._out += data

    def drain(self) -> bytes:
        """Everything the protocol has sent since the last drain."""
        with self._cv:
            data = bytes(self._out)
            self._out.clear()
        return data

    @property
    def pending(self) -> int:
        with self._cv:
            return len(self._out)

    def feed(self, data) -> None:
        """Hand over bytes that arrived from the peer (any chunk size)."""
        with self._cv:
            self._in += data
            self._cv.notify_all()

    def feed_eof(self) -> None:
        """The peer is gone: a waiting receive raises ChannelClosed."""
        with self._cv:
            self._eof = True
            self._cv.notify_all()

    def _read_exact(self, n: int) -> bytearray:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        with self._cv:
            while len(self._in) < n:
                if self._eof or self.closed:
                    raise ChannelClosed("peer closed the channel")
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise ChannelTimeout(f"no data fed within {self.timeout} s")
                self._cv.wait(left)
            out = self._in[:n]
            del self._in[:n]
            return out

    def _close(self) -> None:
        with self._cv:
            self._cv.notify_all()
