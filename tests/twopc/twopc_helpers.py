"""Helpers shared by the 2PC tests: a channel end that can tamper with or drop messages."""

import numpy as np

from pqmpc.errors import ChannelClosed
from pqmpc.net import Channel, MemoryChannel


class TamperChannel(Channel):
    """Wraps one end of a memory pair; ``on_send(i, data)`` may rewrite message ``i``.

    Returning ``None`` from ``on_send`` simulates the process dying right there: the
    message is not sent and the connection is closed.
    """

    def __init__(self, inner: MemoryChannel, on_send=None):
        super().__init__()
        self.inner = inner
        self.on_send = on_send
        self.sent = 0

    def _send_message(self, payload) -> None:
        data = bytes(payload)
        i = self.sent
        self.sent += 1
        if self.on_send is not None:
            data = self.on_send(i, data)
            if data is None:
                self.inner.close()
                raise ChannelClosed("simulated crash of this party")
        self.inner._send_message(memoryview(data))

    def _recv_message(self):
        return self.inner._recv_message()

    def _close(self) -> None:
        self.inner.close()


def tamper_pair(on_send_0=None, on_send_1=None):
    a, b = MemoryChannel.pair(timeout=30)
    return TamperChannel(a, on_send_0), TamperChannel(b, on_send_1)


def rand_bits(rng: np.random.Generator, *shape) -> np.ndarray:
    return rng.integers(0, 2, size=shape, dtype=np.uint8)


def run_both(f0, f1, channels, timeout=60):
    """Run both parties in threads; return each side's result or exception (never hangs)."""
    import threading

    out = [None, None]

    def body(i, f, ch):
        try:
            out[i] = f(ch)
        except BaseException as exc:
            out[i] = exc
            ch.close()

    threads = [threading.Thread(target=body, args=(i, f, ch), daemon=True)
               for i, (f, ch) in enumerate(zip((f0, f1), channels))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        assert not t.is_alive(), "a party hung"
    return out
