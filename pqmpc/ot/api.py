"""The one interface every OT offers, base or extension (see docs/api.md).

Subclasses implement random OT (``send_random`` / ``receive_random``); this
class derives chosen-message OT from it with one extra message: the sender
masks ``m0, m1`` with its two random messages and the receiver unmasks the
one it can. The derivation keeps the security of the random OT (semi-honest
against either party) and adds ``2·n·block_bytes`` bytes.
"""

from __future__ import annotations

import abc

import numpy as np

from ..errors import ParameterError
from ..net import Channel


def check_choices(choices) -> np.ndarray:
    """``choices`` as a contiguous ``(n,)`` uint8 array of 0/1 values."""
    c = np.asarray(choices)
    if c.ndim != 1:
        raise ParameterError(f"choices must be a 1-D array of 0/1, got shape {c.shape}")
    if c.size and (c.dtype.kind not in "uib" or c.min() < 0 or c.max() > 1):
        raise ParameterError("choices must contain only 0 and 1")
    return np.ascontiguousarray(c, dtype=np.uint8)


def check_messages(m, width: int, name: str, n: int | None = None) -> np.ndarray:
    m = np.asarray(m)
    if m.dtype != np.uint8 or m.ndim != 2 or m.shape[1] != width or (n is not None and m.shape[0] != n):
        want = f"({n if n is not None else 'n'}, {width})"
        raise ParameterError(f"{name} must be a {want} uint8 array, got {m.dtype} {m.shape}")
    return np.ascontiguousarray(m)


def check_count(n) -> int:
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ParameterError(f"n must be a non-negative integer, got {n!r}")
    return int(n)


class OT(abc.ABC):
    """Oblivious transfer of ``block_bytes``-byte messages, batched over n."""

    #: Human-readable protocol name, used in handshakes and error messages.
    name: str = "OT"
    #: Message width in bytes: 16, or 32 in the 256-bit mode.
    block_bytes: int = 16

    @abc.abstractmethod
    def send_random(self, ch: Channel, n: int, rng=None) -> tuple[np.ndarray, np.ndarray]:
        """Sender side of n random OTs: returns ``(m0, m1)``, each ``(n, block_bytes)``."""

    @abc.abstractmethod
    def receive_random(self, ch: Channel, choices, rng=None) -> np.ndarray:
        """Receiver side: returns ``mb`` with ``mb[i] == (m1 if choices[i] else m0)[i]``."""

    def send(self, ch: Channel, m0, m1, rng=None) -> None:
        """Sender side of n chosen-message OTs."""
        w = self.block_bytes
        m0 = check_messages(m0, w, "m0")
        m1 = check_messages(m1, w, "m1", m0.shape[0])
        r0, r1 = self.send_random(ch, m0.shape[0], rng)
        masked = np.empty((m0.shape[0], 2, w), dtype=np.uint8)
        np.bitwise_xor(m0, r0, out=masked[:, 0])
        np.bitwise_xor(m1, r1, out=masked[:, 1])
        ch.send(masked)

    def receive(self, ch: Channel, choices, rng=None) -> np.ndarray:
        """Receiver side of n chosen-message OTs: returns the chosen messages."""
        choices = check_choices(choices)
        n = choices.shape[0]
        mb = self.receive_random(ch, choices, rng)
        masked = ch.recv_array(np.uint8, (n, 2, self.block_bytes), f"{self.name} chosen-message masks")
        mb ^= masked[np.arange(n), choices]
        return mb
