"""In-process channel pair for two threads (tests, benchmarks, embedding)."""

from __future__ import annotations

import queue
import sys

from ..errors import ChannelClosed, ChannelTimeout
from .channel import Channel

_CLOSED = object()


def _refs(buf) -> int:
    return sys.getrefcount(buf)


def _baseline() -> int:
    # The count _refs sees for a buffer that only a list holds, taken in the same call shape as
    # _BufferPool.take uses: whatever the interpreter adds for arguments and temporaries is in both.
    held = [bytearray(1)]
    return _refs(held[0])


class _BufferPool:
    """Message copies of one size band recycled once nobody but the pool holds them.

    A received frame stays the receiver's while anything refers to it (an array made from it holds a
    reference), so a buffer is reused only after its last user let go: the next message of the same
    size then goes into memory that is already mapped, where a fresh ``bytearray`` per message could
    land on pages the allocator had returned to the system (a page fault per 4 KiB, every call, in a
    steady stream of large messages). CPython reference counts decide it; the pool is bounded and
    anything past it is a plain copy."""

    #: messages smaller than this are plain copies (the allocator reuses them cheaply)
    MIN_BYTES = 64 << 10
    #: buffers kept per channel end, and their total size
    MAX_BUFFERS = 32
    MAX_BYTES = 64 << 20

    def __init__(self):
        # Reference counts prove "nobody else holds it" only under the GIL: a free-threaded build copies.
        self._on = getattr(sys, "_is_gil_enabled", lambda: True)()
        self._free_refs = _baseline()
        self._bufs: list[bytearray] = []
        self._bytes = 0

    def copy(self, payload) -> bytearray:
        view = memoryview(payload).cast("B")
        n = view.nbytes
        if n < self.MIN_BYTES or not self._on:
            return bytearray(view)
        bufs = self._bufs
        for i in range(len(bufs)):
            if len(bufs[i]) == n and _refs(bufs[i]) == self._free_refs:
                buf = bufs[i]
                buf[:] = view
                return buf
        buf = bytearray(view)
        if len(bufs) < self.MAX_BUFFERS and self._bytes + n <= self.MAX_BYTES:
            bufs.append(buf)
            self._bytes += n
        return buf

    def clear(self) -> None:
        self._bufs.clear()
        self._bytes = 0


class MemoryChannel(Channel):
    """One end of an in-memory pair; build both ends with :meth:`pair`.

    ``send`` copies the payload once (the sender may reuse its buffer right
    after), ``recv`` hands that copy over without another. Large copies are
    recycled once the receiver no longer refers to them (:class:`_BufferPool`).
    """

    def __init__(self, inbox: queue.SimpleQueue, outbox: queue.SimpleQueue, timeout: float | None = None, **kw):
        super().__init__(**kw)
        self._inbox = inbox
        self._outbox = outbox
        self._peer_closed = False
        self._pool = _BufferPool()
        self.timeout = timeout

    @classmethod
    def pair(cls, timeout: float | None = None, **kw) -> tuple["MemoryChannel", "MemoryChannel"]:
        a, b = queue.SimpleQueue(), queue.SimpleQueue()
        return cls(a, b, timeout, **kw), cls(b, a, timeout, **kw)

    def _send_message(self, payload) -> None:
        if self._peer_closed:
            raise ChannelClosed("peer closed the channel")
        self._outbox.put(self._pool.copy(payload))

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
        self._pool.clear()
        self._outbox.put(_CLOSED)
        # Wake a receive blocked on this end too (another thread may be in it).
        self._inbox.put(_CLOSED)
