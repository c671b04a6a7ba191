"""Correlated OT from any OT: :func:`as_correlated`.

From n random OTs ``(r0, r1)`` / ``r_b`` the sender keeps ``q = r0`` and
sends ``d = r0 ⊕ r1 ⊕ Δ`` (one block per OT); the receiver outputs
``t = r_b ⊕ b·d``, which is ``r0`` for ``b = 0`` and ``r1 ⊕ r0 ⊕ r1 ⊕ Δ =
q ⊕ Δ`` for ``b = 1``. The receiver learns nothing about Δ beyond what it
learns of ``r_{1-b}`` (nothing, by the random OT's sender security), and
the sender nothing about b (``d`` is computed before anything comes back).
It costs one base OT per correlated OT, so it suits small counts: the
bootstrap of an extension, or the few input wires of a garbled circuit.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ..net import Channel
from ..rng import Rng
from .interfaces import CorrelatedOT, RandomOT, check_choices, check_count, check_delta


class CorrelatedFromRandom(CorrelatedOT):
    """A :class:`~pqmpc.ot.interfaces.CorrelatedOT` on top of any :class:`RandomOT`.

    Random and chosen-message OT go straight to the wrapped OT (no hashing layer).
    """

    def __init__(self, ot: RandomOT):
        if not isinstance(ot, RandomOT):
            raise ParameterError(f"expected an OT instance, not {type(ot).__name__}")
        self.ot = ot
        self.name = f"{ot.name}-as-COT"
        self.block_bytes = ot.block_bytes
        self.mask_chunk = ot.mask_chunk

    def __repr__(self) -> str:
        return f"as_correlated({self.ot!r})"

    @property
    def post_quantum(self) -> bool:
        return bool(getattr(self.ot, "post_quantum", True))

    def preload(self, role: str | None = None) -> None:
        self.ot.preload(role)

    def send_random(self, ch: Channel, n: int, rng=None):
        return self.ot.send_random(ch, n, rng)

    def receive_random(self, ch: Channel, choices, rng=None):
        return self.ot.receive_random(ch, choices, rng)

    def send(self, ch: Channel, m0, m1, rng=None) -> None:
        self.ot.send(ch, m0, m1, rng)

    def receive(self, ch: Channel, choices, rng=None):
        return self.ot.receive(ch, choices, rng)

    def send_correlated(self, ch: Channel, n: int, delta=None, rng=None):
        n = check_count(n)
        w = self.block_bytes
        rng = Rng.ensure(rng)
        if delta is None:
            delta = rng.blocks(1, w)[0]
            delta[0] |= 1  # never zero; lsb(Δ) = 1 is what point-and-permute garbling wants
        else:
            delta = check_delta(delta, w)
        r0, r1 = self.ot.send_random(ch, n, rng)
        d = np.bitwise_xor(r0, r1)
        d ^= delta
        ch.send(d)
        return delta, np.ascontiguousarray(r0)

    def receive_correlated(self, ch: Channel, choices, rng=None):
        choices = check_choices(choices)
        n, w = choices.shape[0], self.block_bytes
        t = np.array(self.ot.receive_random(ch, choices, rng), dtype=np.uint8)
        d = ch.recv_array(np.uint8, (n, w), f"{self.name} correlation (one block per OT)")
        t ^= d & (choices[:, None] * np.uint8(0xFF))
        return t


def as_correlated(ot: RandomOT) -> CorrelatedOT:
    """``ot`` itself if it already is a :class:`CorrelatedOT`, else a wrapper (see the module docstring)."""
    if isinstance(ot, CorrelatedOT):
        return ot
    if isinstance(ot, RandomOT):
        return CorrelatedFromRandom(ot)
    raise ParameterError(f"as_correlated needs an OT instance, not {type(ot).__name__}")


__all__ = ["as_correlated", "CorrelatedFromRandom"]
