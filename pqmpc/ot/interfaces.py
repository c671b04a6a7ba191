"""The OT interface ladder: random OT ⊂ correlated OT ⊂ random correlated OT.

Each level is what a family of protocols produces natively, and derives the
calls of the levels below it exactly once, here:

* :class:`RandomOT` (base OTs): implement ``send_random/receive_random``;
  chosen-message OT follows with one message of masks (``2·n·block_bytes``
  bytes), keeping the random OT's security (semi-honest against either party).
* :class:`CorrelatedOT` (IKNP; KOS/SoftSpoken next): implement
  ``send_correlated/receive_correlated`` with ``t[i] = q[i] ⊕ choices[i]·Δ``;
  random OT follows by hashing, ``m0 = H(q_i, i)``, ``m1 = H(q_i ⊕ Δ, i)``,
  ``m_b = H(t_i, i)`` with the tweakable correlation-robust hash of
  :mod:`pqmpc.ot.derive` and a per-session tweak counter that never repeats.
* :class:`RandomCorrelatedOT` (Ferret; silent VOLE next): implement the
  random-choice pair ``send_random_correlated/receive_random_correlated``;
  correlated OT with chosen choice bits follows by derandomisation (the
  receiver sends ``b ⊕ choices``, one bit per OT).

Callers test capabilities with ``isinstance`` and turn any OT into a
correlated one with :func:`pqmpc.ot.adapters.as_correlated`. ``OT`` is the
old name of :class:`RandomOT`.
"""

from __future__ import annotations

import abc
import weakref

import numpy as np

from ..errors import ParameterError
from ..net import Channel
from ..primitives.buffers import check_out, out_or_empty
from ..rng import Rng
from . import derive

SENDER, RECEIVER = "sender", "receiver"


def check_choices(choices) -> np.ndarray:
    """``choices`` as a contiguous ``(n,)`` uint8 array of 0/1 values."""
    c = np.asarray(choices)
    if c.ndim != 1:
        raise ParameterError(f"choices must be a 1-D array of 0/1, got shape {c.shape}")
    if c.size and (c.dtype.kind not in "uib" or c.min() < 0 or c.max() > 1):
        raise ParameterError("choices must contain only 0 and 1")
    return np.ascontiguousarray(c, dtype=np.uint8)


def random_bits_into(rng: Rng, out: np.ndarray) -> np.ndarray:
    """``rng.bits(n)`` written into ``out`` (same stream, same values, no output allocation)."""
    rng.fill(out)
    np.bitwise_and(out, np.uint8(1), out=out)
    return out


def check_messages(m, width: int, name: str, n: int | None = None) -> np.ndarray:
    m = np.asarray(m)
    if m.dtype != np.uint8 or m.ndim != 2 or m.shape[1] != width or (n is not None and m.shape[0] != n):
        want = f"({n if n is not None else 'n'}, {width})"
        raise ParameterError(f"{name} must be a {want} uint8 array, got {m.dtype} {m.shape}")
    return np.ascontiguousarray(m)


def check_count(n) -> int:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ParameterError(f"n must be a non-negative integer, got {n!r}")
    return int(n)


def check_delta(delta, width: int) -> np.ndarray:
    """Δ as a fresh ``(width,)`` uint8 array; accepts ``(width,)``, ``(1, width)`` or bytes.

    Δ = 0 is refused: every correlated OT would then hand the receiver both
    messages (``t = q`` whatever the choice bit), and garbling under Δ = 0
    has no secret offset at all.
    """
    if isinstance(delta, (bytes, bytearray)):
        delta = np.frombuffer(bytes(delta), dtype=np.uint8)
    d = np.asarray(delta)
    if d.dtype != np.uint8 or d.shape not in ((width,), (1, width)):
        raise ParameterError(f"delta must be {width} bytes (uint8, shape ({width},)), got {d.dtype} {d.shape}")
    d = np.array(d.reshape(width))
    if not d.any():
        raise ParameterError("delta must not be zero")
    return d


class RandomOT(abc.ABC):
    """Oblivious transfer of ``block_bytes``-byte messages, batched over n.

    Subclasses implement random OT; chosen-message ``send/receive`` are derived.
    """

    #: Human-readable protocol name, used in handshakes and error messages.
    name: str = "OT"
    #: Message width in bytes: 16, or 32 in the 256-bit mode.
    block_bytes: int = 16
    #: Chosen-message masks go out in messages of this many OTs (``None``: one message),
    #: so an extension can bound its message size.
    mask_chunk: int | None = None
    #: True when the native calls write into caller-supplied ``out=`` arrays without a
    #: copy (IKNP, Ferret); the derived calls accept ``out=`` either way (copying if not).
    writes_out: bool = False

    @abc.abstractmethod
    def send_random(self, ch: Channel, n: int, rng=None) -> tuple[np.ndarray, np.ndarray]:
        """Sender side of n random OTs: returns ``(m0, m1)``, each ``(n, block_bytes)``."""

    @abc.abstractmethod
    def receive_random(self, ch: Channel, choices, rng=None) -> np.ndarray:
        """Receiver side: returns ``mb`` with ``mb[i] == (m1 if choices[i] else m0)[i]``."""

    def preload(self, role: str | None = None) -> None:
        """Load the compiled kernels this OT's calls use (as ``role``, or both roles), before its first message.

        Both parties then load at the same time instead of one after the other on
        the protocol's critical path (see :mod:`pqmpc.primitives.preload`); sessions
        call it themselves, so callers never need to. Default: nothing to load.
        """
        return None

    def _mask_ranges(self, n: int):
        step = self.mask_chunk or max(n, 1)
        for start in range(0, n, step):
            yield start, min(step, n - start)
        if n == 0 and not self.mask_chunk:
            yield 0, 0

    def send(self, ch: Channel, m0, m1, rng=None) -> None:
        """Sender side of n chosen-message OTs."""
        w = self.block_bytes
        m0 = check_messages(m0, w, "m0")
        m1 = check_messages(m1, w, "m1", m0.shape[0])
        r0, r1 = self.send_random(ch, m0.shape[0], rng)
        for start, c in self._mask_ranges(m0.shape[0]):
            masked = np.empty((c, 2, w), dtype=np.uint8)
            np.bitwise_xor(m0[start:start + c], r0[start:start + c], out=masked[:, 0])
            np.bitwise_xor(m1[start:start + c], r1[start:start + c], out=masked[:, 1])
            ch.send(masked)

    def receive(self, ch: Channel, choices, rng=None) -> np.ndarray:
        """Receiver side of n chosen-message OTs: returns the chosen messages."""
        choices = check_choices(choices)
        n = choices.shape[0]
        mb = self.receive_random(ch, choices, rng)
        for start, c in self._mask_ranges(n):
            step = f"{self.name} chosen-message masks"
            if self.mask_chunk:
                step += f", OTs {start}..{start + c - 1}"
            masked = ch.recv_array(np.uint8, (c, 2, self.block_bytes), step)
            mb[start:start + c] ^= masked[np.arange(c), choices[start:start + c]]
        return mb


#: The old name of :class:`RandomOT` (every OT offers at least random OT).
OT = RandomOT


class CorrelatedOT(RandomOT):
    """Correlated OT with a global offset Δ: sender ``q``, receiver ``t = q ⊕ b·Δ``.

    Subclasses implement ``send_correlated/receive_correlated``; random OT
    (by hashing) and the random-choice pair are derived.
    """

    #: Protocol tag in the high word of the hash tweak (a ``TAG_*`` of
    #: :mod:`pqmpc.primitives.hashing`); ``None`` means ``TAG_RANDOM_OT``.
    hash_tag: int | None = None

    @abc.abstractmethod
    def send_correlated(self, ch: Channel, n: int, delta=None, rng=None) -> tuple[np.ndarray, np.ndarray]:
        """Sender of n correlated OTs: ``(Δ, q)``; ``delta`` chooses Δ (random by default)."""

    @abc.abstractmethod
    def receive_correlated(self, ch: Channel, choices, rng=None) -> np.ndarray:
        """Receiver: ``t`` with ``t[i] = q[i] ⊕ choices[i]·Δ``."""

    def ensure_session(self, ch: Channel, role: str, rng=None) -> None:
        """Run whatever set-up ``ch`` needs before a call draws from ``rng`` (default: none)."""

    def next_tweaks(self, ch: Channel, role: str, n: int) -> int:
        """Reserve ``n`` hash tweaks for ``role`` on ``ch``; returns the first.

        Both parties make the same calls, so their counters agree; a tweak is
        never used twice under one Δ, which the TCCR security needs.
        """
        counters = self.__dict__.setdefault("_tweak_counters", weakref.WeakKeyDictionary())
        per_ch = counters.setdefault(ch, {})
        start = per_ch.get(role, 0)
        per_ch[role] = start + n
        return start

    def _tag_kw(self) -> dict:
        return {} if self.hash_tag is None else {"tag": self.hash_tag}

    def _native_out(self, call, *args, out=None, **kw):
        """``call(*args, **kw)`` writing into ``out`` (a checked array): passed through when the
        class writes outputs itself, else the result is copied in (same values, one copy)."""
        if out is None:
            return call(*args, **kw)
        if self.writes_out:
            return call(*args, out=out, **kw)
        res = call(*args, **kw)
        out[...] = res[-1] if isinstance(res, tuple) else res
        return res[:-1] + (out,) if isinstance(res, tuple) else out

    def send_random(self, ch: Channel, n: int, rng=None, *, out=None) -> tuple[np.ndarray, np.ndarray]:
        """Random OT from correlated OT: ``m0 = H(q, i)``, ``m1 = H(q ⊕ Δ, i)``.

        ``out``: optional ``(m0, m1)`` arrays of shape ``(n, block_bytes)`` to write into.
        """
        n = check_count(n)
        m0, m1 = (None, None) if out is None else out
        shape = (n, self.block_bytes)
        m0, m1 = check_out(m0, shape, "out[0] (m0)"), check_out(m1, shape, "out[1] (m1)")
        # q lands in m0 and is hashed in place: no array of its own
        delta, q = self._native_out(self.send_correlated, ch, n, None, rng, out=m0)
        start = self.next_tweaks(ch, SENDER, q.shape[0])
        m1 = np.empty_like(q) if m1 is None else m1
        derive.random_ot_from_cot(q, delta, start, q, m1, **self._tag_kw())
        return q, m1

    def receive_random(self, ch: Channel, choices, rng=None, *, out=None) -> np.ndarray:
        """Receiver of random OT from correlated OT: ``m_b = H(t, i)`` (into ``out`` if given)."""
        choices = check_choices(choices)
        out = check_out(out, (choices.shape[0], self.block_bytes))
        t = self._native_out(self.receive_correlated, ch, choices, rng, out=out)
        start = self.next_tweaks(ch, RECEIVER, t.shape[0])
        return derive.hash_rows(t, start, out=t, **self._tag_kw())

    def send_random_correlated(self, ch: Channel, n: int, rng=None, *, out=None) -> tuple[np.ndarray, np.ndarray]:
        """Correlated OT whose choice bits the receiver draws at random: ``(Δ, q)``."""
        n = check_count(n)
        out = check_out(out, (n, self.block_bytes))
        return self._native_out(self.send_correlated, ch, n, None, rng, out=out)

    def receive_random_correlated(self, ch: Channel, n: int, rng=None, *, out=None,
                                  choices_out=None) -> tuple[np.ndarray, np.ndarray]:
        """Receiver side with random choice bits: returns ``(choices, t)`` (into ``choices_out``
        ``(n,)`` and ``out`` ``(n, block_bytes)`` if given)."""
        n = check_count(n)
        out = check_out(out, (n, self.block_bytes))
        choices = out_or_empty(choices_out, (n,), "choices_out")
        rng = Rng.ensure(rng)
        self.ensure_session(ch, RECEIVER, rng)
        random_bits_into(rng, choices)
        return choices, self._native_out(self.receive_correlated, ch, choices, rng, out=out)


class RandomCorrelatedOT(CorrelatedOT):
    """Correlated OT whose choice bits come out random (what silent OT produces).

    Subclasses implement the random-choice pair; correlated OT with chosen
    choice bits is derived by derandomisation: the receiver sends
    ``b ⊕ choices`` (one bit per OT) and the sender flips ``q`` where it is set.
    """

    @abc.abstractmethod
    def send_random_correlated(self, ch: Channel, n: int, rng=None, delta=None) -> tuple[np.ndarray, np.ndarray]:
        """Sender: ``(Δ, q)``; the receiver gets random ``b`` and ``t = q ⊕ b·Δ``.

        ``delta`` asks for that Δ; an implementation that cannot honour it
        (for example a session already running under another Δ) raises
        :class:`~pqmpc.errors.ParameterError`.
        """

    @abc.abstractmethod
    def receive_random_correlated(self, ch: Channel, n: int, rng=None) -> tuple[np.ndarray, np.ndarray]:
        """Receiver: ``(choices, t)`` with pseudo-random ``choices``."""

    def send_correlated(self, ch: Channel, n: int, delta=None, rng=None, *, out=None) -> tuple[np.ndarray, np.ndarray]:
        n = check_count(n)
        out = check_out(out, (n, self.block_bytes))
        d, q = self._native_out(self.send_random_correlated, ch, n, rng=rng, delta=delta, out=out)
        flip = ch.recv_bits(n, f"{self.name} derandomization ({n} choice flips)")
        derive.xor_delta_where(q, flip, np.ascontiguousarray(d, dtype=np.uint8).reshape(-1))
        return d, q

    def receive_correlated(self, ch: Channel, choices, rng=None, *, out=None) -> np.ndarray:
        choices = check_choices(choices)
        out = check_out(out, (choices.shape[0], self.block_bytes))
        b, t = self._native_out(self.receive_random_correlated, ch, choices.shape[0], rng, out=out)
        ch.send_bits(b ^ choices)
        return t


__all__ = ["RandomOT", "CorrelatedOT", "RandomCorrelatedOT", "OT", "check_out", "random_bits_into",
           "check_choices", "check_count", "check_messages", "check_delta"]
