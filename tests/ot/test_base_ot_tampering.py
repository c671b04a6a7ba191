"""Every base OT against a peer whose channel mutates one message it sends.

For each protocol, each side and each message that side sends (the handshake
included), the message is truncated, extended, emptied, doubled, bit-flipped or
overwritten with 0xFF bytes. A change of length must end the run with a
``ProtocolError`` that names the protocol step; a same-length change may also
go unnoticed (nothing authenticates these messages) but must never raise
anything else. ``run_pair``'s timeout turns a hang into a failure.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from pqmpc.errors import ChannelError, ProtocolError
from pqmpc.net import MemoryChannel, run_pair
from pqmpc.ot.base.kyber import KyberOT
from pqmpc.ot.base.saber import SaberOT
from pqmpc.ot.base.simplest import SimplestOT
from pqmpc.rng import Rng

N = 3


def _flip(b: bytes) -> bytes:
    if not b:
        return b
    out = bytearray(b)
    out[len(b) // 2] ^= 0x10
    return bytes(out)


MUTATIONS = {
    "truncate": (lambda b: b[:-1], True),
    "extend": (lambda b: b + b"\x00", True),
    "empty": (lambda b: b"", True),
    "double": (lambda b: b + b, True),
    "bitflip": (_flip, False),
    "ones": (lambda b: b"\xff" * len(b), False),
}


class TamperChannel(MemoryChannel):
    """A memory channel that mutates the ``target``-th message it sends (0 = handshake)."""

    def __init__(self, *args, target: int = 0, mutate=None, **kw):
        super().__init__(*args, **kw)
        self.target = target
        self.mutate = mutate
        self.count = 0
        self.tampered = False

    def _send_message(self, payload):
        if self.count == self.target and self.mutate is not None:
            payload = memoryview(self.mutate(bytes(payload)))
            self.tampered = True
        self.count += 1
        super()._send_message(payload)


def tamper_pair(side: int, target: int, mutate):
    """A memory pair whose end ``side`` (0 sender, 1 receiver) tampers."""
    import queue

    a, b = queue.SimpleQueue(), queue.SimpleQueue()
    ends = [MemoryChannel(a, b, 30), MemoryChannel(b, a, 30)]
    inbox, outbox = (a, b) if side == 0 else (b, a)
    ends[side] = TamperChannel(inbox, outbox, 30, target=target, mutate=mutate)
    return tuple(ends)


OTS = {
    "mlkem768": lambda: KyberOT("ML-KEM-768"),
    "saber-np": lambda: SaberOT("LightSaber", "np"),
    "saber-mr": lambda: SaberOT("LightSaber", "mr"),
    "x25519": lambda: SimplestOT(),
}
# Messages each side sends in one chosen-message run, handshake included:
# (sender, receiver).
MESSAGES = {"mlkem768": (3, 2), "saber-np": (4, 4), "saber-mr": (3, 2), "x25519": (3, 2)}
CASES = [(name, side, target, mut)
         for name, counts in MESSAGES.items()
         for side in (0, 1)
         for target in range(counts[side])
         for mut in MUTATIONS]


def _honest_counts(name):
    """How many messages each side sends in an honest chosen-message run (checks MESSAGES)."""
    ot = OTS[name]()
    chans = MemoryChannel.pair()
    rng = Rng(b"m")
    m0, m1, c = rng.blocks(N, ot.block_bytes), rng.blocks(N, ot.block_bytes), rng.bits(N)
    run_pair(lambda ch: ot.send(ch, m0, m1, Rng(b"s")), lambda ch: ot.receive(ch, c, Rng(b"r")),
             timeout=60, channels=chans)
    return chans[0].stats.messages_sent, chans[1].stats.messages_sent


@pytest.mark.parametrize("name", list(OTS))
def test_message_counts(name):
    assert _honest_counts(name) == MESSAGES[name]


@pytest.mark.parametrize("name,side,target,mutation", CASES)
def test_tampered_message(name, side, target, mutation):
    ot = OTS[name]()
    mutate, changes_length = MUTATIONS[mutation]
    rng = Rng(b"m")
    m0, m1, choices = rng.blocks(N, ot.block_bytes), rng.blocks(N, ot.block_bytes), rng.bits(N)
    chans = tamper_pair(side, target, mutate)
    try:
        _, got = run_pair(lambda ch: ot.send(ch, m0, m1, Rng(b"s")),
                          lambda ch: ot.receive(ch, choices, Rng(b"r")), timeout=60, channels=chans)
    except ProtocolError as exc:
        assert re.search(r"step \d|handshake|chosen-message", str(exc)), f"error does not name a step: {exc}"
        return
    except ChannelError as exc:  # pragma: no cover - would be a bug: the peer must see a ProtocolError
        pytest.fail(f"{type(exc).__name__} instead of ProtocolError: {exc}")
    assert chans[side].tampered
    assert not changes_length, f"a {mutation}d message was accepted"
    assert got.shape == (N, ot.block_bytes)
    # Accepted only with the same length; then the outputs are wrong or right, but typed.
    assert got.dtype == np.uint8
