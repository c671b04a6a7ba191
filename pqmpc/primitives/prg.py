"""Seed expansion with AES-CTR: one keystream per seed, continued on demand.

IKNP expands each of its κ base-OT seeds into a long bit column; a session
is extended again and again, so the streams must continue where they
stopped rather than restart. A 16-byte seed keys AES-128-CTR, a 32-byte
seed AES-256-CTR (the 256-bit post-quantum mode).
"""

from __future__ import annotations

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..errors import ParameterError


class SeedExpander:
    """``k`` independent AES-CTR streams keyed by the rows of ``seeds``."""

    def __init__(self, seeds):
        seeds = np.asarray(seeds)
        if seeds.dtype != np.uint8 or seeds.ndim != 2 or seeds.shape[1] not in (16, 32):
            raise ParameterError(f"seeds must be (k, 16) or (k, 32) uint8, got {seeds.dtype} {seeds.shape}")
        self.k = seeds.shape[0]
        self._encs = [Cipher(algorithms.AES(bytes(s)), modes.CTR(bytes(16))).encryptor() for s in seeds]
        self._zeros = np.zeros(0, dtype=np.uint8)
        self._scratch = np.zeros(0, dtype=np.uint8)

    def next(self, nbytes: int, out: np.ndarray | None = None) -> np.ndarray:
        """The next ``nbytes`` of every stream, as a ``(k, nbytes)`` array."""
        if out is None:
            out = np.empty((self.k, nbytes), dtype=np.uint8)
        if nbytes == 0:
            return out
        if self._zeros.size < nbytes:
            self._zeros = np.zeros(nbytes, dtype=np.uint8)
            self._scratch = np.empty(nbytes + 16, dtype=np.uint8)
        zeros = self._zeros[:nbytes]
        for i, enc in enumerate(self._encs):
            enc.update_into(zeros, self._scratch)
            out[i] = self._scratch[:nbytes]
        return out


def prg_expand(seeds, nbytes: int) -> np.ndarray:
    """One-shot: the first ``nbytes`` of the AES-CTR stream of every seed."""
    return SeedExpander(seeds).next(nbytes)
