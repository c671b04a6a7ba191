"""What every PSI session shares, whatever the OPRF: result, limits, coin toss, set sizes, phases.

The protocol modules (:mod:`.kkrt_psi`) run their steps between these: a
handshake, :func:`coin_toss` (step 2), :func:`exchange_sizes` (step 3), then
their own steps. Every receive here is capped by what the step expects and
turns anything malformed into :class:`~pqmpc.errors.ProtocolError` naming the
step.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import PqmpcError, ProtocolError
from ..net import Channel

__all__ = ["LAMBDA", "MAX_ITEMS", "CONTROL_MAX_BYTES", "PeerAbort", "PsiResult", "Phases", "default_base_ot",
           "tag_bytes", "recv_control", "coin_toss", "exchange_sizes"]

#: Statistical security: false matches and cuckoo failures each at most 2^-λ per session.
LAMBDA = 40
#: Distinct items per side (the cuckoo table then needs fewer than 2^31 bins).
MAX_ITEMS = 1 << 30
#: Cap on a control (JSON) message, checked before it is parsed.
CONTROL_MAX_BYTES = 4096


class PeerAbort(ProtocolError):
    """The peer stopped the session and said why (a ProtocolError like every ending a peer causes)."""


@dataclass
class PsiResult:
    """Everything one run produced (the library calls return only ``indices``)."""

    indices: np.ndarray | None
    items: int
    distinct: int
    peer_distinct: int
    intersection: int | None
    params: dict
    seconds: dict = field(default_factory=dict)
    bytes_sent: int = 0
    bytes_received: int = 0
    #: With payloads: the peer's payloads joined to this side's rows (:class:`~.payload.PayloadJoin`).
    pairs: object = None

    @property
    def duplicates(self) -> int:
        return self.items - self.distinct


class Phases:
    """Seconds per phase, and the caller's progress reporter told of each phase."""

    def __init__(self, progress):
        self.progress = progress
        self.seconds = {}
        self._name = None
        self._t = 0.0

    def start(self, name: str, label: str | None = None):
        self.stop()
        self._name, self._t = name, time.perf_counter()
        if self.progress is not None:
            self.progress.phase(label or name)

    def update(self, done, total):
        if self.progress is not None:
            self.progress.update(done, total)

    def stop(self):
        if self._name is not None:
            self.seconds[self._name] = self.seconds.get(self._name, 0.0) + time.perf_counter() - self._t
            self._name = None


def default_base_ot(kappa: int):
    from ..ot import KyberOT

    return KyberOT("ML-KEM-768") if kappa == 128 else KyberOT("ML-KEM-1024", block_bytes=32)


def tag_bytes(n_sender: int, n_receiver: int) -> int:
    """Bytes of each compared value: ``λ + ⌈log2(n_s·n_r)⌉`` bits, so false matches stay below 2^-λ."""
    bits = LAMBDA + math.ceil(math.log2(max(1, n_sender) * max(1, n_receiver)))
    return min(16, (bits + 7) // 8)


def recv_control(ch: Channel, step: str):
    """One small JSON control message (at most :data:`CONTROL_MAX_BYTES`), or ``ProtocolError``."""
    try:
        return ch.recv_json(step, max_bytes=CONTROL_MAX_BYTES)
    except PqmpcError:
        raise
    except (RecursionError, ValueError) as exc:  # deep nesting, Python's int-digit limit
        raise ProtocolError(f"{step}: control message cannot be parsed ({type(exc).__name__})") from None


def coin_toss(ch: Channel, role: str, rng, protocol: str, label: bytes) -> bytes:
    """Step 2: both send 32 random bytes; the 32-byte session seed is a hash of both (sender's first)."""
    my_coin = rng.fork("psi/coin").bytes(32)
    ch.send(my_coin)
    peer_coin = ch.recv_bytes(32, f"{protocol} step 2 (coin toss)")
    coins = my_coin + peer_coin if role == "sender" else peer_coin + my_coin
    return hashlib.sha256(label + coins).digest()


def exchange_sizes(ch: Channel, n: int, protocol: str, max_items: int = MAX_ITEMS) -> int:
    """Step 3: send our number of distinct items, return the peer's (checked against ``max_items``)."""
    step = f"{protocol} step 3 (set sizes)"
    ch.send_json({"distinct": n})
    msg = recv_control(ch, step)
    if not isinstance(msg, dict) or set(msg) != {"distinct"}:
        raise ProtocolError(f"{step}: expected {{\"distinct\": count}}, got {_describe(msg)}")
    v = msg["distinct"]
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= max_items:
        raise ProtocolError(f"{step}: the peer's number of distinct items must be an integer in "
                            f"[0, {max_items}], got {_describe(v)}")
    return v


def _describe(v) -> str:
    r = repr(v)
    return r if len(r) <= 60 else f"a {type(v).__name__} ({r[:40]}...)"
