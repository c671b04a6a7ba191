"""IKNP OT extension (Ishai–Kilian–Nissim–Petrank, CRYPTO 2003), semi-honest.

``IKNP(base=None, kappa=128)`` turns κ base OTs into any number of OTs with
symmetric-key work only. κ = 128 uses AES-128 (PRG and fixed-key TCCR hash)
and 16-byte blocks; κ = 256, the "doubled key" post-quantum mode, uses
AES-256 everywhere, 32-byte blocks and 256 base OTs.

Roles. The IKNP *sender* holds the global offset Δ (κ bits) and plays the
base-OT *receiver* with choice bits Δ; the IKNP receiver plays the base-OT
sender with random seed pairs ``(k_j^0, k_j^1)``. One extension of n OTs,
receiver choice bits r, G the AES-CTR PRG (the streams of
:class:`~pqmpc.primitives.prg.MultiKeyCTR`, run without the GIL, on the
matrix core of :mod:`.matrix` that KKRT shares; H is TCCR tagged ``TAG_IKNP``):

* receiver: ``T_j = G(k_j^0)``, sends ``U_j = T_j ⊕ G(k_j^1) ⊕ r`` (κ × n bits);
* sender: ``Q_j = G(k_j^{Δ_j}) ⊕ Δ_j·U_j = T_j ⊕ Δ_j·r``;
* transposing the κ × n matrices gives rows ``q_i = t_i ⊕ r_i·Δ`` — a
  correlated OT. Random OT hashes it: ``m0 = H(q_i, i)``,
  ``m1 = H(q_i ⊕ Δ, i)``, ``m_{r_i} = H(t_i, i)``.

Sessions: base OTs run once per (channel, role) — on first use, or
explicitly with :meth:`IKNP.setup` — and every later call on that channel
extends again: the PRG streams continue and the hash tweak is a running
OT counter, so no tweak and no PRG output is ever used twice. Both parties
must make the same sequence of calls (same kind, same n); each call starts
with a small header exchange that catches a mismatch on both sides as a
:class:`~pqmpc.errors.HandshakeError` before any bulk data moves. A session
is not thread-safe: one call at a time per channel.

Wire: setup is the base OTs plus a handshake naming protocol, κ and base OT;
each call exchanges two small JSON headers, then the receiver sends one
packed κ × n bit matrix per chunk of 2^16 OTs (κ/8 = 16 bytes per OT for
κ = 128, 32 for κ = 256) and nothing comes back, except chosen-message masks
(2 blocks per OT) and corrections for a Δ the caller chose after setup
(1 block per OT, see :mod:`pqmpc.ot.ext.cot`); those are sent only after all
of U has arrived, so neither side ever sends bulk data while the other does
(no TCP buffer deadlock). ``send_correlated(ch, n, delta)`` on a fresh
channel uses ``delta`` as the session's Δ at no extra cost.

Security: semi-honest security for both parties (IKNP). Assumptions: the
base OT (default :class:`~pqmpc.ot.base.kyber.KyberOT`, Module-LWE: post-quantum;
a classical base OT makes the whole extension classical), AES-CTR as a PRG,
and the hash being (tweakable) correlation robust — fixed-key AES-128 TCCR
for κ = 128, whose 128-bit permutation leaves ~64-bit security against a
Grover search, hence κ = 256 with AES-256 keyed by the row (``tccr_wide``)
for 128-bit post-quantum security. A malicious receiver can send a
malformed U and learn sender secrets (KOS-style consistency checks are not
part of IKNP); every message is still length-checked (``ProtocolError``).
Python cannot promise constant time.
"""

from __future__ import annotations

import numpy as np

from ...errors import HandshakeError, ParameterError
from ...net import Channel, handshake
from ...params import SecurityLevel, resolve_level
from ...primitives.bits import pack_bits, unpack_bits
from ...primitives.buffers import ScratchPool, out_or_empty
from ...primitives.cpu import HAVE_AESNI
from ...primitives.hashing import TAG_IKNP
from ...rng import Rng
from ..interfaces import (
    RECEIVER,
    SENDER,
    CorrelatedOT,
    RandomOT,
    check_choices,
    check_count,
    check_delta,
)
from . import cot, matrix_kernels
from .matrix import CHUNK, MatrixReceiver, MatrixSender, seeds_from_blocks
from .sessions import ExtensionSessions, drops_session_on_error

PROTOCOL = "IKNP"
#: bytes of U per kernel call: whole chunks are grouped up to this (the wire is one message per
#: chunk either way). U is written, sent and read back while it sits in a core's L2; past about
#: 1 MiB it spills and a group costs more than the per-chunk Python work it saves (measured:
#: 4 MiB groups of 2^16-OT chunks took 3-5% more CPU than single chunks).
GROUP_BYTES = 1 << 20
#: results from this size up that the call does not read again are written with non-temporal
#: stores (they would not stay in cache anyway; see matrix_kernels)
STREAM_BYTES = 8 << 20
VERSION = 2  # 2: protocol tags in the TCCR tweak (issue 12); v1 peers would silently disagree


class Session:
    """One party's state of an IKNP session on one channel (see the module docstring)."""

    def __init__(self, role: str, kappa: int, width: int, matrix, delta: np.ndarray | None):
        self.role = role
        self.kappa = kappa
        self.width = width
        #: the extension matrix core: a MatrixSender (sender) or a MatrixReceiver (receiver)
        self.matrix = matrix
        self.delta = delta
        #: working memory kept across calls (chunk scratch, corrections): no fresh pages per call
        self.pool = ScratchPool()
        #: extension calls made so far, and OTs extended so far (the next hash tweak)
        self.calls = 0
        self.ots = 0


class IKNP(ExtensionSessions, CorrelatedOT):
    """IKNP OT extension; see the module docstring for protocol and security.

    A :class:`~pqmpc.ot.interfaces.CorrelatedOT`: random OT is hashed from
    the correlated OTs chunk by chunk while they are in cache, chosen-message
    OT and the random-choice pair come from the interface.

    ``base``: any :class:`~pqmpc.ot.interfaces.RandomOT` (default ``KyberOT("ML-KEM-768")``
    for κ = 128, ``KyberOT("ML-KEM-1024", block_bytes=32)`` for κ = 256);
    ``security``: ``"semi-honest"`` (this class) or ``"malicious"``, which returns a
    :class:`~pqmpc.ot.ext.kos.KOS` instance (IKNP with the KOS consistency check);
    ``kappa``: 128 or 256, or ``level``: the :class:`~pqmpc.params.SecurityLevel`
    (``LEVEL_128`` default, ``LEVEL_256``) that fixes κ, the block width, the
    AES key size and the default base OT's ML-KEM set; ``chunk``: OTs per
    wire message (both sides must agree).
    """

    name = PROTOCOL
    hash_tag = TAG_IKNP
    security = "semi-honest"
    writes_out = True

    def __new__(cls, base: RandomOT | None = None, kappa: int | None = None, chunk: int = CHUNK, *,
                level: SecurityLevel | None = None, security: str = "semi-honest"):
        if security == "malicious":
            # KOS: the IKNP matrix plus a consistency check; a class of its own (its
            # wire protocol differs), so IKNP's __init__ does not run on it.
            from .kos import KOS

            return KOS(base, resolve_level(kappa, level).kappa, chunk)
        if security != "semi-honest":
            raise ParameterError(f"security must be 'semi-honest' or 'malicious', not {security!r}")
        return super().__new__(cls)

    def __init__(self, base: RandomOT | None = None, kappa: int | None = None, chunk: int = CHUNK, *,
                 level: SecurityLevel | None = None, security: str = "semi-honest"):
        self.level = resolve_level(kappa, level)
        self.kappa = self.level.kappa
        self.block_bytes = self.level.block_bytes
        self.init_sessions(base, chunk)

    def __repr__(self) -> str:
        return f"IKNP(base={self.base!r}, kappa={self.kappa})"

    # ------------------------------------------------------------------ sessions
    def preload(self, role: str | None = None) -> None:
        """Load the base OT's and the extension's kernels (PRG, transpose, hash) at once;
        with a ``role``, only that side's fused matrix kernel (each is a large one)."""
        from ...primitives import hashing, prg
        from ...primitives.preload import preload

        self.base.preload()
        specs = prg.kernel_specs(self.level.aes_key_bytes) + cot.kernel_specs()
        if HAVE_AESNI and self.level.aes_key_bytes == 16:
            specs += matrix_kernels.kernel_specs(role)
        preload(specs + (hashing.tccr_kernel_specs() if self.block_bytes == 16 else []))

    def setup(self, ch: Channel, role: str, rng=None, delta=None) -> Session:
        """Run the handshake and the κ base OTs on ``ch`` now; ``role`` is ``"sender"`` or ``"receiver"``.

        ``delta`` (sender only, ``block_bytes`` bytes) fixes the session's Δ;
        by default it is random. Calling it is optional: the first call on a
        channel does it. Both parties must set up (explicitly or not) together.
        """
        if role not in (SENDER, RECEIVER):
            raise ParameterError(f"role must be 'sender' or 'receiver', not {role!r}")
        if delta is not None and role != SENDER:
            raise ParameterError("only the sender has a delta")
        if delta is not None:
            delta = check_delta(delta, self.block_bytes)  # before any message: a refusal leaves no peer waiting
        if self.session(ch, role) is not None:
            raise ParameterError(f"an IKNP {role} session already exists on this channel (call forget() first)")
        rng = Rng.ensure(rng)
        self.preload(role)
        base = self.base
        kappa, width, seed_bytes = self.kappa, self.block_bytes, self.level.aes_key_bytes
        params = {"kappa": kappa, "chunk": self.chunk, "base": base.name,
                  "base_variant": getattr(base, "variant", None), "base_block_bytes": base.block_bytes,
                  "prg": f"aes{8 * seed_bytes}-ctr", "hash": "tccr" if width == 16 else "tccr_wide"}
        handshake(ch, PROTOCOL, VERSION, params, role=role, peer_role=RECEIVER if role == SENDER else SENDER)
        # A base OT narrower than a seed (16-byte outputs, 32-byte AES-256
        # seeds) runs `reps` OTs per seed with the same choice bit.
        reps = -(-seed_bytes // base.block_bytes)
        base_rng = rng.fork("iknp/base")
        if role == SENDER:
            delta = rng.blocks(1, width)[0] if delta is None else delta
            choices = np.repeat(unpack_bits(delta, kappa), reps)
            got = base.receive_random(ch, choices, base_rng)
            matrix = MatrixSender(seeds_from_blocks(got, kappa, seed_bytes), unpack_bits(delta, kappa))
        else:
            k0, k1 = base.send_random(ch, kappa * reps, base_rng)
            matrix = MatrixReceiver(seeds_from_blocks(k0, kappa, seed_bytes), seeds_from_blocks(k1, kappa, seed_bytes))
            delta = None
        sess = Session(role, kappa, width, matrix, delta)
        return self.remember(ch, role, sess)

    def _header(self, ch: Channel, sess: Session, op: str, n: int, mode: str | None = None) -> dict:
        """Per-call agreement: call number, op, n (and the sender's Δ mode)."""
        mine = {"call": sess.calls, "op": op, "n": n, "ots": sess.ots, "role": sess.role}
        if mode is not None:
            mine["mode"] = mode
        ch.send_json(mine)
        theirs = ch.recv_json(f"{PROTOCOL} call {sess.calls} header")
        if not isinstance(theirs, dict):
            raise HandshakeError(f"{PROTOCOL} call {sess.calls}: the peer's call header is not an object")
        diffs = [f"{k}: ours {mine[k]!r}, peer's {theirs.get(k)!r}" for k in ("call", "op", "n", "ots")
                 if theirs.get(k) != mine[k]]
        if theirs.get("role") == sess.role:
            diffs.append(f"both sides are {sess.role}s")
        if diffs:
            raise HandshakeError(f"{PROTOCOL} call {sess.calls}: the parties' calls differ: " + "; ".join(diffs))
        return theirs

    # ------------------------------------------------------------------ core extension
    def _chunks(self, n: int):
        for start in range(0, n, self.chunk):
            yield start, min(self.chunk, n - start)

    def _group_ots(self) -> int:
        return max(1, GROUP_BYTES // (self.chunk * self.block_bytes)) * self.chunk

    def _groups(self, n: int):
        """``(start, c, whole)`` over ``n`` OTs: up to GROUP_BYTES of U in whole chunks at a time (one kernel
        call each, saving per-chunk Python work; the messages stay one per chunk), then the
        tail chunk (``whole`` False)."""
        step = self._group_ots()
        full = n - n % self.chunk
        for start in range(0, full, step):
            yield start, min(step, full - start), True
        if full < n:
            yield full, n - full, False

    def _receiver_extend(self, ch, sess: Session, choices: np.ndarray, t_out: np.ndarray, hashed: bool = False,
                         draw: Rng | None = None) -> None:
        """Send U for every chunk and write t (n rows) into ``t_out``; with
        ``hashed``, ``H(t_i, i)`` instead, while the rows are still in cache. With ``draw``,
        ``choices`` is written here, group by group, as ``random_bits_into(draw, choices)``
        would write it at once (the same stream in the same order)."""
        stream = not hashed and t_out.nbytes >= STREAM_BYTES
        for start, c, whole in self._groups(choices.shape[0]):
            t = t_out[start:start + c]
            if draw is not None:  # random_bits_into's bytes, and their code row, in one pass
                bits = choices[start:start + c]
                draw.fill(bits)
                code = sess.pool.get("choice code", (1, (c + 7) // 8))
                matrix_kernels.low_bits_packed(bits, code.reshape(-1))
            else:
                code = pack_bits(choices[start:start + c]).reshape(1, -1)
            if whole and c > self.chunk:
                sess.matrix.send_chunks_rows(ch, c, self.chunk, code, t, stream)
            else:
                sess.matrix.send_chunk_rows(ch, c, code, t, stream)
            if hashed:
                cot.hash_rows(t, sess.ots + start, out=t, tag=TAG_IKNP)

    def _sender_chunks(self, ch, sess: Session, n: int, step: str, out: np.ndarray | None = None):
        """Yield ``(start, q)`` per group of chunks: rows of ``out`` if given, else scratch
        that is valid until the next step."""
        scratch = sess.pool.get("q chunk", (min(self._group_ots(), n), sess.width)) if out is None else None
        stream = out is not None and out.nbytes >= STREAM_BYTES  # scratch is hashed right away
        for start, c, whole in self._groups(n):
            q = scratch[:c] if out is None else out[start:start + c]
            if whole and c > self.chunk:
                sess.matrix.recv_chunks_rows(ch, c, self.chunk, step, start, q, stream)
            else:
                sess.matrix.recv_chunk_rows(ch, c, f"{step}, OTs {start}..{start + c - 1}", q, stream)
            yield start, q

    def _finish(self, sess: Session, n: int) -> None:
        sess.calls += 1
        sess.ots += n

    # ------------------------------------------------------------------ random OT
    @drops_session_on_error(SENDER)
    def send_random(self, ch, n, rng=None, *, out=None):
        n = check_count(n)
        w = self.block_bytes
        m0, m1 = (None, None) if out is None else out
        m0, m1 = out_or_empty(m0, (n, w), "out[0] (m0)"), out_or_empty(m1, (n, w), "out[1] (m1)")
        sess = self._get(ch, SENDER, rng)
        self._header(ch, sess, "random", n, "session")
        for start, q in self._sender_chunks(ch, sess, n, f"{PROTOCOL} random OT step 1 (receiver matrix U)"):
            e = start + q.shape[0]
            cot.random_ot_from_cot(q, sess.delta, sess.ots + start, m0[start:e], m1[start:e], TAG_IKNP)
        self._finish(sess, n)
        return m0, m1

    @drops_session_on_error(RECEIVER)
    def receive_random(self, ch, choices, rng=None, *, out=None):
        choices = check_choices(choices)
        n = choices.shape[0]
        t = out_or_empty(out, (n, self.block_bytes))
        sess = self._get(ch, RECEIVER, rng)
        self._header(ch, sess, "random", n)
        self._receiver_extend(ch, sess, choices, t, hashed=True)
        self._finish(sess, n)
        return t

    # ------------------------------------------------------------------ correlated OT
    @drops_session_on_error(SENDER)
    def send_correlated(self, ch, n, delta=None, rng=None, *, out=None):
        """Sender of n correlated OTs: ``(Δ, q)`` with ``t = q ⊕ b·Δ`` at the receiver
        (``q`` written into ``out``, an ``(n, block_bytes)`` uint8 array, if given)."""
        n = check_count(n)
        if delta is not None:
            delta = check_delta(delta, self.block_bytes)
        q_out = out_or_empty(out, (n, self.block_bytes))
        sess = self._get(ch, SENDER, rng, delta)
        fixed = delta is not None and not np.array_equal(delta, sess.delta)
        self._header(ch, sess, "correlated", n, "fixed" if fixed else "session")
        step = f"{PROTOCOL} correlated OT step 1 (receiver matrix U)"
        if not fixed:
            for _ in self._sender_chunks(ch, sess, n, step, out=q_out):
                pass
            self._finish(sess, n)
            return sess.delta.copy(), q_out
        # Δ chosen by the caller after setup: derandomize with one block per OT.
        # The corrections go out only after all of U has arrived: sending while
        # the peer is still sending could fill both TCP buffers and deadlock.
        d = sess.pool.get("corrections", (n, sess.width))
        for start, q in self._sender_chunks(ch, sess, n, step):
            e = start + q.shape[0]
            cot.random_ot_from_cot(q, sess.delta, sess.ots + start, q_out[start:e], d[start:e], TAG_IKNP)
            np.bitwise_xor(d[start:e], q_out[start:e], out=d[start:e])
            cot.xor_with_delta_into(d[start:e], delta, d[start:e])
        for start, c in self._chunks(n):
            ch.send(d[start:start + c])
        self._finish(sess, n)
        return delta.copy(), q_out

    @drops_session_on_error(RECEIVER)
    def receive_correlated(self, ch, choices, rng=None, *, out=None):
        """Receiver of n correlated OTs: ``t`` with ``t = q ⊕ b·Δ`` (into ``out`` if given)."""
        choices = check_choices(choices)
        t = out_or_empty(out, (choices.shape[0], self.block_bytes))
        return self._receive_correlated(ch, self._get(ch, RECEIVER, rng), choices, t)

    @drops_session_on_error(RECEIVER)
    def receive_random_correlated(self, ch, n, rng=None, *, out=None, choices_out=None):
        """Receiver with random choice bits: ``(choices, t)``, the same values as the generic
        :meth:`~pqmpc.ot.interfaces.CorrelatedOT.receive_random_correlated` (the bits are
        ``rng``'s stream after the session's setup, in order). The bits are drawn group by group
        inside the extension, while each group's U is made: the peer gets its first U before
        2^24 bits exist, and drawing, packing and using them happens in cache (no whole-array
        passes, no 0/1 check of bits we made)."""
        n = check_count(n)
        t = out_or_empty(out, (n, self.block_bytes))
        choices = out_or_empty(choices_out, (n,), "choices_out")
        rng = Rng.ensure(rng)
        sess = self._get(ch, RECEIVER, rng)
        return choices, self._receive_correlated(ch, sess, choices, t, draw=rng)

    def _receive_correlated(self, ch, sess: Session, choices: np.ndarray, t: np.ndarray,
                            draw: Rng | None = None) -> np.ndarray:
        n = choices.shape[0]
        theirs = self._header(ch, sess, "correlated", n)
        mode = theirs.get("mode")
        if mode not in ("session", "fixed"):
            raise HandshakeError(f"{PROTOCOL} call {sess.calls}: unknown sender mode {mode!r}")
        self._receiver_extend(ch, sess, choices, t, draw=draw)
        if mode == "fixed":
            for start, c in self._chunks(n):
                d = ch.recv_array(np.uint8, (c, sess.width),
                                  f"{PROTOCOL} correlated OT step 2 (Δ corrections), OTs {start}..{start + c - 1}")
                tc = t[start:start + c]
                cot.hash_rows(tc, sess.ots + start, out=tc, tag=TAG_IKNP)
                cot.select_xor_into(tc, choices[start:start + c], d, tc)
        self._finish(sess, n)
        return t
