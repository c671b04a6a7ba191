"""In-process channel pair for two threads (tests, benchmarks, embedding)."""

from __future__ import annotations

import queue

from ..errors import ChannelClosed, ChannelTimeout
from .channel import Channel

_CLOSED = object()


class MemoryChannel(Channel):
    """One end of an in-memory pair; build both ends with :meth:`pair`.

    ``send`` copies the payload once (the sender may reuse its buffer right
    after), ``recv`` hands that copy over without another.
    """

    def __init__(self, inbox: queue.SimpleQueue, outbox: queue.SimpleQueue, timeout: float | None = None, **kw):
        super().__init__(**kw)
        self._inbox = inbox
        self._outbox = outbox
        self._peer_closed = False
        self.timeout = timeout

    @classmethod
    def pair(cls, timeout: float | None = None, **kw) -> tuple["MemoryChannel", "MemoryChannel"]:
        a, b = queue.SimpleQueue(), queue.SimpleQueue()
        return cls(a, b, timeout, **kw), cls(b, a, timeout, **kw)

    def _send_message(self, payload) -> None:
        if self._peer_closed:
            raise ChannelClosed("peer closed the channel")
        self._outbox.put(bytearray(payload))

    def _recv_message(self):
        if self._peer_closed:
            raise ChannelClosed("peer closed the channel")
        try:
            item = self._inbox.get(timeout=self.timeout)
        except queue.Empty:
            raise ChannelTimeout(f"no message from peer within {self.timeout} s") from None
        if item is _CLOSED:
            self._peer_closed = True
            raise ChannelClosed("peer closed the channel")
        return item

    def _close(self) -> None:
        self._outbox.put(_CLOSED)
        # Wake a receive blocked on this end too (another thread may be in it).
        self._inbox.put(_CLOSED)
