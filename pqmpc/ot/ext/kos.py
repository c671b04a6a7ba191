"""KOS: IKNP OT extension with active security (Keller–Orsini–Scholl, CRYPTO 2015, ePrint 2015/546).

``KOS(base=None, kappa=128)`` is what ``IKNP(security="malicious")`` stands for:
the IKNP extension (the matrix core of :mod:`.matrix`, roles and wire as in
:mod:`.iknp`) plus the consistency check of :mod:`.check` on every call:

1. both call headers cross; the sender's carries a commitment to its coin
   ``s_S``; the receiver then sends its coin ``s_R`` (32 bytes);
2. the receiver extends ``m = n + κ + 64`` rows (the extra rows with random
   choice bits) and sends U chunk by chunk, as IKNP does, the remainder chunk
   (``m mod chunk`` rows) first; after every chunk both parties skip their PRG
   streams to an AES block boundary (wire version 2);
3. the sender opens ``s_S`` (32 bytes) as soon as the last chunk of U is in, before
   its own work on that chunk and the ones it read ahead (:data:`READ_AHEAD`); both
   expand ``χ_1..χ_m ∈ GF(2^128)``;
4. the receiver sends ``x = Σ χ_j·r_j`` and ``t = Σ χ_j·t_j`` (32 bytes); the
   sender checks ``Σ χ_j·q_j = t + x·Δ`` and raises
   :class:`~pqmpc.errors.CheatingDetected` if not. The extra rows are dropped.

Cost over IKNP per call: ``κ + 64`` extra rows (``(κ + 64)·κ/8`` bytes), 96 bytes
and one more flow each way, and per OT one challenge block (AES-CTR) and one
GF(2^128) multiply-accumulate on each side.

Random OT hashes the checked rows with the tweakable correlation-robust hash
(``m0 = H(q_j, j)``, ``m1 = H(q_j ⊕ Δ, j)``, the tweak a per-session OT counter
that never repeats). KOS proved security with a random oracle; Guo–Katz–Wang–Yu
(ePrint 2019/074, §4.1 and §7.4) show that a TCR hash from a fixed-key
ideal permutation suffices, since the check leaves a malicious receiver at most
a few guessed bits of Δ, which the per-index tweak keeps from being reused
across OTs. With κ = 128 that is fixed-key AES-128, with the Grover caveat of
:mod:`.iknp`; κ = 256 is IKNP's 256-bit mode (AES-256 PRG, 32-byte rows hashed
with ``tccr_wide``) with the check in GF(2^256) (:mod:`pqmpc.primitives.gf256`,
χ from AES-256-CTR).

Security: active security against either party, assuming an actively secure
base OT (:func:`~pqmpc.ot.ext.check.require_malicious_base`: ML-KEM/Saber
Masny–Rindal or classical SimplestOT qualify; the Mod-LWR ``np`` OT is refused),
AES-CTR as a PRG and the TCR hash above. Against a malicious *sender* IKNP is
already private (U is a one-time pad of the receiver's bits); the coin toss keeps
such a sender from choosing challenges that would make ``x`` leak choice bits.
A call that raises drops the session on that side (its streams are out of step).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ...errors import HandshakeError, ParameterError
from ...net import Channel, handshake
from ...params import level_for_kappa
from ...primitives.bits import pack_bits, unpack_bits
from ...primitives.blocks import out_blocks
from ...primitives.hashing import TAG_IKNP, make_tag
from ...rng import Rng
from ..interfaces import RECEIVER, SENDER, CorrelatedOT, RandomOT, check_choices, check_count, check_delta
from . import check, cot
from .matrix import CHUNK, MatrixReceiver, MatrixSender, seeds_from_blocks, transpose_rows
from .sessions import ExtensionSessions, drops_session_on_error

PROTOCOL = "KOS"
#: 2: the PRG streams skip to an AES block boundary after every chunk (see ``_realign``) and a
#: checked call sends its remainder chunk first (``_extend_ranges``); a version-1 peer would disagree.
VERSION = 3  # 3: check challenges are powers of one coin-tossed element (check.DOMAIN), not AES-CTR
#: Chunks of U the sender receives ahead of its work on them (IKNP's core, checked calls). The coin
#: may open only once the whole matrix is in; reading ahead lets it open when the last chunk
#: arrives rather than when the sender's work reaches it, so the receiver's check pass (after the
#: coin) runs alongside the sender's work on the last ``READ_AHEAD + 1`` chunks instead of after it.
#: Same messages and bytes; the cost is ``READ_AHEAD + 1`` chunk buffers held by the sender.
#: Default 0 (session 6): reading ahead blocks the sender's work on chunk i until chunk i + d has
#: arrived, so a sender that keeps up with the receiver (a quiet machine, the memory channel) is
#: always d chunks behind and ends with d + 1 chunks of work after the coin, against the
#: receiver's one check pass. Without it the sender works on each chunk as it comes and still
#: opens the coin before its work on the last one. Same run, load 0.4-0.8, 4 rounds in fresh
#: processes (``bench/kos_variants.py --ab``): KOS / IKNP wall 1.135 vs 1.185 (κ = 128),
#: 1.25 vs 1.345 (κ = 256). Under heavy load (4-5), where the sender falls behind anyway,
#: session 5 measured d = 2 ahead in a two-protocol harness; set ``KOS.read_ahead`` there.
READ_AHEAD = 0


class Session:
    """One party's state of a KOS session on one channel."""

    def __init__(self, role: str, matrix, delta: np.ndarray | None, rng: Rng, width: int = 16):
        self.role = role
        self.width = width
        self.matrix = matrix
        self.delta = delta
        self.rng = rng  # per-call coins and padding bits
        self._scratch = np.empty((0, 16), dtype=np.uint8)
        self._u_slots: dict[int, np.ndarray] = {}
        self.calls = 0
        self.ots = 0

    def scratch_rows(self, m: int) -> np.ndarray:
        """``(m, width)`` rows that stay with the session (fresh pages cost as much as the transpose)."""
        if self._scratch.shape[0] < m or self._scratch.shape[1] != self.width:
            self._scratch = np.empty((m, self.width), dtype=np.uint8)
        return self._scratch[:m]

    def u_slot(self, k: int, shape: tuple[int, int]) -> np.ndarray:
        """Buffer ``k`` of the sender's read-ahead ring, of ``shape`` (kept across calls)."""
        buf = self._u_slots.get(k)
        if buf is None or buf.size < shape[0] * shape[1]:
            buf = self._u_slots[k] = np.empty(shape[0] * shape[1], dtype=np.uint8)
        return buf[:shape[0] * shape[1]].reshape(shape)


class _Arrived:
    """``ch`` with its next array message already received (``payload``, size-checked there): lets
    the sender open its coin between the last chunk's arrival and the matrix core's fused work on
    it. Every other attribute is the channel's."""

    def __init__(self, ch: Channel, payload: np.ndarray):
        self._ch = ch
        self._payload = payload

    def _take(self, dtype, shape) -> np.ndarray:
        p, self._payload = self._payload, None
        if p is None or p.dtype != np.dtype(dtype) or p.shape != tuple(shape):
            raise RuntimeError("KOS: the matrix core read a message other than the pre-received chunk")
        return p

    def recv_array(self, dtype, shape, step: str, max_bytes: int | None = None) -> np.ndarray:
        return self._take(dtype, shape)

    def recv_array_into(self, scratch: np.ndarray, step: str) -> np.ndarray:
        return self._take(scratch.dtype, scratch.shape)

    def __getattr__(self, name):
        return getattr(self._ch, name)


class KOS(ExtensionSessions, CorrelatedOT):
    """Actively secure IKNP (see the module docstring); a :class:`~pqmpc.ot.interfaces.CorrelatedOT`.

    ``base``: an actively secure :class:`~pqmpc.ot.interfaces.RandomOT` (default
    ``KyberOT("ML-KEM-768")``, ``KyberOT("ML-KEM-1024", block_bytes=32)`` for κ = 256);
    ``kappa``: 128 or 256; ``chunk``: rows per wire message.
    """

    name = PROTOCOL
    version = VERSION
    security = "malicious"
    #: TCCR tweak tag: the IKNP family's tag with instance 1 (IKNP itself uses instance 0), so
    #: KOS hashes never share a tweak with another protocol's under the common fixed key.
    hash_tag = make_tag(TAG_IKNP, 1)
    #: whether calls run the consistency check (subclasses with a semi-honest mode turn it off)
    checked = True
    #: chunks of U the sender reads ahead of its work (:data:`READ_AHEAD`; 0: the coin opens when
    #: the work reaches the last chunk)
    read_ahead = READ_AHEAD
    #: what the receiver's bulk message is called in error messages
    matrix_step = "receiver matrix U"

    def __init__(self, base: RandomOT | None = None, kappa: int = 128, chunk: int = CHUNK):
        if kappa not in (128, 256):
            raise ParameterError(f"kappa must be 128 or 256, not {kappa!r}")
        self.level = level_for_kappa(kappa)
        self.kappa = kappa
        self.block_bytes = self.level.block_bytes
        self.init_sessions(base, chunk)
        if base is not None:
            check.require_malicious_base(base, self.name)
        self.pad = check.pad_rows(kappa) if self.checked else 0

    def __repr__(self) -> str:
        return f"KOS(base={self.base!r}, kappa={self.kappa})"

    # ------------------------------------------------------------------ sessions
    def setup(self, ch: Channel, role: str, rng=None, delta=None) -> Session:
        """Handshake and κ base OTs on ``ch`` now (optional: the first call does it)."""
        if role not in (SENDER, RECEIVER):
            raise ParameterError(f"role must be 'sender' or 'receiver', not {role!r}")
        if delta is not None and role != SENDER:
            raise ParameterError("only the sender has a delta")
        if delta is not None:
            delta = check_delta(delta, self.block_bytes)
        if self.session(ch, role) is not None:
            raise ParameterError(f"a {self.name} {role} session already exists on this channel (call forget() first)")
        rng = Rng.ensure(rng)
        handshake(ch, self.name, self.version, self.handshake_params(), role=role,
                  peer_role=RECEIVER if role == SENDER else SENDER)
        base_rng = rng.fork("kos/base")
        if role == SENDER:
            delta = rng.blocks(1, self.block_bytes)[0] if delta is None else delta
        matrix = self.base_setup(ch, role, base_rng, delta)
        sess = Session(role, matrix, delta if role == SENDER else None, rng.fork("kos/calls"), self.block_bytes)
        return self.remember(ch, role, sess)

    def handshake_params(self) -> dict:
        base = self.base
        return {"kappa": self.kappa, "chunk": self.chunk, "base": base.name, "security": self.security,
                "base_variant": getattr(base, "variant", None), "base_block_bytes": base.block_bytes,
                "check": f"gf{self.kappa}/pad{self.pad}", "prg": f"aes{8 * self.level.aes_key_bytes}-ctr",
                "hash": f"{'tccr' if self.block_bytes == 16 else 'tccr_wide'}/tag{self.hash_tag:#x}"}

    def base_setup(self, ch: Channel, role: str, rng: Rng, delta: np.ndarray | None):
        """The κ base OTs (IKNP roles reversed) drawing on ``rng``; returns this side's matrix core."""
        base, kappa, seed_bytes = self.base, self.kappa, self.level.aes_key_bytes
        reps = -(-seed_bytes // base.block_bytes)
        base_rng = rng
        if role == SENDER:
            got = base.receive_random(ch, np.repeat(unpack_bits(delta, kappa), reps), base_rng)
            return MatrixSender(seeds_from_blocks(got, kappa, seed_bytes), unpack_bits(delta, kappa))
        k0, k1 = base.send_random(ch, kappa * reps, base_rng)
        return MatrixReceiver(seeds_from_blocks(k0, kappa, seed_bytes), seeds_from_blocks(k1, kappa, seed_bytes))

    def _header(self, ch: Channel, sess: Session, op: str, n: int, extra: dict) -> dict:
        mine = {"call": sess.calls, "op": op, "n": n, "ots": sess.ots, "role": sess.role, **extra}
        ch.send_json(mine)
        theirs = ch.recv_json(f"{self.name} call {sess.calls} header")
        if not isinstance(theirs, dict):
            raise HandshakeError(f"{self.name} call {sess.calls}: the peer's call header is not an object")
        diffs = [f"{k}: ours {mine[k]!r}, peer's {theirs.get(k)!r}" for k in ("call", "op", "n", "ots")
                 if theirs.get(k) != mine[k]]
        if theirs.get("role") == sess.role:
            diffs.append(f"both sides are {sess.role}s")
        if diffs:
            raise HandshakeError(f"{self.name} call {sess.calls}: the parties' calls differ: " + "; ".join(diffs))
        return theirs

    def _label(self, sess: Session) -> bytes:
        return f"{sess.calls}/{sess.ots}".encode()

    def _ranges(self, m: int):
        for start in range(0, m, self.chunk):
            yield start, min(self.chunk, m - start)

    def _extend_ranges(self, m: int):
        """The chunks of a checked extension: the remainder ``m mod chunk`` first, then whole chunks.

        The coin opens when the last chunk arrives; a whole last chunk gives the sender its PRG,
        transpose, hash and check work to do while the receiver runs its check pass, where a
        last chunk of only the κ + 64 padding rows left the receiver's pass alone on the critical
        path. (Unchecked calls keep the plain order.)"""
        first = m % self.chunk if self.checked and m > self.chunk else 0
        if first:
            yield 0, first
        for start in range(first, m, self.chunk):
            yield start, min(self.chunk, m - start)

    # ------------------------------------------------------------------ checked extension
    def _receiver_extend(self, ch, sess: Session, choices: np.ndarray, op: str,
                         on_chunk=None, rows: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
        """Extend and prove consistency; returns the ``(n, width)`` rows t (unhashed) and the sender's header.

        ``on_chunk(start, rows)`` sees each chunk's output rows while they are in cache."""
        n = choices.shape[0]
        theirs = self._header(ch, sess, op, n, {})
        step = f"{self.name} call {sess.calls}"
        if self.checked:
            commitment = theirs.get("commit")
            if not isinstance(commitment, str) or len(commitment) != 64:
                raise HandshakeError(f"{step} header: the sender sent no coin commitment")
            seed_r = sess.rng.bytes(check.SEED_BYTES)
            ch.send(seed_r)
        m = n + self.pad
        # choices ‖ pad is never made whole (a megabyte's copy per call): each chunk packs its own
        # bits, and the check sums the two parts in order.
        pad = sess.rng.bits(self.pad) if self.pad else choices[:0]
        w = self.block_bytes
        t = np.empty((m, w), dtype=np.uint8) if rows is None else rows
        # IKNP's matrix core fuses PRG, masking and transpose per tile (whole tiles, else one
        # after the other); SoftSpoken's VOLE matrices give columns, transposed here.
        fused = hasattr(sess.matrix, "send_chunk_rows")
        for start, c in self._extend_ranges(m):
            e = start + c
            chunk_bits = (choices[start:e] if e <= n else pad[start - n:e - n] if start >= n
                          else np.concatenate((choices[start:n], pad[:e - n])))
            code = pack_bits(chunk_bits).reshape(1, -1)
            if fused:
                sess.matrix.send_chunk_rows(ch, c, code, t[start:start + c])
            else:
                transpose_rows(sess.matrix.send_chunk(ch, c, code), c, t[start:start + c])
            if c % 128:  # a whole number of AES blocks per stream keeps the streams aligned
                self._realign(sess.matrix)
            if on_chunk is not None and start < n:
                on_chunk(start, t[start:min(start + c, n)])
        if not self.checked:
            return t, theirs
        seed_s = ch.recv_bytes(check.SEED_BYTES, f"{step} step 3 (sender's coin)")
        check.check_opening(seed_s, commitment, f"{step} step 3 (sender's coin)")
        chi = check.Challenges(seed_s, seed_r, self._label(sess), w)
        # One pass over all m rows (the challenges are made in-kernel, or step by step inside
        # receiver_sums): per-chunk calls only added Python work and a short tail per chunk.
        sums = chi.receiver_sums(t[:n], choices)
        if self.pad:
            sums ^= chi.receiver_sums(t[n:m], pad)
        ch.send(sums)
        return t[:n], theirs

    def _sender_extend(self, ch, sess: Session, n: int, op: str, extra: dict, on_chunk=None,
                       rows: np.ndarray | None = None, keep: bool = True) -> np.ndarray | None:
        """The sender's side of :meth:`_receiver_extend`: the ``(n, width)`` checked rows q.

        ``on_chunk`` as there: what it computes is provisional until the check below passes.
        ``keep=False``: the rows are only seen by ``on_chunk`` (random OT), each chunk transposed
        into the same cache-sized scratch, and ``None`` is returned."""
        step, seed_s, chi, q = self._sender_open(ch, sess, n, op, extra, rows, keep)
        m, w = n + self.pad, self.block_bytes
        acc = np.zeros(w, dtype=np.uint8)
        fused = hasattr(sess.matrix, "recv_chunk_rows")
        ranges = list(self._extend_ranges(m))
        label = self._chunk_label(step)
        # IKNP's core reads U a few chunks ahead of its work (see READ_AHEAD); other cores as before.
        ahead = self.read_ahead if chi is not None and isinstance(sess.matrix, MatrixSender) else 0
        arrived: deque = deque()
        got = 0  # chunks of U received so far on the read-ahead path
        for i, (start, c) in enumerate(ranges):
            what = label(start, c)
            summed = False
            at = start if keep else 0
            rows = q[at:at + c]
            if ahead:
                while got < len(ranges) and got <= i + ahead:
                    a, cg = ranges[got]
                    arrived.append(ch.recv_array_into(sess.u_slot(got % (ahead + 1), (w * 8, (cg + 7) // 8)),
                                                      label(a, cg)))
                    got += 1
                    if got == len(ranges):
                        # The whole matrix is in: open the coin now, before the work on the chunks
                        # still held, so the receiver's check runs alongside that work.
                        ch.send(seed_s)
                summed = sess.matrix.recv_chunk_rows(_Arrived(ch, arrived.popleft()), c, what, rows,
                                                     check=chi.tile_args())
            elif chi is not None and start + c == m:
                # The whole matrix is in: open the coin before this chunk's work, so the receiver's
                # side of the check runs while this side transposes, hashes and sums the last chunk.
                self._recv_last_chunk(sess.matrix, ch, c, what, lambda: ch.send(seed_s), rows, fused)
            elif fused:  # IKNP's core: PRG, masking and transpose fused per tile
                summed = sess.matrix.recv_chunk_rows(ch, c, what, rows, **(
                    {"check": chi.tile_args()} if chi is not None and isinstance(sess.matrix, MatrixSender) else {}))
            else:
                transpose_rows(sess.matrix.recv_chunk(ch, c, what), c, rows)
            if c % 128:  # as on the receiver: whole blocks per stream keep the streams aligned
                self._realign(sess.matrix)
            if chi is not None:
                # The zmm tile kernel summed χ·q_j while each tile was in cache; else sum the chunk here.
                if not summed:
                    acc ^= chi.sender_sum(rows)
            if on_chunk is not None and start < n:
                on_chunk(start, rows[:min(c, n - start)])
        if not self.checked:
            return q if keep else None
        self._sender_verify(ch, sess, chi, acc, step)
        return q[:n] if keep else None

    def _sender_open(self, ch, sess: Session, n: int, op: str, extra: dict, rows, keep: bool):
        """The sender's start of a call: its header (with the commitment to its coin when checked),
        the receiver's coin, the rows' buffer (``rows``, a fresh ``(n + pad, width)`` array, or with
        ``keep=False`` the session's chunk scratch) and the call's challenges:
        ``(step, seed_s, chi, q)``, ``seed_s``/``chi`` ``None`` when unchecked. The sender knows both
        coins from here on: its side of the check can run chunk by chunk in cache."""
        step = f"{self.name} call {sess.calls}"
        seed_s = chi = None
        if self.checked:
            seed_s = sess.rng.bytes(check.SEED_BYTES)
            self._header(ch, sess, op, n, {"commit": check.commit(seed_s), **extra})
            seed_r = ch.recv_bytes(check.SEED_BYTES, f"{step} step 1 (receiver's coin)")
        else:
            self._header(ch, sess, op, n, extra)
        m, w = n + self.pad, self.block_bytes
        if keep:
            q = np.empty((m, w), dtype=np.uint8) if rows is None else rows
        else:
            q = sess.scratch_rows(min(self.chunk, m))
        if self.checked:
            chi = check.Challenges(seed_s, seed_r, self._label(sess), w)
        return step, seed_s, chi, q

    def _chunk_label(self, step: str):
        return lambda a, c: f"{step} step 2 ({self.matrix_step}), rows {a}..{a + c - 1}"

    def _sender_verify(self, ch, sess: Session, chi, acc: np.ndarray, step: str) -> None:
        """The sender's end of a checked call: ``acc`` (its chunks' ``Σ χ_j·q_j``) plus what the
        kernels summed, against the receiver's check values; :class:`CheatingDetected` if they differ."""
        acc ^= chi.tiles_sum()
        w = self.block_bytes
        sums = ch.recv_array(np.uint8, (2 * w,), f"{step} step 4 (receiver's check values)")
        check.verify_sums(acc, sess.delta, sums, f"{step} step 4")

    @staticmethod
    def _realign(matrix) -> None:
        """Skip IKNP's PRG streams to the next AES block boundary after a chunk.

        A call takes ``n + pad`` rows (pad = κ + 64: 24 or 40 bytes per column), so without this
        every later chunk would start mid-block and leave the fused PRG/transpose kernels of
        :mod:`.matrix` for the slow path. Both parties skip the same bytes; skipped PRG output is
        never used. (SoftSpoken's VOLE streams pad every chunk to whole blocks themselves.)"""
        if isinstance(matrix, MatrixReceiver):
            streams = (matrix.g0, matrix.g1)
        elif isinstance(matrix, MatrixSender):
            streams = (matrix.g,)
        else:
            return
        for g in streams:
            if g.pos % 16:
                g.next(16 - g.pos % 16)

    @staticmethod
    def _recv_last_chunk(matrix, ch, c: int, what: str, arrived, rows: np.ndarray, fused: bool) -> None:
        """The last chunk's rows into ``rows``, calling ``arrived()`` as soon as its bytes are in and
        before any work on them: for IKNP's core by receiving the message here and handing it to the
        fused path (:class:`_Arrived`). (SoftSpoken's checked sender reads its corrections ahead itself.)"""
        if fused:
            u = ch.recv_array(np.uint8, (matrix.width, (c + 7) // 8), what)
            arrived()
            matrix.recv_chunk_rows(_Arrived(ch, u), c, what, rows)
        else:
            out = matrix.recv_chunk(ch, c, what)
            arrived()
            transpose_rows(out, c, rows)

    def _finish(self, sess: Session, n: int) -> None:
        sess.calls += 1
        sess.ots += n

    # ------------------------------------------------------------------ random OT
    @drops_session_on_error(SENDER)
    def send_random(self, ch, n, rng=None, *, out=None):
        """``(m0, m1)``; ``out``: optional ``(m0, m1)`` arrays ``(n, block_bytes)`` written in place
        (checked before any message)."""
        n = check_count(n)
        m0, m1 = (None, None) if out is None else out
        m0 = out_blocks(m0, n, self.block_bytes, "out[0] (m0)")
        m1 = out_blocks(m1, n, self.block_bytes, "out[1] (m1)")
        sess = self._get(ch, SENDER, rng)

        def hash_chunk(start, q):
            e = start + q.shape[0]
            cot.random_ot_from_cot(q, sess.delta, sess.ots + start, m0[start:e], m1[start:e], tag=self.hash_tag)

        self._sender_extend(ch, sess, n, "random", {"mode": "session"}, hash_chunk, keep=False)
        self._finish(sess, n)
        return m0, m1

    @drops_session_on_error(RECEIVER)
    def receive_random(self, ch, choices, rng=None, *, out=None):
        """``m_b``; ``out``: an optional ``(n, block_bytes)`` array written in place."""
        choices = check_choices(choices)
        n = choices.shape[0]
        out = out_blocks(out, n, self.block_bytes)
        sess = self._get(ch, RECEIVER, rng)
        # Unchecked, the rows are not needed after hashing: transpose into the output and hash in place.
        rows = sess.scratch_rows(n + self.pad) if self.checked else out

        def hash_chunk(start, t):
            cot.hash_rows(t, sess.ots + start, out=out[start:start + t.shape[0]], tag=self.hash_tag)

        self._receiver_extend(ch, sess, choices, "random", hash_chunk, rows)
        self._finish(sess, choices.shape[0])
        return out

    # ------------------------------------------------------------------ correlated OT
    @drops_session_on_error(SENDER)
    def send_correlated(self, ch, n, delta=None, rng=None):
        """Sender of n checked correlated OTs: ``(Δ, q)`` with ``t = q ⊕ b·Δ`` at the receiver."""
        n = check_count(n)
        if delta is not None:
            delta = check_delta(delta, self.block_bytes)
        sess = self._get(ch, SENDER, rng, delta)
        fixed = delta is not None and not np.array_equal(delta, sess.delta)
        q = self._sender_extend(ch, sess, n, "correlated", {"mode": "fixed" if fixed else "session"})
        if not fixed:
            self._finish(sess, n)
            return sess.delta.copy(), np.ascontiguousarray(q)
        # Δ chosen after setup: move to hashed rows and send one correction block per OT (as IKNP).
        q_out, d = np.empty_like(q), np.empty_like(q)
        cot.random_ot_from_cot(q, sess.delta, sess.ots, q_out, d, tag=self.hash_tag)
        np.bitwise_xor(d, q_out, out=d)
        cot.xor_with_delta_into(d, delta, d)
        for start, c in self._ranges(n):
            ch.send(d[start:start + c])
        self._finish(sess, n)
        return delta.copy(), q_out

    @drops_session_on_error(RECEIVER)
    def receive_correlated(self, ch, choices, rng=None):
        """Receiver of n checked correlated OTs: ``t`` with ``t = q ⊕ b·Δ``."""
        choices = check_choices(choices)
        n = choices.shape[0]
        sess = self._get(ch, RECEIVER, rng)
        t, theirs = self._receiver_extend(ch, sess, choices, "correlated")
        mode = theirs.get("mode")
        if mode not in ("session", "fixed"):
            raise HandshakeError(f"{self.name} call {sess.calls}: unknown sender mode {mode!r}")
        t = np.ascontiguousarray(t)
        if mode == "fixed":
            for start, c in self._ranges(n):
                d = ch.recv_array(np.uint8, (c, self.block_bytes),
                                  f"{self.name} call {sess.calls} (Δ corrections), OTs {start}..{start + c - 1}")
                tc = t[start:start + c]
                cot.hash_rows(tc, sess.ots + start, out=tc, tag=self.hash_tag)
                cot.select_xor_into(tc, choices[start:start + c], d, tc)
        self._finish(sess, n)
        return t


__all__ = ["KOS", "PROTOCOL", "VERSION"]
