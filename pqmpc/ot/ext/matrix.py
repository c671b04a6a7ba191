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
from ...primitives.prg import MultiKeyCTR
from .cot import CHUNK, transpose_nogil


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

    def recv_chunk(self, ch: Channel, c: int, step: str, *, out: np.ndarray | None = None) -> np.ndarray:
        """Receive ``U`` for the next ``c`` rows; return ``Q = G(k^s) ⊕ s·U`` (``w × ceil(c/8)``):
        ``out`` if given, else scratch valid until the next call."""
        cb = (c + 7) // 8
        q = self._scratch.get(cb)[0] if out is None else check_out(out, (self.width, cb))
        u = ch.recv_array(np.uint8, (self.width, cb), step)
        if self._zero.shape[1] < cb:
            self._zero = np.zeros((1, cb), dtype=np.uint8)
        self.g.next_mixed(cb, q, u, self.mask.reshape(-1), self._zero[:, :cb])  # Q = G(k^s) ⊕ s·U
        return q


__all__ = ["CHUNK", "MatrixReceiver", "MatrixSender", "seeds_from_blocks", "transpose_rows"]
