"""The OT-extension matrix core shared by IKNP and KKRT's 1-out-of-N OPRF.

Both extend ``w`` base OTs with the roles reversed (``w = κ`` for IKNP, the
code width ``4κ`` for KKRT). The extension *sender* is base-OT receiver with
choice bits ``s ∈ {0,1}^w`` and holds seeds ``k_i^{s_i}``; the extension
*receiver*, base-OT sender, holds seed pairs ``(k_i^0, k_i^1)``. Per chunk of
``c`` rows, with G the multi-key AES-CTR PRG (one stream per seed, run
without the GIL so both parties of an in-process run compute at once):

* receiver: ``T = G(k^0)`` (``w × c`` bits), sends ``U = T ⊕ G(k^1) ⊕ C``
  where row ``j`` of ``C`` is the codeword of its ``j``-th input (IKNP: the
  repetition code of choice bit ``r_j``; KKRT: a pseudorandom code of a word);
* sender: ``Q = G(k^s) ⊕ s·U``, column by column;
* transposed, row ``j`` is ``q_j = t_j ⊕ (s ∧ C_j)``.

The streams continue across chunks and calls, so no PRG output is used twice.
Chunks keep PRG → transpose → hash of one chunk in cache and bound the size
of every wire message; the caller picks the chunk and hashes the rows.
"""

from __future__ import annotations

import numpy as np

from ...errors import ParameterError
from ...net import Channel
from ...primitives.buffers import ScratchPool, check_out
from ...primitives.cpu import HAVE_AESNI, HAVE_VAES
from ...primitives.prg import MultiKeyCTR
from .cot import CHUNK, transpose_nogil
from .matrix_kernels import (
    TILE_BLOCKS,
    ZMM_TILES,
    receiver_tiles,
    receiver_tiles_vaes,
    receiver_tiles_zmm,
    sender_tiles,
    sender_tiles_vaes,
    sender_tiles_zmm,
    sender_tiles_zmm_check,
)

# The per-tile kernels: VAES where the CPU has it (same bytes, half the AES instructions), on
# zmm with AVX-512 (a quarter).
_RECEIVER_TILES = receiver_tiles_zmm if ZMM_TILES else receiver_tiles_vaes if HAVE_VAES else receiver_tiles
_SENDER_TILES = sender_tiles_zmm if ZMM_TILES else sender_tiles_vaes if HAVE_VAES else sender_tiles
# The VAES kernels also run AES-256 streams (κ = 256); the AES-NI ones are AES-128 only.
_WIDE = HAVE_VAES


def seeds_from_blocks(blocks: np.ndarray, width: int, seed_bytes: int) -> np.ndarray:
    """``(width, seed_bytes)`` PRG seeds from base-OT outputs, ``reps`` consecutive
    OT blocks per seed when the base OT's blocks are narrower than a seed."""
    return np.ascontiguousarray(np.asarray(blocks).reshape(width, -1)[:, :seed_bytes])


def transpose_rows(mat: np.ndarray, c: int, out: np.ndarray, pool: ScratchPool | None = None) -> None:
    """Rows ``0..c-1`` of the transpose of the ``w × ceil(c/8)`` column chunk ``mat`` into ``out``
    (``out`` C-contiguous; a last chunk padded to whole bytes goes through ``pool`` scratch)."""
    if mat.shape[1] * 8 == c:
        transpose_nogil(mat, out)
    else:  # the last chunk, padded to whole bytes
        shape = (mat.shape[1] * 8, out.shape[1])
        tmp = np.empty(shape, dtype=np.uint8) if pool is None else pool.get("transpose tail", shape)
        transpose_nogil(mat, tmp)
        out[:] = tmp[:c]


class _Scratch:
    """Reusable C-contiguous ``(w, cb)`` buffers: fresh pages cost more than the PRG."""

    def __init__(self, width: int, count: int):
        self.width = width
        self.bufs = [np.empty(0, dtype=np.uint8) for _ in range(count)]

    def get(self, cb: int) -> list[np.ndarray]:
        need = self.width * cb
        if self.bufs[0].size < need:
            self.bufs = [np.empty(need, dtype=np.uint8) for _ in self.bufs]
        return [b[:need].reshape(self.width, cb) for b in self.bufs]


class MatrixReceiver:
    """Extension receiver's half of the core: two PRG streams per base OT."""

    def __init__(self, seeds0: np.ndarray, seeds1: np.ndarray):
        if seeds0.shape != seeds1.shape:
            raise ParameterError(f"seed pairs differ in shape: {seeds0.shape} vs {seeds1.shape}")
        self.width = seeds0.shape[0]
        self.g0, self.g1 = MultiKeyCTR(seeds0), MultiKeyCTR(seeds1)
        self._scratch = _Scratch(self.width, 2)
        self._ones = np.full(self.width, 0xFF, dtype=np.uint8)
        self._pool = ScratchPool()

    def send_chunk(self, ch: Channel, c: int, code: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
        """Send ``U`` for the next ``c`` rows; return ``T`` (``w × ceil(c/8)``): ``out`` if given,
        else scratch valid until the next call.

        ``code``: the codeword columns, ``(w, ceil(c/8))``, or one ``(1, ceil(c/8))``
        row that every column repeats (the repetition code of IKNP).
        """
        cb = (c + 7) // 8
        t, u = self._scratch.get(cb)
        t = t if out is None else check_out(out, (self.width, cb))
        self.g0.next(cb, out=t)
        self.g1.next_mixed(cb, u, t, self._ones, code)  # U = G(k^1) ⊕ T ⊕ C in one pass
        ch.send(u)
        return t


    def send_chunk_rows(self, ch: Channel, c: int, code: np.ndarray, rows: np.ndarray, stream: bool = False) -> None:
        """:meth:`send_chunk` and the transpose of ``T`` into ``rows`` (``(c, w/8)``), fused per
        column tile where the AES-NI kernel applies (whole tiles), else one after the other.
        ``stream``: the caller will not read ``rows`` again soon (a large result), so they are
        written with non-temporal stores."""
        cb = (c + 7) // 8
        if (_tiles_fit(c, rows, self.width) and code.dtype == np.uint8 and code.flags.c_contiguous
                and code.shape in ((1, cb), (self.width, cb))):
            r0 = self.g0.take_blocks(cb, _WIDE)
            if r0 is not None:
                r1 = self.g1.take_blocks(cb, _WIDE)
                _t, u = self._scratch.get(cb)
                nblk = cb // 16
                _RECEIVER_TILES(r0[0], r1[0], r0[1], code.view(np.uint64).reshape(code.shape[0], nblk, 2),
                                1 if code.shape[0] > 1 else 0, u.view(np.uint64).reshape(1, self.width, nblk, 2),
                                rows, self._tile(), stream)
                ch.send(u)
                return
        transpose_rows(self.send_chunk(ch, c, code), c, rows, self._pool)

    def send_chunks_rows(self, ch: Channel, c: int, chunk: int, code: np.ndarray, rows: np.ndarray,
                         stream: bool = False) -> None:
        """:meth:`send_chunk_rows` for ``c // chunk`` whole chunks at once (``c`` a multiple of
        ``chunk``), one wire message per chunk as before; ``code`` is one ``(1, c/8)`` row.
        The kernel makes every chunk's U in one call and the messages follow, which saves
        the per-chunk Python and dispatch work; same bytes and messages as chunk by chunk."""
        k, cb = c // chunk, chunk // 8
        if not (k > 1 and c == k * chunk and _tiles_fit(chunk, rows[:chunk], self.width)
                and rows.shape == (c, self.width // 8) and code.shape == (1, c // 8)
                and code.dtype == np.uint8 and code.flags.c_contiguous):
            for i in range(0, c, chunk):
                self.send_chunk_rows(ch, chunk, np.ascontiguousarray(code[:, i // 8:(i + chunk) // 8]),
                                     rows[i:i + chunk], stream)
            return
        r0 = self.g0.take_blocks(k * cb, _WIDE)
        if r0 is None:  # not the AES-NI / AES-128 path: nothing advanced
            for i in range(0, c, chunk):
                self.send_chunk_rows(ch, chunk, np.ascontiguousarray(code[:, i // 8:(i + chunk) // 8]),
                                     rows[i:i + chunk], stream)
            return
        r1 = self.g1.take_blocks(k * cb, _WIDE)
        u = self._pool.get("u group", (k, self.width, cb))
        nblk = cb // 16
        _RECEIVER_TILES(r0[0], r1[0], r0[1], code.view(np.uint64).reshape(1, k * nblk, 2), 0,
                        u.view(np.uint64).reshape(k, self.width, nblk, 2), rows, self._tile(), stream)
        for i in range(k):
            ch.send(u[i])

    def _tile(self) -> np.ndarray:
        return self._pool.get("tile", (self.width, 16 * TILE_BLOCKS))


class MatrixSender:
    """Extension sender's half of the core: one PRG stream per base OT and the choice bits ``s``."""

    def __init__(self, seeds: np.ndarray, choices: np.ndarray):
        self.width = seeds.shape[0]
        if choices.shape != (self.width,):
            raise ParameterError(f"need {self.width} choice bits, got shape {choices.shape}")
        self.g = MultiKeyCTR(seeds)
        self.mask = (np.asarray(choices, dtype=np.uint8) * np.uint8(0xFF)).reshape(self.width, 1)
        self._scratch = _Scratch(self.width, 1)
        self._zero = np.zeros((1, 0), dtype=np.uint8)
        self._pool = ScratchPool()
        self._m64 = None

    def recv_chunk(self, ch: Channel, c: int, step: str, *, out: np.ndarray | None = None) -> np.ndarray:
        """Receive ``U`` for the next ``c`` rows; return ``Q = G(k^s) ⊕ s·U`` (``w × ceil(c/8)``):
        ``out`` if given, else scratch valid until the next call."""
        cb = (c + 7) // 8
        q = self._scratch.get(cb)[0] if out is None else check_out(out, (self.width, cb))
        u = ch.recv_array_into(self._pool.get("u", (self.width, cb)), step)
        if self._zero.shape[1] < cb:
            self._zero = np.zeros((1, cb), dtype=np.uint8)
        self.g.next_mixed(cb, q, u, self.mask.reshape(-1), self._zero[:, :cb])  # Q = G(k^s) ⊕ s·U
        return q

    def recv_chunk_rows(self, ch: Channel, c: int, step: str, rows: np.ndarray, stream: bool = False,
                        check: tuple | None = None) -> bool:
        """:meth:`recv_chunk` and the transpose of ``Q`` into ``rows`` (``(c, w/8)``), fused per
        column tile where the AES-NI kernel applies (whole tiles), else one after the other.

        ``check = (table, power, acc)`` (:meth:`.check.Challenges.tile_args`): where the zmm tile kernel
        runs at w = 128, also ``Σ_j χ_j·q_j`` into ``acc`` tile by tile
        (:func:`.matrix_kernels.sender_tiles_zmm_check`, advancing ``power``); returns whether it did
        (else the caller sums)."""
        cb = (c + 7) // 8
        if _tiles_fit(c, rows, self.width):
            u = ch.recv_array_into(self._pool.get("u", (self.width, cb)), step)
            r = self.g.take_blocks(cb, _WIDE)
            if r is not None:
                nblk = cb // 16
                u4 = u.view(np.uint64).reshape(1, self.width, nblk, 2)
                tile = self._pool.get("tile", (self.width, 16 * TILE_BLOCKS))
                if check is not None and ZMM_TILES and self.width == 128 and r[0].shape[1] == 11 and not stream:
                    ptab, power, acc = check
                    sender_tiles_zmm_check(r[0], r[1], u4, self._mask64(), rows, tile, ptab, power,
                                           rows.view(np.uint64), acc)
                    return True
                _SENDER_TILES(r[0], r[1], u4, self._mask64(), rows, tile, stream)
                return False
            (q,) = self._scratch.get(cb)
            if self._zero.shape[1] < cb:
                self._zero = np.zeros((1, cb), dtype=np.uint8)
            self.g.next_mixed(cb, q, u, self.mask.reshape(-1), self._zero[:, :cb])
            transpose_rows(q, c, rows, self._pool)
            return False
        transpose_rows(self.recv_chunk(ch, c, step), c, rows, self._pool)
        return False

    def _mask64(self) -> np.ndarray:
        if self._m64 is None:
            self._m64 = np.where(self.mask.reshape(-1) != 0, np.uint64(0xFFFFFFFFFFFFFFFF), np.uint64(0))
        return self._m64

    def recv_chunks_rows(self, ch: Channel, c: int, chunk: int, step: str, first: int, rows: np.ndarray,
                         stream: bool = False) -> None:
        """:meth:`recv_chunk_rows` for ``c // chunk`` whole chunks (``c`` a multiple of ``chunk``):
        every chunk's message is read straight into one scratch block (where the channel
        :attr:`~pqmpc.net.Channel.reads_into`), then one kernel call makes all the rows.
        ``step`` names the messages, with the OT range from ``first``."""
        k, cb = c // chunk, chunk // 8
        label = lambda i: f"{step}, OTs {first + i}..{first + i + chunk - 1}"  # noqa: E731
        if not (k > 1 and c == k * chunk and ch.reads_into and _tiles_fit(chunk, rows[:chunk], self.width)
                and rows.shape == (c, self.width // 8) and self.g.take_blocks(0, _WIDE) is not None):
            for i in range(0, c, chunk):
                self.recv_chunk_rows(ch, chunk, label(i), rows[i:i + chunk], stream)
            return
        u = self._pool.get("u group", (k, self.width, cb))
        for i in range(k):
            ch.recv_into(u[i], label(i * chunk))
        r = self.g.take_blocks(k * cb, _WIDE)
        nblk = cb // 16
        _SENDER_TILES(r[0], r[1], u.view(np.uint64).reshape(k, self.width, nblk, 2), self._mask64(), rows,
                      self._pool.get("tile", (self.width, 16 * TILE_BLOCKS)), stream)


def _tiles_fit(c: int, rows: np.ndarray, width: int) -> bool:
    """Whole tiles only (the kernels write 128·TILE_BLOCKS rows per tile, unchecked), into
    exactly ``(c, width/8)`` C-contiguous rows."""
    return (HAVE_AESNI and c > 0 and c % (128 * TILE_BLOCKS) == 0 and rows.flags.c_contiguous
            and rows.shape == (c, width // 8) and rows.dtype == np.uint8)


__all__ = ["CHUNK", "MatrixReceiver", "MatrixSender", "seeds_from_blocks", "transpose_rows"]
