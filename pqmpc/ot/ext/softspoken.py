"""SoftSpokenOT (Roy, CRYPTO 2022, ePrint 2022/192): OT extension at about κ/k bits per OT.

``SoftSpoken(k=4, security="semi-honest"|"malicious", kappa=128, base=None)``
is a :class:`~pqmpc.ot.interfaces.CorrelatedOT` with the method names of every
pqmpc OT. It replaces IKNP's κ one-out-of-two base OTs by κ/k instances of
(2^k − 1)-out-of-2^k OT (punctured GGM trees over the same κ base OTs) and
turns them into a small-field subspace VOLE (:mod:`.subspace_vole`): the
receiver sends one correction bit per block per OT, κ/k bits per OT (k = 2:
64, k = 4: 32, k = 8: 16) instead of IKNP's κ, for 2^k/2 times IKNP's PRG work
(k = 8 is the low-bandwidth end: ~16× the AES of k = 2).

Setup: a handshake naming protocol, k, mode and base OT; κ base OTs (the
SoftSpoken sender, who holds Δ, is base-OT receiver with the complements of
Δ's bits along each tree path); then the receiver sends the masked GGM level
sums, ``κ/k · k · 2`` blocks (4 KiB). Each call: two small JSON headers, then
one corrections message per chunk; the rest is as in :mod:`.kos`
(correlated rows ``q_j = t_j ⊕ b_j·Δ``, random OT by the TCR hash with a
per-session OT counter as tweak).

Security. ``"semi-honest"``: Roy's protocol, semi-honest security for both
parties, assumptions as IKNP's (base OT, AES-CTR PRG and AES as GGM PRG,
TCR hash). ``"malicious"``: adds the consistency check of :mod:`.check` on
every call (``κ + 64`` random rows, coin-tossed GF(2^128) challenges; the
receiver proves ``Σχ_j·q_j = t + x·Δ``), which is what Roy's maliciously secure
variant checks (his check hashes the subspace-VOLE correlation with a
universal hash; on the repetition code that correlation is exactly the
row relation above), and needs an actively secure base OT (see
:func:`~pqmpc.ot.ext.check.require_malicious_base`). A malicious receiver that
deviates in a block learns, as in KOS, at most the bits of Δ it bets on, and is
caught with probability 1 − 2^-(bits it gains); the random-OT hash is the
per-index TCR hash that this leakage needs (Roy §6, Guo et al. 2019/074). A
malicious sender learns nothing: the corrections are one-time padded by the
receiver's ``u_i``.

κ = 256 (the post-quantum mode, as IKNP's): 32-byte Δ and rows, 256/k trees whose
32-byte nodes are AES-256 keys (a node's children are the first four blocks of
its CTR stream), leaves expanded with AES-256-CTR, random OT hashed with
``tccr_wide``, the malicious check in GF(2^256); the base OT has 32-byte messages
(default ``KyberOT("ML-KEM-1024", block_bytes=32)``).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ...errors import ParameterError
from ...net import Channel
from ...primitives.bits import unpack_bits
from ...primitives.blocks import out_blocks
from ...primitives.hashing import TAG_IKNP, make_tag
from ...rng import Rng
from ..derive import hash_rows, random_ot_from_cot
from ..interfaces import RECEIVER, SENDER, RandomOT, check_choices, check_count
from .kos import KOS
from .sessions import drops_session_on_error
from .subspace_vole import (
    RowHashPlan,
    VoleMatrixReceiver,
    VoleMatrixSender,
    full_trees,
    hashed_tiles,
    path_bits,
    punctured_trees,
)

PROTOCOL = "SoftSpokenOT"
#: 2: a malicious call sends its remainder chunk first (see :meth:`.kos.KOS._extend_ranges`).
VERSION = 3  # 3: check challenges are powers of one coin-tossed element (check.DOMAIN), not AES-CTR
SECURITY_MODES = ("semi-honest", "malicious")
#: OTs per corrections message (as IKNP's chunk: one chunk's rows, 1 MiB, stay in cache).
DEFAULT_CHUNK = {1: 1 << 16, 2: 1 << 16, 4: 1 << 16, 8: 1 << 16}


class SoftSpoken(KOS):
    """SoftSpokenOT with ``k`` ∈ {1, 2, 4, 8} (``k = 1`` is IKNP's bandwidth); see the module docstring."""

    name = PROTOCOL
    version = VERSION
    matrix_step = "receiver corrections"
    #: The IKNP family's TCCR tag, instance 2 (KOS is 1), in both modes.
    hash_tag = make_tag(TAG_IKNP, 2)
    #: Unlike KOS's (0), SoftSpoken's checked sender reads only its *last* ``read_ahead + 1`` chunks
    #: ahead (``_sender_extend``), so it never waits on the receiver mid-call, and the coin opens
    #: while it still has those chunks' work to do: SoftSpoken k = 4 malicious / semi-honest, 2^20
    #: per call, one interleaved run (load 0.9): 1.26 with 0, 1.19 with 2 (KOS in the same run: 1.19
    #: with 0, 1.24 with 2, since KOS's read-ahead runs from the first chunk).
    read_ahead = 2

    def __init__(self, k: int = 4, security: str = "semi-honest", kappa: int = 128,
                 base: RandomOT | None = None, chunk: int | None = None):
        if k not in DEFAULT_CHUNK:
            raise ParameterError(f"k must be 1, 2, 4 or 8, not {k!r}")
        if security not in SECURITY_MODES:
            raise ParameterError(f"security must be 'semi-honest' or 'malicious', not {security!r}")
        if kappa not in (128, 256):
            raise ParameterError(f"kappa must be 128 or 256, not {kappa!r}")
        if base is not None and not isinstance(base, RandomOT):
            raise ParameterError(f"base must be an OT instance, not {type(base).__name__}")
        if base is not None and base.block_bytes != kappa // 8:
            raise ParameterError(f"SoftSpoken with kappa={kappa} needs a base OT with {kappa // 8}-byte messages, "
                                 f"got {base.block_bytes}")
        self.k = k
        self.security = security
        self.checked = security == "malicious"
        chunk = DEFAULT_CHUNK[k] if chunk is None else chunk
        if self.checked:
            super().__init__(base, kappa, chunk)
        else:  # KOS's constructor insists on an actively secure base; semi-honest takes any
            super().__init__(None, kappa, chunk)
            self._base = base

    def __repr__(self) -> str:
        return f"SoftSpoken(k={self.k}, security={self.security!r}, kappa={self.kappa}, base={self.base!r})"

    def handshake_params(self) -> dict:
        return {**super().handshake_params(), "k": self.k,
                "ggm": "aes128-fixed-key" if self.kappa == 128 else "aes256-keyed-ctr"}

    def base_setup(self, ch: Channel, role: str, rng: Rng, delta: np.ndarray | None):
        """κ base OTs, then the receiver's masked GGM level sums; returns this side's VOLE matrix."""
        k, nb, kappa, w = self.k, self.kappa // self.k, self.kappa, self.block_bytes
        step = f"{self.name} setup (masked GGM level sums)"
        if role == SENDER:
            dbits = unpack_bits(delta, kappa)
            points = (dbits.reshape(nb, k).astype(np.int64) << np.arange(k)).sum(axis=1)
            path = path_bits(points, k)  # (nb, k), level order
            got = self.base.receive_random(ch, (1 - path).reshape(-1), rng)
            masked = ch.recv_array(np.uint8, (nb, k, 2, w), step)
            off = (1 - path).astype(np.intp)
            known = masked[np.arange(nb)[:, None], np.arange(k)[None, :], off] ^ got.reshape(nb, k, w)
            leaves = punctured_trees(known, points, k)
            return VoleMatrixSender(leaves, points, dbits, k)
        m0, m1 = self.base.send_random(ch, kappa, rng)
        leaves, sums = full_trees(rng.fork("softspoken/roots").blocks(nb, w), k)
        masked = np.empty((nb, k, 2, w), dtype=np.uint8)
        np.bitwise_xor(sums[:, :, 0], m0.reshape(nb, k, w), out=masked[:, :, 0])
        np.bitwise_xor(sums[:, :, 1], m1.reshape(nb, k, w), out=masked[:, :, 1])
        ch.send(masked)
        return VoleMatrixReceiver(leaves, k)

    def _sender_extend(self, ch, sess, n: int, op: str, extra: dict, on_chunk=None,
                       rows: np.ndarray | None = None, keep: bool = True) -> np.ndarray | None:
        """KOS's checked sender, same messages in the same order, on the VOLE row kernels: each chunk
        runs PRG, sums, transpose, random-OT hash and the check's ``Σ χ_j·q_j`` per tile in cache
        (:meth:`.subspace_vole.VoleMatrixSender.recv_chunk_rows` with ``check=``; GF(2^256) sums at
        κ = 256), so random-OT rows stay in the kernels' ring buffer; chunks the kernels do not take
        (the remainder, correlated OT at κ = 256, no VAES) are summed after, as in KOS. As IKNP's core in KOS, the last
        chunks' corrections are read ahead of the work on them (all of them once ``read_ahead + 1``
        chunks are left), so the coin opens as soon as the last chunk is in and the receiver's check
        pass runs alongside the work on the chunks still held rather than after it."""
        mat = sess.matrix
        if not (self.checked and isinstance(mat, VoleMatrixSender)):
            return super()._sender_extend(ch, sess, n, op, extra, on_chunk, rows, keep)
        step, seed_s, chi, q = self._sender_open(ch, sess, n, op, extra, rows, keep)
        m, w = n + self.pad, self.block_bytes
        tile = chi.tile_args()
        acc = np.zeros(w, dtype=np.uint8)
        ranges = list(self._extend_ranges(m))
        label = self._chunk_label(step)
        held: deque = deque()
        got = 0  # chunks of corrections received so far
        for i, (start, c) in enumerate(ranges):
            # only the last chunks are read ahead: reading ahead from the start would leave this side
            # idle until the receiver had made ``read_ahead`` chunks more
            while got < len(ranges) and (got <= i or i + self.read_ahead + 1 >= len(ranges)):
                a, cg = ranges[got]
                held.append(mat.recv_corrections(ch, cg, label(a, cg)))
                got += 1
                if got == len(ranges):
                    ch.send(seed_s)  # the whole matrix is in: open the coin before the work on it
            at = start if keep else 0
            part = q[at:at + c]
            if not mat.recv_chunk_rows(ch, c, label(start, c), part, check=tile, corr=held.popleft()):
                acc ^= chi.sender_sum(part)  # the kernels did not take this chunk: sum it here
            self._realign(mat)
            if on_chunk is not None and start < n:
                on_chunk(start, part[:min(c, n - start)])
        self._sender_verify(ch, sess, chi, acc, step)
        return q[:n] if keep else None

    # ------------------------------------------------------------------ random OT
    # As KOS's, with the hashing moved into the VOLE row kernels where they run (each tile's rows
    # hashed while in cache; :class:`.subspace_vole.RowHashPlan`); the per-chunk hook hashes
    # whatever rows a kernel left (tails, padding, chunks on another path). Same outputs.
    @drops_session_on_error(SENDER)
    def send_random(self, ch, n, rng=None, *, out=None):
        """``(m0, m1)``; ``out``: optional ``(m0, m1)`` arrays ``(n, block_bytes)`` written in place
        (checked before any message)."""
        if not hashed_tiles(self.kappa):
            return super().send_random(ch, n, rng, out=out)
        n = check_count(n)
        m0, m1 = (None, None) if out is None else out
        m0 = out_blocks(m0, n, self.block_bytes, "out[0] (m0)")
        m1 = out_blocks(m1, n, self.block_bytes, "out[1] (m1)")
        sess = self._get(ch, SENDER, rng)
        plan = RowHashPlan(n, sess.ots, self.hash_tag, m0=m0, m1=m1, delta=sess.delta, keep_rows=self.checked)

        def hash_chunk(start, q):
            d, e = plan.hashed, start + q.shape[0]
            if d < q.shape[0]:
                random_ot_from_cot(q[d:], sess.delta, sess.ots + start + d, m0[start + d:e], m1[start + d:e],
                                   tag=self.hash_tag)

        sess.matrix.plan = plan
        try:
            self._sender_extend(ch, sess, n, "random", {"mode": "session"}, hash_chunk, keep=False)
        finally:
            sess.matrix.plan = None
        self._finish(sess, n)
        return m0, m1

    @drops_session_on_error(RECEIVER)
    def receive_random(self, ch, choices, rng=None, *, out=None):
        """``m_b``; ``out``: an optional ``(n, block_bytes)`` array written in place."""
        if not hashed_tiles(self.kappa):
            return super().receive_random(ch, choices, rng, out=out)
        choices = check_choices(choices)
        n = choices.shape[0]
        out = out_blocks(out, n, self.block_bytes)
        sess = self._get(ch, RECEIVER, rng)
        # Unchecked, the rows are not needed after hashing: made in the output and hashed in place.
        rows = sess.scratch_rows(n + self.pad) if self.checked else out
        plan = RowHashPlan(n, sess.ots, self.hash_tag, out=out, keep_rows=self.checked)

        def hash_chunk(start, t):
            d, e = plan.hashed, start + t.shape[0]
            if d < t.shape[0]:
                hash_rows(t[d:], sess.ots + start + d, out=out[start + d:e], tag=self.hash_tag)

        sess.matrix.plan = plan
        try:
            self._receiver_extend(ch, sess, choices, "random", hash_chunk, rows)
        finally:
            sess.matrix.plan = None
        self._finish(sess, n)
        return out


__all__ = ["SoftSpoken", "PROTOCOL", "VERSION", "SECURITY_MODES"]
