"""Explicit randomness: every protocol takes an ``Rng``.

A seeded ``Rng`` makes a whole protocol run reproducible, which is how the
transcripts in ``vectors/`` are recorded. The stream is the AES-256-CTR
keystream under the 32-byte seed (zero nonce), produced in bulk by OpenSSL.
``Rng()`` with no seed draws its key from the operating system.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .errors import ParameterError

_FILL_PIECE = 1 << 16  # Rng.fill's reused keystream piece: small enough to stay in L2


class Rng:
    """A deterministic (seeded) or OS-seeded random stream.

    ``seed`` of exactly 32 bytes is used as the AES-256 key; any other length
    (including empty) is first hashed with SHA-256, so short human-chosen
    seeds such as ``b"test"`` work too.
    """

    __slots__ = ("_enc", "seeded", "_fill_scratch")

    def __init__(self, seed: bytes | None = None):
        if seed is None:
            key = os.urandom(32)
            self.seeded = False
        else:
            if isinstance(seed, str):
                seed = seed.encode()
            if not isinstance(seed, (bytes, bytearray, memoryview)):
                raise ParameterError("Rng seed must be bytes or None")
            seed = bytes(seed)
            key = seed if len(seed) == 32 else hashlib.sha256(b"pqmpc.rng.seed" + seed).digest()
            self.seeded = True
        self._enc = Cipher(algorithms.AES256(key), modes.CTR(bytes(16))).encryptor()
        self._fill_scratch = None

    @staticmethod
    def ensure(rng: "Rng | None") -> "Rng":
        """``None`` means a fresh OS-seeded stream; an ``Rng`` is used as is."""
        if rng is None:
            return Rng()
        if not isinstance(rng, Rng):
            raise ParameterError(f"rng must be a pqmpc.Rng or None, not {type(rng).__name__}")
        return rng

    def fill(self, out: np.ndarray) -> np.ndarray:
        """Overwrite a C-contiguous array with random bytes (no allocation)."""
        if not out.flags.c_contiguous:
            raise ParameterError("Rng.fill needs a C-contiguous array")
        view = out.reshape(-1).view(np.uint8)
        n = view.size
        done = 0
        # update_into wants len(out) >= len(in) + 15; zeros in, keystream out. The two buffers stay
        # with the Rng: fresh ones per call are fresh pages on every call above malloc's mmap
        # threshold, which these VMs charge ~8 µs each (the steady out= OT calls' last page faults).
        scratch = self._fill_scratch
        if scratch is None:
            scratch = self._fill_scratch = (np.zeros(_FILL_PIECE, dtype=np.uint8),
                                            np.empty(_FILL_PIECE + 15, dtype=np.uint8))
        zeros, buf = scratch
        while done < n:
            k = min(n - done, zeros.size)
            self._enc.update_into(zeros[:k], buf)
            view[done:done + k] = buf[:k]
            done += k
        return out

    def bytes(self, n: int) -> bytes:
        if n < 0:
            raise ParameterError("n must be >= 0")
        return self._enc.update(bytes(n))

    def array(self, shape, dtype=np.uint8) -> np.ndarray:
        return self.fill(np.empty(shape, dtype=dtype))

    def blocks(self, n: int, width: int = 16) -> np.ndarray:
        """``(n, width)`` uint8 uniformly random blocks."""
        return self.array((n, width))

    def bits(self, n: int) -> np.ndarray:
        """``(n,)`` uint8 array of independent uniform 0/1 values."""
        return self.array(n) & np.uint8(1)

    def uint64(self, n: int) -> np.ndarray:
        return self.array(n, np.uint64)

    def integers(self, n: int, bound: int) -> np.ndarray:
        """``(n,)`` int64 uniform in ``[0, bound)``, without modulo bias."""
        if not 0 < bound <= 1 << 62:
            raise ParameterError("bound must be in [1, 2^62]")
        out = np.empty(n, dtype=np.int64)
        if n == 0:
            return out
        b = np.uint64(bound)
        # Accept draws below the largest multiple of bound that fits in 64 bits.
        limit = np.uint64((1 << 64) - ((1 << 64) % bound) - 1) if (1 << 64) % bound else None
        filled = 0
        while filled < n:
            want = n - filled
            draw = self.uint64(want + want // 16 + 8)
            if limit is not None:
                draw = draw[draw <= limit]
            take = min(want, draw.size)
            out[filled:filled + take] = (draw[:take] % b).astype(np.int64)
            filled += take
        return out

    def seed(self, nbytes: int = 32) -> bytes:
        return self.bytes(nbytes)

    def fork(self, label: bytes | str = b"") -> "Rng":
        """A child stream, determined by this stream's state and ``label``.

        Forking consumes 32 bytes of the parent, so two forks never share a
        stream even with the same label.
        """
        if isinstance(label, str):
            label = label.encode()
        tag = b"pqmpc.rng.fork" + len(label).to_bytes(4, "little") + label
        return Rng(hashlib.sha256(tag + self.bytes(32)).digest())
