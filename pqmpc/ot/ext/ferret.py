"""Ferret: silent random correlated OT from primal regular LPN (semi-honest or malicious).

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
become the next round's base; the rest go to the caller.

The LSB convention (wire version 3, as emp-toolkit's Ferret), used whenever ``lsb(Δ) = 1`` (always
with the default Δ; the sender's first message tells the receiver, so a caller's Δ gives away its
lsb): bit 0 of every
sender block is 0 and bit 0 of every receiver block is its choice bit. The bootstrap's COTs are
brought to it locally (the sender clears bit 0 of ``q``, the receiver sets bit 0 of ``r`` to
``b``; ``r = q ⊕ b·Δ`` still holds, and the receiver knew ``lsb(q) = lsb(r) ⊕ b`` already), and
the encoding keeps it: before adding ``A·x`` the sender clears bit 0 of ``v`` and the receiver
sets bit 0 of ``w`` to ``e``, so the receiver's bit 0 of ``A·x_r ⊕ w`` *is* ``A·u ⊕ e`` and
costs no second pass over ``u``. The sender's outputs therefore carry 127 random bits, and
the receiver's choice bit is the lsb of its block (which it knew anyway from ``Δ``'s lsb). A Δ
with lsb 0 (allowed: only garbling needs lsb 1) runs as before, the receiver's ``A·u`` computed
from ``u`` packed 64 bits a word.
In semi-honest mode
only the sender talks during a round (``h`` blocks per bin), about 0.2 bits per
COT; the malicious mode adds 64 bytes and one round trip per group of bins.

The first round's base comes from another OT extension with the same ``Δ``
(IKNP by default, itself bootstrapped by lattice base OT). Outputs are
produced bin group by bin group as callers ask for them and leftovers are
kept, so any sequence of request sizes works; **both parties must make the
same sequence of calls on a channel** (each request size the same on both
sides), as with every OT here.

Malicious mode (``security="malicious"``): the consistency check of the
Ferret paper (ePrint 2020/924, the check of its single-point COT, batched
over every group of bins) runs on each group before any of its outputs is
used. Per group, after the sender's corrections: the sender sends a coin
``s_S``, the receiver a coin ``s_R`` and ``x' = Σ_j χ_{α_j} ⊕ x*`` where
``χ_i = AES-CTR(s_S ‖ s_R)`` weighs every output of the group and ``x*`` are
the choice bits of 128 base COTs reserved for this check (read as one
GF(2^128) element: ``Σ_i z*_i·X^i = Y* ⊕ x*·Δ``); the sender sends
``H(V)``, ``V = Σ χ_i·v_i ⊕ Σ_i (y*_i ⊕ x'_i·Δ)·X^i``, and the receiver
compares it with ``H(W)``, ``W = Σ χ_i·w_i ⊕ Σ_i z*_i·X^i`` — equal exactly
when ``w = v ⊕ e_α·Δ`` on the whole group (up to 2^-128 per check), else
:class:`~pqmpc.errors.CheatingDetected` and the session refuses further
calls. ``χ`` is fixed only after the corrections (the receiver's coin comes
last), so a sender that sends a wrong correction is caught; what it can learn
is whether its guess about some punctured positions was right, at the cost
of being caught otherwise — the ≤ 1 bit of leakage per abort the paper's
proof charges to LPN with regular noise. The receiver learns only ``H(V)``,
which it can compute itself. The bootstrap is then an actively secure
extension with one Δ by construction (KOS by default, over the given base
OT; a semi-honest base is refused). Cost: 128 extra base COTs per group of
:data:`CHUNK_OUTPUTS` outputs, one GF(2^128) multiply-accumulate per output on
each side, one round trip per group, 64 bytes per group on the wire.

How it runs (with AES-NI and the LSB convention; same messages and outputs as the plain order
above, which remains the path otherwise): the round trip is overlapped with work. The sender
expands group g+1 into its output arrays before it reads the receiver's reply for group g, then
sums group g's leaves and sends ``H(V)`` just ahead of group g+1's corrections, and encodes group g
in place while the receiver works on g+1; its last group's check is finished before the call
returns. The receiver expands its trees into the output arrays a step at a time as soon as the coin
``s_S`` arrives, summing each step while it is in cache
(:func:`~.ferret_fused.receiver_check_sums`), replies, and encodes in place while ``H(V)`` is on
its way. Everything it wrote is provisional until ``H(V)`` matches: a call that raises zeroes the
caller's output arrays (both roles), so no unchecked output is left behind.

Security: semi-honest mode, no consistency check (a malicious sender could
make the receiver's outputs inconsistent and learn bits of the noise from
the effect); malicious mode as above. Assumptions: primal LPN with regular noise
for the local code (parameter sets and estimates in
:mod:`.ferret_params`), fixed-key AES as an ideal permutation (CCR hash in
the trees, TCCR for random OT), and the security of the bootstrap OT. LPN
and the AES-based hashes have no known quantum attack beyond generic
speed-ups, so with a lattice base OT the whole stack is believed
post-quantum (κ = 128; Grover leaves about 64 bits against the symmetric
parts, there is no 256-bit mode yet). Python cannot promise constant time.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import weakref

import numpy as np

from ...errors import CheatingDetected, ParameterError, ProtocolError
from ...net import Channel, handshake
from ...params import LEVEL_128, SecurityLevel, resolve_level
from ...primitives.buffers import ScratchPool, out_or_empty
from ...primitives.hashing import TAG_FERRET, shake
from ...rng import Rng
from ..adapters import as_correlated
from ..interfaces import CorrelatedOT, RandomCorrelatedOT, RandomOT, check_count, check_delta
from . import check, ferret_fused
from .ferret_params import FERRET_B13, FerretParams, get_params
from .lpn import LocalCode, pack_bits
from .lpn import kernel_specs as lpn_kernel_specs
from .spcot import kernel_specs as spcot_kernel_specs
from .spcot import mpcot_receive, mpcot_send, sender_expand

PROTOCOL = "Ferret"
# 2: protocol tags in the TCCR tweak (issue 12); v1 peers would silently disagree.
# 3: the LSB convention (bit 0 of the sender's blocks is 0, of the receiver's its choice bit).
VERSION = 4  # 4: check challenges are powers of one coin-tossed element (check.DOMAIN), not AES-CTR
#: Outputs produced per step once a round is under way (bins are grouped to about this size).
CHUNK_OUTPUTS = 1 << 18
#: Extra base COTs one consistency check consumes (κ: one GF(2^128) correlation).
CHECK_COTS = 128
SECURITY_MODES = ("semi-honest", "malicious")


def _base_cot(base, level: SecurityLevel, security: str = "semi-honest") -> CorrelatedOT:
    if security == "malicious":
        return _malicious_base(base, level)
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


def _malicious_base(base, level: SecurityLevel) -> CorrelatedOT:
    """The bootstrap of malicious Ferret: an actively secure extension with one Δ by construction.

    A base OT (KyberOT, ...) is not used directly: correlating random OTs one by one lets a
    malicious sender use a different Δ per COT, so it becomes the base OTs of a KOS instead."""
    from .kos import KOS

    if base is None:
        return KOS()
    if not isinstance(base, RandomOT):
        raise ParameterError(f"base must be an OT instance, not {type(base).__name__}")
    check.require_malicious_base(base, "Ferret")
    if getattr(base, "security", None) == "malicious" and isinstance(base, CorrelatedOT):
        if base.block_bytes != level.block_bytes:
            raise ParameterError(f"Ferret at {level.name} needs a base OT of {level.block_bytes}-byte blocks")
        return base
    return KOS(base=base)


def reserved_cots(p: FerretParams, security: str = "semi-honest") -> int:
    """Base COTs one round consumes: ``p.reserved``, plus in malicious mode :data:`CHECK_COTS` per
    bin group (groups are fixed per round: the reserve group, then :data:`CHUNK_OUTPUTS` outputs each)."""
    if security != "malicious":
        return p.reserved
    chunk_trees = max(1, CHUNK_OUTPUTS >> p.log_bin_size)
    # Counted with the semi-honest reserve group: a larger one only leaves fewer groups.
    groups = 1 + -(-(p.t - p.reserve_trees) // chunk_trees)
    m = p.reserved + CHECK_COTS * groups
    if -(-m // p.bin_size) >= p.t:
        raise ParameterError(f"Ferret parameters {p.name!r} leave no usable output with the checks' COTs")
    return m


class _Session:
    """One party's state on one channel: Δ, the round's base COTs, leftovers."""

    def __init__(self, ferret: "Ferret", ch: Channel, role: str, rng: Rng, delta):
        p = ferret.params
        self.p = p
        self.role = role
        self.rng = rng.fork(f"ferret/{role}")
        self.failed = False
        self.checked = ferret.security == "malicious"
        # Malicious mode: group boundaries are fixed per round (see take), so the CHECK_COTS
        # extra base COTs of every group can be reserved up front, after the tree bases.
        self.chunk_trees = max(1, CHUNK_OUTPUTS >> p.log_bin_size)
        self.M = reserved_cots(p, ferret.security)
        self.R = -(-self.M // p.bin_size)
        handshake(ch, PROTOCOL, VERSION, dict(p.describe(), base=ferret.base_name, block_bytes=16,
                                              security=ferret.security),
                  role=role, peer_role="receiver" if role == "sender" else "sender")
        mine = self.rng.bytes(16)
        base_rng = self.rng.fork("ferret/bootstrap")  # before Δ: a seeded session keeps v2's Δ
        if role == "sender":
            self.delta = delta if delta is not None else self._fresh_delta()
            # Byte 17: whether the session uses the LSB convention (lsb(Δ) = 1), which tells the
            # receiver lsb(Δ); a default Δ has it set anyway (module docstring).
            self.lsb = bool(self.delta[0] & 1)
            ch.send(mine + bytes([self.lsb]))
            theirs = ch.recv_bytes(16, "Ferret setup: LPN seed share")
        else:
            self.delta = None
            got = ch.recv_bytes(17, "Ferret setup: LPN seed share and LSB flag")
            if got[16] > 1:
                raise ProtocolError(f"Ferret setup: the LSB flag must be 0 or 1, got {got[16]}")
            theirs, self.lsb = got[:16], bool(got[16])
            ch.send(mine)
        shares = mine + theirs if role == "sender" else theirs + mine
        self.code = LocalCode(shake(shares, 16, domain=b"pqmpc.ferret.lpn-seed"), p.k)
        base = ferret.base if ferret.base is not None else _base_cot(None, ferret.level, ferret.security)
        M = self.M
        if role == "sender":
            got_delta, q = base.send_correlated(ch, M, delta=self.delta, rng=base_rng)
            if not np.array_equal(np.asarray(got_delta).reshape(16), self.delta):
                raise ParameterError("the bootstrap OT did not use the requested delta")
            q = np.ascontiguousarray(q)
            if self.lsb:  # the LSB convention (module docstring); the receiver knows lsb(q) anyway
                q[:, 0] &= 0xFE
            self.bases = (q,)
        else:
            b = base_rng.bits(M)
            r = np.ascontiguousarray(base.receive_correlated(ch, b, rng=base_rng))
            if self.lsb:
                r[:, 0] = (r[:, 0] & 0xFE) | b  # r = q ⊕ b·Δ still holds: lsb(Δ) = 1
            self.bases = (b, r)
        # "Round -1 is over": the first refill starts round 0 on the bootstrap base.
        self.next_bases = self.bases
        self.tree = p.t
        self.round = -1
        self.packed_round = -2
        self.packed_u = None
        self.buf: tuple = ()
        self.buf_pos = 0
        self.buf_len = 0
        #: round and group buffers, reused every call (see _refill)
        self.pool = ScratchPool()
        #: malicious mode, sender: the group whose corrections and coin are sent but not yet its hash
        self.pending = None

    def _dest(self, name: str, m: int) -> tuple:
        """Pooled output arrays for ``m`` tree leaves: sender ``(v,)``, receiver ``(bits, w)``."""
        if self.role == "sender":
            return (self.pool.get(name + " v", (m, 16)),)
        return self.pool.get(name + " bits", (m,)), self.pool.get(name + " w", (m, 16))

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
        fused = self.lsb and ferret_fused.AVAILABLE
        if self.role == "sender":
            (q,) = self.bases
            if fused:  # tree by tree in L2 (ferret_fused); same messages and outputs
                v = np.empty(((j1 - j0) << h, 16), np.uint8) if dest is None else dest[0]
                if self.checked:
                    self._send_checked(ch, j0, j1, [(j1 - j0, (v,))])
                    return (v,)
                ferret_fused.mpcot_send_encoded(ch, self.code, j0 << h, q[:k], q[lo:hi], self.delta,
                                                self.rng.blocks(j1 - j0), h, v)
                return (v,)
            v = mpcot_send(ch, q[lo:hi], self.delta, self.rng.blocks(j1 - j0), h, None if dest is None else dest[0])
            if self.checked:
                self._sender_coin(ch, j0, lambda chi: chi.sender_sum(v))
                self.finish_check(ch)
            if self.lsb:
                self.code.add_encoded_lsb(j0 << h, q[:k], v)
            else:
                self.code.add_encoded(j0 << h, q[:k], v)
            return (v,)
        b, r = self.bases
        step = f"Ferret round {self.round}, bins {j0}-{j1 - 1}: SPCOT corrections"
        m = (j1 - j0) << h
        if fused:
            bits, w = (np.empty(m, np.uint8), np.empty((m, 16), np.uint8)) if dest is None else dest
            if self.checked:
                self._receive_checked(ch, j0, j1, [(j1 - j0, (bits, w))])
                return bits, w
            ferret_fused.mpcot_receive_encoded(ch, self.code, j0 << h, r[:k], b[lo:hi], r[lo:hi], j1 - j0, h,
                                               step, w, bits)
            return bits, w
        w, pos = mpcot_receive(ch, b[lo:hi], r[lo:hi], j1 - j0, h, step, None if dest is None else dest[1])
        if self.checked:
            idx = (np.arange(j1 - j0, dtype=np.int64) << h) + pos
            wsum, _ = self._receiver_reply(ch, j0, j1, lambda chi: (*chi.sum_and_pick(w, idx), None))
            self._receiver_verify(ch, j0, j1, wsum, (w,))
        if dest is None:
            bits = np.zeros(m, dtype=np.uint8)
        else:
            bits = dest[0]
            bits[:] = 0
        bits[(np.arange(j1 - j0, dtype=np.int64) << h) + pos] = 1
        if self.lsb:
            # bit 0 of each r[:k] block is its u: the gathers of A·x_r give A·u ⊕ e as the outputs' bit 0
            self.code.add_encoded_lsb_bits(j0 << h, r[:k], w, bits)
            return bits, w
        if self.packed_round != self.round:  # u = b[:k] is fixed for a round: pack it once
            self.packed_u = pack_bits(b[:k])
            self.packed_round = self.round
        self.code.add_encoded_with_bits(j0 << h, r[:k], b[:k], w, bits, packed_u=self.packed_u)
        return bits, w

    def _send_checked(self, ch: Channel, j0: int, j1: int, segments: list) -> None:
        """A checked group, pipelined (module docstring); ``segments``: ``(trees, (v,))`` in order, the arrays the
        group's outputs go to (the caller's, then a buffer for what it did not ask for)."""
        h, k = self.p.log_bin_size, self.p.k
        (q,) = self.bases
        seeds = self.rng.blocks(j1 - j0)
        # The raw leaves go straight into the outputs (plain stores, so they are still cached for
        # the check's sum and the encoding in place, which wait for the receiver's coin).
        parts = ferret_fused.pieces(segments, 0, j1 - j0, h)
        k0 = [sender_expand(seeds[t:t + n], self.delta, h, v)[1] for t, n, (v,) in parts]
        corrections = np.concatenate(k0) if len(k0) > 1 else k0[0]
        corrections ^= q[k + j0 * h:k + j1 * h].reshape(j1 - j0, h, 16)
        # The previous group's hash comes first on the wire; its check waited for the receiver while
        # this group was expanded, and its encoding runs while the receiver works on this group.
        encode_previous = self.finish_check(ch)
        ch.send(corrections)
        x = q[:k]

        def encode():
            for t, _, (v,) in parts:
                self.code.add_encoded_lsb((j0 + t) << h, x, v)

        chi_sum = lambda chi: functools.reduce(np.bitwise_xor, [chi.sender_sum(v) for _, _, (v,) in parts])  # noqa: E731
        self._sender_coin(ch, j0, chi_sum, encode)
        if encode_previous is not None:
            encode_previous()

    def _receive_checked(self, ch: Channel, j0: int, j1: int, segments: list) -> None:
        """A checked group, pipelined; ``segments``: ``(trees, (bits, w))`` as in :meth:`_send_checked`."""
        h, k = self.p.log_bin_size, self.p.k
        b, r = self.bases
        lo, hi = k + j0 * h, k + j1 * h
        step = f"Ferret round {self.round}, bins {j0}-{j1 - 1}: SPCOT corrections"
        kb = ch.recv_array(np.uint8, (j1 - j0, h, 16), step)
        kb ^= r[lo:hi].reshape(j1 - j0, h, 16)
        bb = b[lo:hi].reshape(j1 - j0, h)
        parts = ferret_fused.pieces(segments, 0, j1 - j0, h)
        # The leaves go straight into the output arrays, each step summed while in L2; the receiver
        # then encodes them in place while the sender's hash is on its way (with the other party
        # running, this measured faster than expanding the trees again for the fused kernel).
        wsum, pos = self._receiver_reply(ch, j0, j1, lambda chi: ferret_fused.receiver_check_sums(
            chi, kb, bb, h, [(n, w) for _, n, (_, w) in parts]))
        for t, n, (bits, w) in parts:
            bits[:] = 0
            bits[(np.arange(n, dtype=np.int64) << h) + pos[t:t + n]] = 1
            self.code.add_encoded_lsb_bits((j0 + t) << h, r[:k], w, bits)
        # Provisional until _receiver_verify passes (and wiped if it does not).
        self._receiver_verify(ch, j0, j1, wsum, tuple(x for _, seg in segments for x in seg))

    # -- the consistency check (malicious mode) -----------------------------------
    def _check_cots(self, j0: int) -> slice:
        g = 0 if j0 == 0 else 1 + (j0 - self.R) // self.chunk_trees
        start = self.p.reserved + CHECK_COTS * g
        return slice(start, start + CHECK_COTS)

    def _label(self, rnd: int, j0: int) -> bytes:
        return f"ferret/{rnd}/{j0}".encode()

    def _digest(self, rnd: int, j0: int, value: np.ndarray) -> bytes:
        return hashlib.sha3_256(b"pqmpc/ferret-check/" + self._label(rnd, j0) + b"/" + value.tobytes()).digest()

    def _sender_coin(self, ch: Channel, j0: int, chi_sum, encode=None) -> None:
        """Send the coin ``s_S`` of the group whose corrections just went out; its check stays pending
        (:meth:`finish_check`) with ``chi_sum(challenges)`` giving ``Σ χ_i·v_i`` over the group's raw
        leaves, and ``encode()`` (if given) what turns them into outputs once they are summed."""
        seed_s = self.rng.bytes(16)
        ch.send(seed_s)
        (q,) = self.bases
        # y* copied: a new round may overwrite this round's bases before the check is finished
        self.pending = (self.round, j0, seed_s, q[self._check_cots(j0)].copy(), chi_sum, encode)

    def finish_check(self, ch: Channel):
        """The sender's side of the pending group's check, if any: V = Σ χ_i·v_i ⊕ Σ y_i·X^i with
        y = y* ⊕ x'·Δ; send H(V) (the receiver compares). Must run before the next corrections and
        before a call returns (the receiver waits for H(V) to accept the group). Returns the group's
        ``encode`` (or ``None``): the caller runs it, before any of the group's outputs is used."""
        if self.pending is None:
            return None
        rnd, j0, seed_s, y_base, chi_sum, encode = self.pending
        self.pending = None
        reply = ch.recv_bytes(32, f"Ferret round {rnd}, bins from {j0}: check (receiver coin, x')")
        seed_r, x_masked = reply[:16], np.frombuffer(reply[16:], dtype=np.uint8)
        y = y_base ^ (check.block_to_bits(x_masked)[:, None] * self.delta)
        value = chi_sum(check.Challenges(seed_s, seed_r, self._label(rnd, j0))) ^ check.pack_cots(y)
        ch.send(np.frombuffer(self._digest(rnd, j0, value), dtype=np.uint8))
        return encode

    def _flush(self, ch: Channel) -> None:
        """Finish and encode the pending group (sender): before its outputs are copied or returned, and
        before a new round overwrites the bases its encoding reads."""
        encode = self.finish_check(ch)
        if encode is not None:
            encode()

    def _receiver_reply(self, ch: Channel, j0: int, j1: int, chi_sums) -> tuple:
        """Read ``s_S``, send ``s_R ‖ x'`` with ``x' = Σ χ_α ⊕ x*``; ``chi_sums(challenges)`` gives
        ``(Σ χ_i·w_i, ⊕ χ_α, extra)`` over the group. Returns ``(W, extra)``,
        ``W = Σ χ_i·w_i ⊕ Σ z*_i·X^i``."""
        seed_s = ch.recv_bytes(16, f"Ferret round {self.round}, bins {j0}-{j1 - 1}: check (sender coin)")
        seed_r = self.rng.bytes(16)
        b, r = self.bases
        cots = self._check_cots(j0)
        wsum, chi_alpha, extra = chi_sums(check.Challenges(seed_s, seed_r, self._label(self.round, j0)))
        x_masked = chi_alpha ^ check.bits_to_block(b[cots])
        ch.send(np.frombuffer(seed_r + x_masked.tobytes(), dtype=np.uint8))
        return wsum ^ check.pack_cots(r[cots]), extra

    def _receiver_verify(self, ch: Channel, j0: int, j1: int, value: np.ndarray, provisional: tuple) -> None:
        """H(W) must equal the sender's H(V): w = v ⊕ e_α·Δ on every bin, else CheatingDetected, with
        the group's ``provisional`` outputs wiped (none of them is used)."""
        step = f"Ferret round {self.round}, bins {j0}-{j1 - 1}: check"
        got = ch.recv_bytes(32, f"{step} (sender's hash)")
        if not hmac.compare_digest(bytes(got), self._digest(self.round, j0, value)):
            self.failed = True
            for a in provisional:
                a[...] = 0
            raise CheatingDetected(f"{step}: the sender's single-point COTs are inconsistent "
                                   "(malformed correction or check message)")

    def _refill(self, ch: Channel) -> None:
        p = self.p
        if self.tree >= p.t:
            # New round on the reserve the previous round set aside.
            self.bases = self.next_bases
            self.round += 1
            R = self.R
            # Two round buffers, alternating: this round reads its bases from the one the
            # previous round wrote, so the reserve needs no copy (a buffer is written again
            # two rounds later, when its bases and its leftover outputs are spent).
            out = self._trees(ch, 0, R, self._dest(f"round {self.round % 2}", R << p.log_bin_size))
            M = self.M
            self.next_bases = tuple(a[:M] for a in out)
            self.buf = tuple(a[M:] for a in out)
            self.tree = R
        else:
            j1 = min(p.t, self.tree + self.chunk_trees)
            self.buf = self._trees(ch, self.tree, j1, self._dest("group", (j1 - self.tree) << p.log_bin_size))
            self.tree = j1
        self.buf_pos = 0
        self.buf_len = self.buf[0].shape[0]

    def take(self, ch: Channel, n: int, outs: list) -> tuple:
        """The next ``n`` correlated OTs into ``outs``: sender ``[q]``, receiver ``[bits, r]``.

        Malicious mode: the call returns only once every group it used has passed its check (the
        sender has sent the last hash); if it raises, ``outs`` are zeroed, so no provisional
        output is left in the caller's arrays."""
        try:
            self._take(ch, n, outs)
            self._flush(ch)
        except BaseException:
            if self.checked:
                self.pending = None
                for o in outs:
                    o[...] = 0
            raise
        return tuple(outs)

    def _take(self, ch: Channel, n: int, outs: list) -> None:
        filled = 0
        p = self.p
        while filled < n:
            if self.buf_pos == self.buf_len:
                # Whole bin groups the caller wants go straight into its arrays: no copy.
                whole = min(self.chunk_trees, p.t - self.tree, (n - filled) >> p.log_bin_size)
                # Checked groups keep fixed boundaries: their check COTs were reserved per group.
                fixed = not self.checked or whole == min(self.chunk_trees, p.t - self.tree)
                if 0 < self.tree < p.t and whole > 0 and fixed:
                    m = whole << p.log_bin_size
                    self._trees(ch, self.tree, self.tree + whole, tuple(o[filled:filled + m] for o in outs))
                    self.tree += whole
                    filled += m
                    continue
                if self.checked and 0 < self.tree < p.t and whole > 0 and self.lsb and ferret_fused.AVAILABLE:
                    # A checked group the caller wants only part of: its first trees still go
                    # straight into the caller's arrays, the rest to the group buffer (leftovers).
                    j1 = min(p.t, self.tree + self.chunk_trees)
                    m = whole << p.log_bin_size
                    rest = self._dest("group", (j1 - self.tree - whole) << p.log_bin_size)
                    segments = [(whole, tuple(o[filled:filled + m] for o in outs)), (j1 - self.tree - whole, rest)]
                    (self._send_checked if self.role == "sender" else self._receive_checked)(ch, self.tree, j1,
                                                                                              segments)
                    self.tree = j1
                    filled += m
                    self.buf, self.buf_pos, self.buf_len = rest, 0, rest[0].shape[0]
                    continue
                self._flush(ch)
                self._refill(ch)
            self._flush(ch)
            m = min(n - filled, self.buf_len - self.buf_pos)
            for dst, src in zip(outs, self.buf):
                dst[filled:filled + m] = src[self.buf_pos:self.buf_pos + m]
            self.buf_pos += m
            filled += m


class Ferret(RandomCorrelatedOT):
    """Silent correlated OT extension from LPN (Ferret); see the module docstring.

    ``level``: the :class:`~pqmpc.params.SecurityLevel`; only ``LEVEL_128``
    exists for Ferret (the default IKNP bootstrap runs at it too).
    ``params``: a :class:`FerretParams` or a name (``"b13"`` default, ``"b12"``,
    ``"b11"``, ``"b10"``; ``"test-insecure"`` only in tests). ``base``: the OT
    extension that supplies the first round (``None`` → ``IKNP()``; any
    :class:`~pqmpc.ot.interfaces.CorrelatedOT`, or any other OT, made correlated by
    :func:`~pqmpc.ot.adapters.as_correlated` at one base OT per bootstrap COT).
    ``security``: ``"semi-honest"`` (default) or ``"malicious"`` (the consistency
    check on every group of bins; ``base`` must then be actively secure: an
    actively secure extension such as ``KOS``, or a base OT that
    :func:`~pqmpc.ot.ext.check.require_malicious_base` accepts, which then seeds a
    KOS bootstrap; ``None`` → ``KOS()``). Both parties must use the same mode
    (it is part of the handshake).

    A :class:`~pqmpc.ot.interfaces.RandomCorrelatedOT`: correlated OT with
    chosen choice bits (one bit per OT) and random OT (hashed) come from the
    interface.

    One instance keeps one session per channel and role: Δ is fixed by the
    first sender call on a channel (the ``rng`` of that call seeds the whole
    session) and stays the same across later calls and rounds.
    """

    name = PROTOCOL
    block_bytes = 16
    writes_out = True
    hash_tag = TAG_FERRET  # random OT hashes the COTs under Ferret's own tweak space

    def __init__(self, params: FerretParams | str = FERRET_B13, base=None, *, level: SecurityLevel | None = None,
                 security: str = "semi-honest"):
        if security not in SECURITY_MODES:
            raise ParameterError(f"security must be 'semi-honest' or 'malicious', not {security!r}")
        self.security = security
        self.level = resolve_level(None, level)
        if self.level != LEVEL_128:
            raise ParameterError("Ferret has no 256-bit mode yet (its LPN code and trees work on 128-bit blocks)")
        self.params = get_params(params)
        self.base = base if base is None else _base_cot(base, self.level, security)
        default = "KOS" if security == "malicious" else "IKNP"
        self.base_name = default if base is None else getattr(self.base, "name", type(self.base).__name__)
        self._sessions = weakref.WeakKeyDictionary()

    def __repr__(self):
        return f"Ferret(params={self.params.name!r}, base={self.base_name!r}, security={self.security!r})"

    def preload(self, role: str | None = None) -> None:
        """Load the bootstrap's kernels and Ferret's own (GGM trees, LPN code) before the first message."""
        from ...primitives.preload import preload

        base = self.base if self.base is not None else _base_cot(None, self.level, self.security)
        base.preload(role)  # Ferret's sender is its bootstrap's sender
        preload(spcot_kernel_specs() + lpn_kernel_specs() + ferret_fused.kernel_specs())

    def _session(self, ch: Channel, role: str, rng, delta=None) -> _Session:
        if delta is not None:
            delta = check_delta(delta, 16)
        per_ch = self._sessions.setdefault(ch, {})
        s = per_ch.get(role)
        if s is not None and s.failed:
            raise CheatingDetected("Ferret: this session failed its consistency check; start a new channel")
        if s is None:
            self.preload(role)
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
    def send_random_correlated(self, ch: Channel, n: int, rng=None, delta=None, *,
                               out=None) -> tuple[np.ndarray, np.ndarray]:
        """Sender: ``(delta, q)``; the receiver gets random ``b`` and ``t = q ⊕ b·Δ``.
        ``q`` goes into ``out`` (``(n, 16)`` uint8) if given."""
        n = check_count(n)
        q = out_or_empty(out, (n, 16))
        s = self._session(ch, "sender", rng, delta)
        s.take(ch, n, [q])
        return s.delta.copy(), q

    def receive_random_correlated(self, ch: Channel, n: int, rng=None, *, out=None,
                                  choices_out=None) -> tuple[np.ndarray, np.ndarray]:
        """Receiver: ``(choices, t)`` with pseudo-random ``choices``; no message of its own.
        ``t`` goes into ``out`` (``(n, 16)``), ``choices`` into ``choices_out`` (``(n,)``) if given."""
        n = check_count(n)
        t = out_or_empty(out, (n, 16))
        b = out_or_empty(choices_out, (n,), "choices_out")
        s = self._session(ch, "receiver", rng)
        return s.take(ch, n, [b, t])


__all__ = ["Ferret", "FerretParams", "reserved_cots", "CHECK_COTS"]
