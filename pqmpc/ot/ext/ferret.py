"""Ferret: silent random correlated OT from primal regular LPN (semi-honest).

Yang, Weng, Lan, Zhang, Wang, "Ferret: Fast Extension for coRRElated oT with
small communication" (CCS 2020), with the single-point COTs of Half-Tree
(:mod:`.spcot`) and the local linear code of :mod:`.lpn`.

How a round works. Both parties hold ``reserved = k + t·h`` correlated OTs
under the sender's fixed ``Δ`` (sender ``q``, receiver ``b`` and
``r = q ⊕ b·Δ``). The first ``k`` are an LPN secret: ``x_s = q[:k]``,
``x_r = r[:k]``, ``u = b[:k]``. The other ``t·h`` run ``t`` single-point COTs,
one per bin of ``2^h`` outputs, whose punctured positions are fixed by the
receiver's base choice bits, giving ``v`` and ``w = v ⊕ e·Δ`` with ``e``
regular noise. Then the sender outputs ``A·x_s ⊕ v``, the receiver
``A·x_r ⊕ w`` with choice bits ``A·u ⊕ e``: correlated OTs under the same
``Δ``, pseudo-random under LPN. The first ``reserved`` outputs of a round
become the next round's base; the rest go to the caller. Only the sender
talks during a round (``h`` blocks per bin), about 0.2 bits per COT.

The first round's base comes from another OT extension with the same ``Δ``
(IKNP by default, itself bootstrapped by lattice base OT). Outputs are
produced bin group by bin group as callers ask for them and leftovers are
kept, so any sequence of request sizes works; **both parties must make the
same sequence of calls on a channel** (each request size the same on both
sides), as with every OT here.

Security: semi-honest only (no consistency check: a malicious sender could
learn a few bits of the noise). Assumptions: primal LPN with regular noise
for the local code (parameter sets and estimates in
:mod:`.ferret_params`), fixed-key AES as an ideal permutation (CCR hash in
the trees, TCCR for random OT), and the security of the bootstrap OT. LPN
and the AES-based hashes have no known quantum attack beyond generic
speed-ups, so with a lattice base OT the whole stack is believed
post-quantum (κ = 128; Grover leaves about 64 bits against the symmetric
parts, there is no 256-bit mode yet). Python cannot promise constant time.
"""

from __future__ import annotations

import weakref

import numpy as np

from ...errors import ParameterError
from ...net import Channel, handshake
from ...params import LEVEL_128, SecurityLevel, resolve_level
from ...primitives.hashing import TAG_FERRET, shake
from ...rng import Rng
from ..adapters import as_correlated
from ..interfaces import CorrelatedOT, RandomCorrelatedOT, RandomOT, check_count, check_delta
from .ferret_params import FERRET_B13, FerretParams, get_params
from .lpn import LocalCode
from .spcot import mpcot_receive, mpcot_send

PROTOCOL = "Ferret"
VERSION = 1
#: Outputs produced per step once a round is under way (bins are grouped to about this size).
CHUNK_OUTPUTS = 1 << 18


def _base_cot(base, level: SecurityLevel) -> CorrelatedOT:
    if base is None:
        from .iknp import IKNP

        return IKNP(level=level)
    if not isinstance(base, RandomOT):
        raise ParameterError(f"base must be an OT instance (a CorrelatedOT, or any OT made correlated "
                             f"with one base OT per bootstrap COT), not {type(base).__name__}")
    if base.block_bytes != level.block_bytes:
        raise ParameterError(f"Ferret at {level.name} needs a base OT of {level.block_bytes}-byte blocks, "
                             f"not {base.block_bytes}")
    return as_correlated(base)


class _Session:
    """One party's state on one channel: Δ, the round's base COTs, leftovers."""

    def __init__(self, ferret: "Ferret", ch: Channel, role: str, rng: Rng, delta):
        p = ferret.params
        self.p = p
        self.role = role
        self.rng = rng.fork(f"ferret/{role}")
        handshake(ch, PROTOCOL, VERSION, dict(p.describe(), base=ferret.base_name, block_bytes=16),
                  role=role, peer_role="receiver" if role == "sender" else "sender")
        mine = self.rng.bytes(16)
        ch.send(mine)
        theirs = ch.recv_bytes(16, "Ferret setup: LPN seed share")
        shares = mine + theirs if role == "sender" else theirs + mine
        self.code = LocalCode(shake(shares, 16, domain=b"pqmpc.ferret.lpn-seed"), p.k)
        base = _base_cot(ferret.base, ferret.level)
        M = p.reserved
        base_rng = self.rng.fork("ferret/bootstrap")
        if role == "sender":
            self.delta = delta if delta is not None else self._fresh_delta()
            got_delta, q = base.send_correlated(ch, M, delta=self.delta, rng=base_rng)
            if not np.array_equal(np.asarray(got_delta).reshape(16), self.delta):
                raise ParameterError("the bootstrap OT did not use the requested delta")
            self.bases = (np.ascontiguousarray(q),)
        else:
            self.delta = None
            b = base_rng.bits(M)
            r = base.receive_correlated(ch, b, rng=base_rng)
            self.bases = (b, np.ascontiguousarray(r))
        # "Round -1 is over": the first refill starts round 0 on the bootstrap base.
        self.next_bases = self.bases
        self.tree = p.t
        self.round = -1
        self.buf: tuple = ()
        self.buf_pos = 0
        self.buf_len = 0
        self.chunk_trees = max(1, CHUNK_OUTPUTS >> p.log_bin_size)

    def _fresh_delta(self) -> np.ndarray:
        d = self.rng.blocks(1)[0]
        d[0] |= 1  # point-and-permute garbling wants lsb(Δ) = 1; it costs one bit of Δ's entropy
        return d

    # -- one group of bins ----------------------------------------------------
    def _trees(self, ch: Channel, j0: int, j1: int, dest: tuple | None = None):
        """Bins ``j0 … j1−1`` of this round, written into ``dest`` (the caller's arrays) when given."""
        p = self.p
        h, k = p.log_bin_size, p.k
        lo, hi = k + j0 * h, k + j1 * h
        if self.role == "sender":
            (q,) = self.bases
            v = mpcot_send(ch, q[lo:hi], self.delta, self.rng.blocks(j1 - j0), h, None if dest is None else dest[0])
            self.code.add_encoded(j0 << h, q[:k], v)
            return (v,)
        b, r = self.bases
        step = f"Ferret round {self.round}, bins {j0}-{j1 - 1}: SPCOT corrections"
        w, pos = mpcot_receive(ch, b[lo:hi], r[lo:hi], j1 - j0, h, step, None if dest is None else dest[1])
        if dest is None:
            bits = np.zeros((j1 - j0) << h, dtype=np.uint8)
        else:
            bits = dest[0]
            bits[:] = 0
        bits[(np.arange(j1 - j0, dtype=np.int64) << h) + pos] = 1
        self.code.add_encoded_with_bits(j0 << h, r[:k], b[:k], w, bits)
        return bits, w

    def _refill(self, ch: Channel) -> None:
        p = self.p
        if self.tree >= p.t:
            # New round on the reserve the previous round set aside.
            self.bases = self.next_bases
            self.round += 1
            R = p.reserve_trees
            out = self._trees(ch, 0, R)
            M = p.reserved
            self.next_bases = tuple(a[:M].copy() for a in out)
            self.buf = tuple(a[M:] for a in out)
            self.tree = R
        else:
            j1 = min(p.t, self.tree + self.chunk_trees)
            self.buf = self._trees(ch, self.tree, j1)
            self.tree = j1
        self.buf_pos = 0
        self.buf_len = self.buf[0].shape[0]

    def take(self, ch: Channel, n: int) -> tuple:
        """The next ``n`` correlated OTs: sender ``(q,)``, receiver ``(bits, r)``."""
        outs = [np.empty((n, 16), dtype=np.uint8)] if self.role == "sender" else \
            [np.empty(n, dtype=np.uint8), np.empty((n, 16), dtype=np.uint8)]
        filled = 0
        p = self.p
        while filled < n:
            if self.buf_pos == self.buf_len:
                # Whole bin groups the caller wants go straight into its arrays: no copy.
                whole = min(self.chunk_trees, p.t - self.tree, (n - filled) >> p.log_bin_size)
                if 0 < self.tree < p.t and whole > 0:
                    m = whole << p.log_bin_size
                    self._trees(ch, self.tree, self.tree + whole, tuple(o[filled:filled + m] for o in outs))
                    self.tree += whole
                    filled += m
                    continue
                self._refill(ch)
            m = min(n - filled, self.buf_len - self.buf_pos)
            for dst, src in zip(outs, self.buf):
                dst[filled:filled + m] = src[self.buf_pos:self.buf_pos + m]
            self.buf_pos += m
            filled += m
        return tuple(outs)


class Ferret(RandomCorrelatedOT):
    """Silent correlated OT extension from LPN (Ferret, semi-honest); see the module docstring.

    ``level``: the :class:`~pqmpc.params.SecurityLevel`; only ``LEVEL_128``
    exists for Ferret (the default IKNP bootstrap runs at it too).
    ``params``: a :class:`FerretParams` or a name (``"b13"`` default, ``"b12"``,
    ``"b11"``, ``"b10"``; ``"test-insecure"`` only in tests). ``base``: the OT
    extension that supplies the first round (``None`` → ``IKNP()``; any
    :class:`~pqmpc.ot.interfaces.CorrelatedOT`, or any other OT, made correlated by
    :func:`~pqmpc.ot.adapters.as_correlated` at one base OT per bootstrap COT).

    A :class:`~pqmpc.ot.interfaces.RandomCorrelatedOT`: correlated OT with
    chosen choice bits (one bit per OT) and random OT (hashed) come from the
    interface.

    One instance keeps one session per channel and role: Δ is fixed by the
    first sender call on a channel (the ``rng`` of that call seeds the whole
    session) and stays the same across later calls and rounds.
    """

    name = PROTOCOL
    block_bytes = 16
    hash_tag = TAG_FERRET  # random OT hashes the COTs under Ferret's own tweak space

    def __init__(self, params: FerretParams | str = FERRET_B13, base=None, *, level: SecurityLevel | None = None):
        self.level = resolve_level(None, level)
        if self.level != LEVEL_128:
            raise ParameterError("Ferret has no 256-bit mode yet (its LPN code and trees work on 128-bit blocks)")
        self.params = get_params(params)
        self.base = base if base is None else _base_cot(base, self.level)
        self.base_name = "IKNP" if base is None else getattr(self.base, "name", type(self.base).__name__)
        self._sessions = weakref.WeakKeyDictionary()

    def __repr__(self):
        return f"Ferret(params={self.params.name!r}, base={self.base_name!r})"

    def _session(self, ch: Channel, role: str, rng, delta=None) -> _Session:
        if delta is not None:
            delta = check_delta(delta, 16)
        per_ch = self._sessions.setdefault(ch, {})
        s = per_ch.get(role)
        if s is None:
            s = per_ch[role] = _Session(self, ch, role, Rng.ensure(rng), delta)
        elif delta is not None and not np.array_equal(delta, s.delta):
            raise ParameterError("this Ferret session already runs under another delta; "
                                 "use a new channel (or a new Ferret) for a different delta")
        return s

    def delta(self, ch: Channel) -> np.ndarray | None:
        """The sender's Δ on ``ch`` (``None`` before the first call)."""
        s = self._sessions.get(ch, {}).get("sender")
        return None if s is None else s.delta.copy()

    # -- random correlated OT (native) -----------------------------------------
    def send_random_correlated(self, ch: Channel, n: int, rng=None, delta=None) -> tuple[np.ndarray, np.ndarray]:
        """Sender: ``(delta, q)``; the receiver gets random ``b`` and ``t = q ⊕ b·Δ``."""
        n = check_count(n)
        s = self._session(ch, "sender", rng, delta)
        (q,) = s.take(ch, n)
        return s.delta.copy(), q

    def receive_random_correlated(self, ch: Channel, n: int, rng=None) -> tuple[np.ndarray, np.ndarray]:
        """Receiver: ``(choices, t)`` with pseudo-random ``choices``; no message of its own."""
        n = check_count(n)
        s = self._session(ch, "receiver", rng)
        return s.take(ch, n)


__all__ = ["Ferret", "FerretParams"]
