"""Small-field VOLE from punctured GGM trees: the engine of SoftSpokenOT (Roy, ePrint 2022/192).

Split κ into ``B = κ/k`` blocks of ``k`` bits. For block ``i`` the extension
*sender* (who holds Δ, written ``Δ_i ∈ {0..2^k-1}`` for its block bits) learns
``2^k - 1`` of the ``2^k`` seeds ``s_{i,x}`` the extension *receiver* knows, all
but ``x = Δ_i`` — a (2^k-1)-out-of-2^k OT built from ``k`` base OTs and a GGM
tree (the receiver sends both level sums of each level, masked by the base-OT
messages; the sender's choice at level ``l`` is the complement of Δ_i's bit
there, so it can rebuild every node off Δ_i's path).

Per chunk of ``c`` OTs both expand every seed they know with AES-CTR,
``r_{i,x} ∈ {0,1}^c``, and:

* receiver: ``u_i = Σ_x r_{i,x}``, ``v_{i,b} = Σ_{x: bit b of x} r_{i,x}``; it sends
  the correction ``c_i = u_i ⊕ choices`` (``c`` bits per block: κ/k bits per OT);
* sender: ``w_{i,b} = Σ_{x: bit b of (x ⊕ Δ_i)} r_{i,x}`` (the term ``x = Δ_i`` has
  coefficient 0, which is why it needs no seed there) ``= v_{i,b} ⊕ Δ_{i,b}·u_i``,
  so ``q_{i,b} = w_{i,b} ⊕ Δ_{i,b}·c_i = v_{i,b} ⊕ Δ_{i,b}·choices``.

Rows ``i·k + b`` of V and Q are the κ columns of an IKNP-style matrix: transposed,
``q_j = t_j ⊕ choices_j·Δ``. The sums over ``x`` run as a butterfly (``2·2^k``
row XORs per block instead of ``k·2^(k-1)``), in numba with the GIL released.
The two matrix classes below have the interface of :mod:`.matrix`'s core, so
the extension and check code of :mod:`.kos` drives them unchanged. For k = 2, 4
with VAES the leaf AES and the sums are fused in registers (:mod:`.vole_fused`);
otherwise the leaf streams (:mod:`.vole_prg`, VAES where available) go through
memory in ~1 MiB column pieces and the butterfly sums them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ...errors import ParameterError
from ...net import Channel
from ...primitives.aes_kernels import round_keys_many
from ...primitives.ggm import ggm_expand_level
from ...primitives.prg import MultiKeyCTR
from .matrix import transpose_rows
from .vole_fused import (
    FUSED_KS,
    HAVE_FUSED,
    HAVE_HASHED_TILES,
    HAVE_WIDE_HASHED_TILES,
    SLICE,
    fused_receiver,
    fused_sender,
    kernel_keys,
    receiver_tile_rows,
    receiver_tile_rows_hashed,
    ring_buffer,
    sender_tile_rows,
    sender_tile_rows_hashed,
    tile_buffer,
)
from .vole_prg import LeafStreams


def _expand(nodes: np.ndarray) -> np.ndarray:
    """One GGM level: 16-byte nodes by the fixed-key AES-128 expansion of :mod:`pqmpc.primitives.ggm`;
    32-byte nodes (κ = 256) as AES-256 keys, the children the first four CTR blocks (a PRF under a
    256-bit key: no Grover square root on 128-bit node values)."""
    b, m, w = nodes.shape
    if w == 16:
        return ggm_expand_level(nodes.reshape(b * m, 16)).reshape(b, 2 * m, 16)
    return MultiKeyCTR(np.ascontiguousarray(nodes.reshape(b * m, w))).next(2 * w).reshape(b, 2 * m, w)


def full_trees(roots: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Receiver: leaves ``(B, 2^k, w)`` and level sums ``(B, k, 2, w)`` (even / odd children of each level)
    from ``(B, w)`` roots, ``w`` = 16 or 32 bytes."""
    w = roots.shape[-1]
    nodes = roots.reshape(-1, 1, w)
    sums = np.empty((nodes.shape[0], k, 2, w), dtype=np.uint8)
    for lvl in range(k):
        nodes = _expand(nodes)
        sums[:, lvl, 0] = np.bitwise_xor.reduce(nodes[:, 0::2], axis=1)
        sums[:, lvl, 1] = np.bitwise_xor.reduce(nodes[:, 1::2], axis=1)
    return nodes, sums


def path_bits(points: np.ndarray, k: int) -> np.ndarray:
    """``(B, k)`` bits of each punctured point, top level first (level ``l`` splits on bit ``k-1-l``)."""
    return ((points.reshape(-1, 1) >> (k - 1 - np.arange(k))) & 1).astype(np.uint8)


def punctured_trees(known_sums: np.ndarray, points: np.ndarray, k: int) -> np.ndarray:
    """Sender: every leaf but ``points[i]`` (zero there), ``(B, 2^k, w)``, from the level sums on the
    side off each point's path (``known_sums``: ``(B, k, w)``)."""
    nb = points.shape[0]
    bits = path_bits(points, k)
    rows = np.arange(nb)
    nodes = np.zeros((nb, 1, known_sums.shape[-1]), dtype=np.uint8)
    prefix = np.zeros(nb, dtype=np.int64)  # index of the path node at the current level
    for lvl in range(k):
        nodes = _expand(nodes)
        a = bits[:, lvl].astype(np.int64)
        nodes[rows, 2 * prefix] = 0  # children of the unknown node: not known yet
        nodes[rows, 2 * prefix + 1] = 0
        sib = 2 * prefix + (1 - a)
        side = np.where(a[:, None, None] == 1, nodes[:, 0::2], nodes[:, 1::2])  # the off-path side
        nodes[rows, sib] = known_sums[:, lvl] ^ np.bitwise_xor.reduce(side, axis=1)
        prefix = 2 * prefix + a
    return nodes


@njit(cache=True, nogil=True)
def vole_receiver_rows(r, k, choice, corr, v):
    """Receiver of one chunk: ``corr[i] = u_i ⊕ choice`` and ``v[i·k+b]``; ``r`` (``B·2^k × cb``) is clobbered."""
    kk = 1 << k
    nb = corr.shape[0]
    cb = r.shape[1]
    for i in range(nb):
        base = i * kk
        for b in range(k):
            s = 1 << b
            row = i * k + b
            for w in range(cb):
                v[row, w] = 0
            for j in range(0, kk, 2 * s):
                for w in range(cb):
                    o = r[base + j + s, w]
                    v[row, w] ^= o
                    r[base + j, w] ^= o
        for w in range(cb):
            corr[i, w] = r[base, w] ^ choice[w]


@njit(cache=True, nogil=True)
def vole_sender_rows(r, k, points, dbits, corr, q, scratch):
    """Sender of one chunk: ``q[i·k+b] = w_{i,b} ⊕ Δ_{i,b}·corr[i]``; row ``points[i]`` of block i is never read."""
    kk = 1 << k
    half = kk >> 1
    nb = corr.shape[0]
    cb = r.shape[1]
    for i in range(nb):
        base = i * kk
        d = points[i]
        row = i * k
        for w in range(cb):
            q[row, w] = 0
        for y in range(half):
            lo = base + ((2 * y) ^ d)
            hi = base + ((2 * y + 1) ^ d)
            if lo == base + d:  # y = 0: the unknown row's partner alone
                for w in range(cb):
                    o = r[hi, w]
                    q[row, w] ^= o
                    scratch[y, w] = o
            else:
                for w in range(cb):
                    o = r[hi, w]
                    q[row, w] ^= o
                    scratch[y, w] = r[lo, w] ^ o
        for b in range(1, k):
            s = 1 << (b - 1)
            row = i * k + b
            for w in range(cb):
                q[row, w] = 0
            for j in range(0, half, 2 * s):
                for w in range(cb):
                    o = scratch[j + s, w]
                    q[row, w] ^= o
                    scratch[j, w] ^= o
        for b in range(k):
            if dbits[i * k + b]:
                row = i * k + b
                for w in range(cb):
                    q[row, w] ^= corr[i, w]


def hashed_tiles(kappa: int) -> bool:
    """Whether the row kernels hash random-OT rows of this width in the tiles (:class:`RowHashPlan`)."""
    return HAVE_HASHED_TILES if kappa == 128 else HAVE_WIDE_HASHED_TILES


def padded(cb: int) -> int:
    """Bytes of PRG output per stream for a chunk of ``cb`` bytes: whole AES blocks, so every stream
    stays block aligned for the next chunk (the bulk CTR kernel's fast path)."""
    return -(-cb // 16) * 16


class RowHashPlan:
    """One random-OT call's hashing, done by the row kernels tile by tile where they run
    (:data:`.vole_fused.HAVE_HASHED_TILES`): rows ``0 … n−1`` of the call (chunks counted in the
    order the matrix sees them), tweaks from ``tweak0``, under ``tag``; the receiver's
    ``H(t_j)`` into ``out``, the sender's ``H(q_j)``, ``H(q_j ⊕ Δ)`` into ``m0``, ``m1``.
    After each chunk ``hashed`` says how many of its leading rows the kernel did (the caller
    hashes the rest: tails, padding, chunks that took another path). ``keep_rows=False``: the
    caller needs no row after its hash (no check), so a chunk the kernel hashes whole leaves its
    rows unwritten (each tile's rows are made in one cache-resident buffer)."""

    def __init__(self, n: int, tweak0: int, tag: int, out=None, m0=None, m1=None, delta=None,
                 keep_rows: bool = True):
        self.n, self.tweak0, self.tag = n, tweak0, tag
        self.out, self.m0, self.m1, self.delta = out, m0, m1, delta
        self.keep_rows = keep_rows
        self.next = 0
        self.hashed = 0


class _VoleMatrix:
    """Shared state: the AES-CTR streams of every known leaf (:class:`.vole_prg.LeafStreams`: VAES where
    available, else the bulk multi-key CTR kernel; the same bytes)."""

    def __init__(self, leaves: np.ndarray, k: int):
        nb = leaves.shape[0]
        self.k, self.blocks, self.width = k, nb, nb * k
        flat = np.ascontiguousarray(leaves.reshape(nb << k, leaves.shape[-1]))
        self.g = LeafStreams(flat)
        # The fused kernel (leaf AES and sums in registers) where it runs: k = 2, 4 with VAES.
        fused = HAVE_FUSED and k in FUSED_KS and self.g.backend == "numba+AES-NI"
        self._rky = kernel_keys(round_keys_many(flat)) if fused else None
        self._bufs: dict = {}
        self._tile = None
        self._ring = None
        #: a :class:`RowHashPlan` for the current random-OT call, or ``None``
        self.plan: RowHashPlan | None = None

    def _scratch(self, cbp: int, names: tuple) -> list:
        if self._bufs.get("cb") != cbp:
            rows = {"corr": self.blocks, "v": self.width}
            self._bufs = {"cb": cbp, **{nm: np.empty((rows[nm], cbp), dtype=np.uint8) for nm in rows}}
        return [self._bufs[nm] for nm in names]

    def _ring_for(self, c: int, nh: int, summed: bool = False):
        """The tile ring buffer if no one reads this chunk's rows after the kernel, else ``None``: all
        hashed in the kernel and not kept, or (``summed``: the kernel adds the check's sum over every
        row) the hashed ones in whole 16-row steps and the rest only the check's."""
        if summed:
            if nh % 16 or c % 16:
                return None
        elif self.plan.keep_rows or nh != c or c % 16:
            return None
        return self._ring_buffer()

    def _ring_buffer(self) -> np.ndarray:
        if self._ring is None:
            self._ring = ring_buffer(self.width)
        return self._ring

    def _receiver_ring(self, c: int, nh: int) -> tuple:
        """``(ring, keep)`` for the receiver's hashed kernel: rows kept for the check are made in the
        ring and streamed to their place."""
        if not self.plan.keep_rows:
            return self._ring_for(c, nh), False
        return self._ring_buffer(), True

    def _advance(self, c: int) -> tuple[int, int]:
        """The plan's row offset of this chunk and how many of its rows to hash (0 without a plan)."""
        plan = self.plan
        if plan is None:
            return 0, 0
        first = plan.next
        plan.next += c
        plan.hashed = 0
        return first, max(0, min(c, plan.n - first)) if hashed_tiles(self.width) else 0

    def _tile_start(self, c: int, rows: np.ndarray) -> int | None:
        """The first stream block of this chunk if the fused row kernel can take it (whole ``SLICE``s,
        no padding, ``rows`` exactly ``(c, κ/8)`` C-contiguous), else ``None``."""
        cb = c // 8
        if not (self._rky is not None and c % (8 * SLICE) == 0 and c > 0 and self.g.pos % 16 == 0
                and rows.flags.c_contiguous and rows.dtype == np.uint8 and rows.shape == (c, self.width // 8)):
            return None
        if self._tile is None:
            self._tile = tile_buffer(self.width)
        start = self.g.pos // 16
        self.g.skip(cb)
        return start

    def _fused_start(self, cbp: int) -> tuple[int | None, int]:
        """The first stream block of this chunk and the width the fused kernel runs (``cbp`` up to whole
        ``SLICE``s: a short chunk, such as a checked call's κ + 64 remainder rows, costs one slice of AES
        rather than the bulk streams' per-call work; the streams advance by ``cbp`` only, the extra
        columns are dropped), or ``(None, cbp)`` if the fused kernel cannot take it."""
        if self._rky is None or self.g.pos % 16:
            return None, cbp
        start = self.g.pos // 16
        self.g.skip(cbp)
        return start, -(-cbp // SLICE) * SLICE

    def _streamed(self, cbp: int):
        """The streams of every leaf in column pieces of about 1 MiB in all (so the sums run in
        cache), in order: each stream advances piece by piece, the bytes of one long ``next``."""
        piece = max(16, ((1 << 20) // (self.blocks << self.k)) // 16 * 16)
        for a in range(0, cbp, piece):
            yield a, self.g.next(min(piece, cbp - a))


class VoleMatrixReceiver(_VoleMatrix):
    """The extension receiver's half (knows every leaf): same interface as :class:`.matrix.MatrixReceiver`."""

    def send_chunk(self, ch: Channel, c: int, code: np.ndarray) -> np.ndarray:
        """Send the corrections for the next ``c`` OTs (``code``: ``(1, ceil(c/8))`` packed choice bits);
        return V (``κ × ceil(c/8)``), valid until the next call."""
        self._advance(c)
        return self._columns(ch, c, code)

    def _columns(self, ch: Channel, c: int, code: np.ndarray) -> np.ndarray:
        cb = (c + 7) // 8
        if code.shape[0] != 1:
            raise ParameterError("SoftSpoken takes one choice bit per OT (a repetition code)")
        cbp = padded(cb)
        start, full = self._fused_start(cbp)
        choice = code[0]
        if full != cb:
            choice = np.zeros(full, dtype=np.uint8)
            choice[:cb] = code[0]
        corr, v = self._scratch(full, ("corr", "v"))
        if start is not None:
            fused_receiver(self.k, self._rky, start, np.ascontiguousarray(choice), corr, v)
        for a, r in self._streamed(cbp if start is None else 0):
            w = r.shape[1]
            if w == cbp:
                vole_receiver_rows(r, self.k, choice, corr, v)
                break
            cw, vw = np.empty((self.blocks, w), np.uint8), np.empty((self.width, w), np.uint8)
            vole_receiver_rows(r, self.k, np.ascontiguousarray(choice[a:a + w]), cw, vw)
            corr[:, a:a + w] = cw
            v[:, a:a + w] = vw
        if full == cb:
            ch.send(corr)
            return v
        ch.send(np.ascontiguousarray(corr[:, :cb]))
        return np.ascontiguousarray(v[:, :cb])

    def send_chunk_rows(self, ch: Channel, c: int, code: np.ndarray, rows: np.ndarray) -> None:
        """:meth:`send_chunk` and the transpose of V into ``rows`` (``(c, κ/8)``): fused per column tile
        in cache where the row kernel applies (whole ``SLICE``s of OTs), else one after the other."""
        first, nh = self._advance(c)
        start = self._tile_start(c, rows) if code.shape == (1, c // 8) else None
        if start is None:
            transpose_rows(self._columns(ch, c, code), c, rows)
            return
        (corr,) = self._scratch(c // 8, ("corr",))
        choice = np.ascontiguousarray(code[0])
        if nh:
            plan = self.plan
            plan.hashed = receiver_tile_rows_hashed(self.k, self._rky, start, choice, corr, rows, self._tile,
                                                    plan.tweak0 + first, plan.tag, plan.out[first:first + nh], nh,
                                                    *self._receiver_ring(c, nh))
        else:
            receiver_tile_rows(self.k, self._rky, start, choice, corr, rows, self._tile)
        ch.send(corr)


class VoleMatrixSender(_VoleMatrix):
    """The extension sender's half (every leaf but Δ_i's): same interface as :class:`.matrix.MatrixSender`."""

    def __init__(self, leaves: np.ndarray, points: np.ndarray, dbits: np.ndarray, k: int):
        super().__init__(leaves, k)
        self.points = np.ascontiguousarray(points, dtype=np.int64)
        self.dbits = np.ascontiguousarray(dbits, dtype=np.uint8)

    def recv_chunk(self, ch: Channel, c: int, step: str) -> np.ndarray:
        """Receive the corrections for the next ``c`` OTs; return Q (``κ × ceil(c/8)``), valid until the next call."""
        self._advance(c)
        return self._q(c, self.recv_corrections(ch, c, step))

    def _q(self, c: int, corr: np.ndarray) -> np.ndarray:
        """Q of a chunk from its corrections (see :meth:`recv_chunk`)."""
        cb = (c + 7) // 8
        cbp = padded(cb)
        start, full = self._fused_start(cbp)
        if full != cb:
            wide = np.zeros((self.blocks, full), dtype=np.uint8)
            wide[:, :cb] = corr
            corr = wide
        (q,) = self._scratch(full, ("v",))
        if start is not None:
            fused_sender(self.k, self._rky, start, self.points, self.dbits, np.ascontiguousarray(corr), q)
        for a, r in self._streamed(cbp if start is None else 0):
            w = r.shape[1]
            s = np.empty((max(1, 1 << (self.k - 1)), w), np.uint8)
            if w == cbp:
                vole_sender_rows(r, self.k, self.points, self.dbits, corr, q, s)
                break
            qw = np.empty((self.width, w), np.uint8)
            vole_sender_rows(r, self.k, self.points, self.dbits, np.ascontiguousarray(corr[:, a:a + w]), qw, s)
            q[:, a:a + w] = qw
        return q if full == cb else np.ascontiguousarray(q[:, :cb])

    def recv_corrections(self, ch: Channel, c: int, step: str) -> np.ndarray:
        """The corrections message of the next chunk of ``c`` OTs, received ahead of its work (size-checked;
        pass it to :meth:`recv_chunk_rows` as ``corr``)."""
        return ch.recv_array(np.uint8, (self.blocks, (c + 7) // 8), step)

    def recv_chunk_rows(self, ch: Channel, c: int, step: str, rows: np.ndarray,
                        check: tuple | None = None, corr: np.ndarray | None = None) -> bool:
        """:meth:`recv_chunk` and the transpose of Q into ``rows`` (``(c, κ/8)``), fused per column tile
        as :meth:`VoleMatrixReceiver.send_chunk_rows`.
        ``check = (table, power, acc)`` (:meth:`.check.Challenges.tile_args`): where the row kernels take
        the chunk (κ = 256: the hashed ones only) they add ``Σ χ_j·q_j`` over its rows tile by tile in cache,
        advancing ``power``; returns whether they did (else the caller sums ``rows``). A random-OT
        chunk's rows then reach ``rows`` only where the caller still reads them (from ``plan.hashed``;
        see :meth:`_ring_for`). ``corr``: this chunk's corrections if already received
        (:meth:`recv_corrections`); ``ch`` is then not read."""
        first, nh = self._advance(c)
        if corr is None:
            corr = self.recv_corrections(ch, c, step)
        start = self._tile_start(c, rows) if self._rky is not None and c % (8 * SLICE) == 0 else None
        if start is None:
            transpose_rows(self._q(c, corr), c, rows)
            return False
        corr = np.ascontiguousarray(corr)
        if nh:
            plan = self.plan
            plan.hashed = sender_tile_rows_hashed(self.k, self._rky, start, self.points, self.dbits, corr, rows,
                                                  self._tile, plan.delta, plan.tweak0 + first, plan.tag,
                                                  plan.m0[first:first + nh], plan.m1[first:first + nh], nh,
                                                  self._ring_for(c, nh, check is not None), check)
        else:
            if rows.shape[1] != 16:  # the unhashed row kernels sum in GF(2^128) only: the caller sums
                check = None
            sender_tile_rows(self.k, self._rky, start, self.points, self.dbits, corr, rows, self._tile, check)
        return check is not None


__all__ = ["full_trees", "path_bits", "punctured_trees", "vole_receiver_rows", "vole_sender_rows",
           "RowHashPlan", "VoleMatrixReceiver", "VoleMatrixSender", "hashed_tiles"]
