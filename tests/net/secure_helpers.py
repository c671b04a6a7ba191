"""Shared helpers for the secure-channel tests: both-sides runner, recording relay."""

from __future__ import annotations

import threading

from pqmpc.errors import ChannelClosed, ChannelError
from pqmpc.net import Identity, MemoryChannel, SecureChannel

SEED_A = bytes(range(32))
SEED_B = bytes(range(32, 64))
PSK = bytes(range(64, 96))


def ids():
    return Identity(SEED_A), Identity(SEED_B)


def both(f0, f1, channels=None, timeout=20.0):
    """Run f0(ch0), f1(ch1) in threads; return [(result, exception), ...] for each side (never hangs)."""
    ch0, ch1 = channels if channels is not None else MemoryChannel.pair(timeout=5.0)
    out = [(None, None), (None, None)]

    def body(i, f, ch):
        try:
            out[i] = (f(ch), None)
        except BaseException as exc:  # collected, inspected by the test
            out[i] = (None, exc)

    ts = [threading.Thread(target=body, args=(i, f, c), daemon=True) for i, (f, c) in enumerate(((f0, ch0), (f1, ch1)))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout)
        assert not t.is_alive(), "a side hung"
    return out


def initiator(**kw):
    return lambda ch: SecureChannel.wrap(ch, role="initiator", **kw)


def responder(**kw):
    return lambda ch: SecureChannel.wrap(ch, role="responder", **kw)


class Relay:
    """A man in the middle between two memory pairs; ``mutate(direction, index, frame)``
    returns a list of frames to forward (``[]`` drops, two entries duplicate), or
    ``None`` to cut the connection. Every frame it sees is kept in ``capture``."""

    def __init__(self, mutate=None, timeout=5.0):
        self.a, self._ra = MemoryChannel.pair(timeout=timeout)
        self._rb, self.b = MemoryChannel.pair(timeout=timeout)
        self.mutate = mutate or (lambda d, i, f: [f])
        self.capture: list[tuple[str, bytes]] = []
        self.held: dict[str, bytes] = {}
        self.threads = [threading.Thread(target=self._pump, args=("a->b", self._ra, self._rb), daemon=True),
                        threading.Thread(target=self._pump, args=("b->a", self._rb, self._ra), daemon=True)]
        for t in self.threads:
            t.start()

    def _pump(self, direction, src, dst):
        i = 0
        try:
            while True:
                frame = src.recv()
                self.capture.append((direction, frame))
                out = self.mutate(direction, i, frame)
                i += 1
                if out is None:
                    break
                for f in out:
                    dst.send(f)
        except ChannelError:
            pass
        finally:
            src.close()
            dst.close()

    def stop(self):
        for ch in (self.a, self.b, self._ra, self._rb):
            try:
                ch.close()
            except ChannelClosed:
                pass
        for t in self.threads:
            t.join(5)
