"""The CTR PRG: one AES-CTR keystream per seed, continued on demand.

IKNP expands each of its κ base-OT seeds into a long bit column; a session
is extended again and again, so the streams must continue where they
stopped rather than restart. A 16-byte seed keys AES-128-CTR, a 32-byte
seed AES-256-CTR (the 256-bit post-quantum mode). Stream j is AES-CTR under
``seeds[j]`` with a zero initial counter block, counting as a 128-bit
big-endian integer, exactly as ``cryptography``'s CTR mode.

The seeds are secret (base-OT outputs), so the keystream never runs
through a table AES:

* :class:`MultiKeyCTR` — the bulk multi-key PRG. With AES-NI, all ``k``
  streams in one numba call with the GIL released (the two parties of an
  in-process run overlap on two cores); without it, one OpenSSL CTR context
  per seed (constant time, hardware accelerated on ARM too, but holding the
  GIL while it encrypts). Same bytes either way.
* :class:`SeedExpander` — always the OpenSSL contexts (the reference the
  kernel is tested against; the faster one on a single thread).
"""

from __future__ import annotations

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from numba import njit

from ..errors import ParameterError
from .aes import ctr_keystream_into
from .aes_kernels import (
    aes128_encrypt8_ni,
    aes128_encrypt_ni,
    aes128_load_keys,
    aes256_encrypt8_ni,
    aes256_encrypt_ni,
    aes256_load_keys,
    expand_kernel_specs,
    round_keys_many,
)
from .cpu import HAVE_AESNI

__all__ = ["MultiCTR", "MultiKeyCTR", "SeedExpander", "kernel_specs", "prg_expand"]


def _check_seeds(seeds) -> np.ndarray:
    seeds = np.asarray(seeds)
    if seeds.dtype != np.uint8 or seeds.ndim != 2 or seeds.shape[1] not in (16, 32):
        raise ParameterError(f"seeds must be (k, 16) or (k, 32) uint8, got {seeds.dtype} {seeds.shape}")
    return seeds


def _out_rows(out, k, nbytes):
    if out is None:
        return np.empty((k, nbytes), dtype=np.uint8)
    if not (isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == (k, nbytes)
            and out.flags.writeable):
        raise ParameterError(f"out must be a writable ({k}, {nbytes}) uint8 array")
    return out


class SeedExpander:
    """``k`` independent AES-CTR streams keyed by the rows of ``seeds``, through OpenSSL."""

    def __init__(self, seeds):
        seeds = _check_seeds(seeds)
        self.k = seeds.shape[0]
        self._encs = [Cipher(algorithms.AES(bytes(s)), modes.CTR(bytes(16))).encryptor() for s in seeds]
        self._zeros = np.zeros(0, dtype=np.uint8)
        self.pos = 0  # bytes produced per stream so far

    def next(self, nbytes: int, out: np.ndarray | None = None) -> np.ndarray:
        """The next ``nbytes`` of every stream, as a ``(k, nbytes)`` array."""
        out = _out_rows(out, self.k, nbytes)
        if nbytes == 0:
            return out
        if self._zeros.size < nbytes:
            self._zeros = np.zeros(nbytes, dtype=np.uint8)
        direct = out.flags.c_contiguous
        row = None if direct else np.empty(nbytes, dtype=np.uint8)
        for i, enc in enumerate(self._encs):
            if direct:
                ctr_keystream_into(enc, out[i], self._zeros)
            else:
                out[i] = ctr_keystream_into(enc, row, self._zeros)
        self.pos += nbytes
        return out


def prg_expand(seeds, nbytes: int) -> np.ndarray:
    """One-shot: the first ``nbytes`` of the AES-CTR stream of every seed.

    OpenSSL contexts: for a one-shot call the key setup dominates, and
    OpenSSL's is faster than computing round keys for the numba kernel.
    """
    return SeedExpander(seeds).next(nbytes)


# --------------------------------------------------------------------------
# The numba kernel (AES-NI only: compiled behind HAVE_AESNI)
# --------------------------------------------------------------------------


@njit(inline="always")
def _bswap64(x):
    x = ((x & np.uint64(0x00FF00FF00FF00FF)) << np.uint64(8)) | ((x >> np.uint64(8)) & np.uint64(0x00FF00FF00FF00FF))
    x = ((x & np.uint64(0x0000FFFF0000FFFF)) << np.uint64(16)) | ((x >> np.uint64(16)) & np.uint64(0x0000FFFF0000FFFF))
    return (x << np.uint64(32)) | (x >> np.uint64(32))


@njit(inline="always")
def _ctr(c):
    # Counter c < 2^64 as a big-endian 128-bit block: bytes 0..7 zero, bytes 8..15 = c big-endian.
    return (np.uint64(0), _bswap64(np.uint64(c)))


@njit(inline="always")
def _ctr8(c):
    return (_ctr(c), _ctr(c + 1), _ctr(c + 2), _ctr(c + 3), _ctr(c + 4), _ctr(c + 5), _ctr(c + 6), _ctr(c + 7))


@njit(inline="always")
def _put(out, j, b, y):
    out[j, b, 0] = y[0]
    out[j, b, 1] = y[1]


@njit(inline="always")
def _put8(out, j, b, y):
    for k in range(8):
        out[j, b + k, 0] = y[k][0]
        out[j, b + k, 1] = y[k][1]


# Eight counter blocks round by round (the interleaved AES-NI rounds).
@njit(cache=True, nogil=True)
def _ctr128_ni8(rk, start, out):
    k, nblk = out.shape[0], out.shape[1]
    for j in range(k):
        ks = aes128_load_keys(rk[j])
        b = 0
        while b + 8 <= nblk:
            _put8(out, j, b, aes128_encrypt8_ni(ks, _ctr8(start + b)))
            b += 8
        while b < nblk:
            _put(out, j, b, aes128_encrypt_ni(ks, _ctr(start + b)))
            b += 1


# The extension matrix's fused step: the keystream XORed with a masked matrix and a code
# row while both are in registers, instead of two more passes over the chunk in numpy.
@njit(cache=True, nogil=True)
def _ctr128_ni8_mix(rk, start, out, a, amask, c, crow):
    k, nblk = out.shape[0], out.shape[1]
    for j in range(k):
        ks = aes128_load_keys(rk[j])
        m = amask[j]
        jc = j * crow
        b = 0
        while b + 8 <= nblk:
            y = aes128_encrypt8_ni(ks, _ctr8(start + b))
            for i in range(8):
                out[j, b + i, 0] = y[i][0] ^ (a[j, b + i, 0] & m) ^ c[jc, b + i, 0]
                out[j, b + i, 1] = y[i][1] ^ (a[j, b + i, 1] & m) ^ c[jc, b + i, 1]
            b += 8
        while b < nblk:
            y1 = aes128_encrypt_ni(ks, _ctr(start + b))
            out[j, b, 0] = y1[0] ^ (a[j, b, 0] & m) ^ c[jc, b, 0]
            out[j, b, 1] = y1[1] ^ (a[j, b, 1] & m) ^ c[jc, b, 1]
            b += 1


@njit(cache=True, nogil=True)
def _ctr256_ni8(rk, start, out):
    k, nblk = out.shape[0], out.shape[1]
    for j in range(k):
        ks = aes256_load_keys(rk[j])
        b = 0
        while b + 8 <= nblk:
            _put8(out, j, b, aes256_encrypt8_ni(ks, _ctr8(start + b)))
            b += 8
        while b < nblk:
            _put(out, j, b, aes256_encrypt_ni(ks, _ctr(start + b)))
            b += 1


class MultiKeyCTR:
    """The bulk multi-key CTR PRG: ``next(nbytes, out=None) -> (k, nbytes)`` continues every stream.

    Byte for byte the streams of :class:`SeedExpander`. ``backend``:
    ``"auto"`` (numba + AES-NI where numba has it, OpenSSL otherwise) or
    ``"fallback"`` (OpenSSL). The numba path counts blocks in 64 bits, far
    beyond any session (2^68 bytes per stream).
    """

    def __init__(self, seeds, backend: str = "auto"):
        seeds = _check_seeds(seeds)
        if backend not in ("auto", "fallback"):
            raise ParameterError(f"backend must be 'auto' or 'fallback', got {backend!r}")
        self.k = seeds.shape[0]
        self.pos = 0  # bytes produced per stream so far
        self._openssl = None
        self._kernel = None
        if HAVE_AESNI and backend == "auto":
            # In-kernel (constant-time) key schedules: the seeds are secret.
            self._rk = round_keys_many(seeds)
            self._kernel = _ctr128_ni8 if seeds.shape[1] == 16 else _ctr256_ni8
        else:
            self._openssl = SeedExpander(seeds)

    @property
    def backend(self) -> str:
        """``"numba+AES-NI"`` or ``"OpenSSL"``: what this instance runs on."""
        return "OpenSSL" if self._openssl is not None else "numba+AES-NI"

    def next(self, nbytes: int, out: np.ndarray | None = None) -> np.ndarray:
        if self._openssl is not None:
            out = self._openssl.next(nbytes, out)
            self.pos = self._openssl.pos
            return out
        out = _out_rows(out, self.k, nbytes)
        if nbytes == 0 or self.k == 0:
            return out
        first, skip = divmod(self.pos, 16)
        nblk = -(-(skip + nbytes) // 16)
        if skip == 0 and nbytes % 16 == 0 and out.flags.c_contiguous:
            self._kernel(self._rk, first, out.view(np.uint64).reshape(self.k, nblk, 2))
        else:
            tmp = np.empty((self.k, nblk, 2), dtype=np.uint64)
            self._kernel(self._rk, first, tmp)
            out[:] = tmp.view(np.uint8).reshape(self.k, nblk * 16)[:, skip:skip + nbytes]
        self.pos += nbytes
        return out

    def take_blocks(self, nbytes: int, wide: bool = False):
        """For a caller's own fused kernel: ``(round_keys, first_block)`` of the next ``nbytes``
        of every stream (``(k, 11, 2)`` uint64 AES-128 schedules; block ``i`` of stream ``j``
        is AES_{k_j}(first_block + i) as a big-endian counter), advancing the streams; or
        ``None`` (nothing advanced) off the AES-NI / AES-128 / whole-block path. ``wide``: the
        caller's kernel also takes ``(k, 15, 2)`` AES-256 schedules, so 32-byte seeds qualify."""
        kernels = (_ctr128_ni8, _ctr256_ni8) if wide else (_ctr128_ni8,)
        if self._kernel not in kernels or self.pos % 16 or nbytes % 16:
            return None
        first = self.pos // 16
        self.pos += nbytes
        return self._rk, first

    def next_mixed(self, nbytes: int, out: np.ndarray, a: np.ndarray, amask: np.ndarray,
                   c: np.ndarray) -> np.ndarray:
        """``out = next(nbytes) ⊕ (a ∧ amask) ⊕ c``, fused where the kernel allows.

        ``out``, ``a``: ``(k, nbytes)`` uint8 (``out`` C-contiguous and distinct from
        ``a``); ``amask``: ``(k,)`` uint8, 0x00 or 0xFF per stream; ``c``: ``(1, nbytes)``
        (one row for every stream) or ``(k, nbytes)``. One pass over the chunk on the
        AES-NI path (AES-128 seeds, whole blocks); three numpy passes otherwise.
        """
        fused = (self._kernel is _ctr128_ni8 and self.pos % 16 == 0 and nbytes % 16 == 0 and nbytes
                 and out.flags.c_contiguous and a.flags.c_contiguous and c.flags.c_contiguous)
        if not fused:
            self.next(nbytes, out=out)
            np.bitwise_xor(out, a & amask.reshape(-1, 1), out=out)
            np.bitwise_xor(out, c, out=out)
            return out
        nblk = nbytes // 16
        m64 = np.where(amask.astype(bool), np.uint64(0xFFFFFFFFFFFFFFFF), np.uint64(0))
        _ctr128_ni8_mix(self._rk, self.pos // 16, out.view(np.uint64).reshape(self.k, nblk, 2),
                        a.view(np.uint64).reshape(self.k, nblk, 2), m64,
                        c.view(np.uint64).reshape(c.shape[0], nblk, 2), 1 if c.shape[0] > 1 else 0)
        self.pos += nbytes
        return out


#: The name ``pqmpc.ot.ext.ctr`` used (kept for the move).
MultiCTR = MultiKeyCTR


def kernel_specs(seed_bytes: int = 16) -> list:
    """The kernels a :class:`MultiKeyCTR` over ``seed_bytes``-byte seeds calls (none on
    the OpenSSL path), for :func:`pqmpc.primitives.preload.preload`."""
    if not HAVE_AESNI:
        return []
    from .preload import I64, arr

    u64 = arr("uint64", 3)
    if seed_bytes != 16:
        return expand_kernel_specs(seed_bytes) + [(_ctr256_ni8, (u64, I64, u64))]
    return expand_kernel_specs(seed_bytes) + [(_ctr128_ni8, (u64, I64, u64)),
                                              (_ctr128_ni8_mix, (u64, I64, u64, u64, arr("uint64", 1), u64, I64))]
