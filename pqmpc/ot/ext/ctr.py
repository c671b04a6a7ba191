"""κ AES-CTR streams in one numba kernel, byte for byte the streams of ``SeedExpander``.

Why not :class:`pqmpc.primitives.prg.SeedExpander` itself: it makes one
OpenSSL call per seed per chunk (128 or 256 Python-level calls), and
``cryptography`` holds the GIL while encrypting, so in an in-process run the
two IKNP parties queue behind each other on the PRG. This kernel runs all
streams in one call with the GIL released, using the AES building blocks of
:mod:`pqmpc.primitives.aesni` (AES-NI where detected, table AES otherwise).
The output is tested equal to ``SeedExpander``; the IKNP transcripts do not
depend on which one runs.

Stream j is AES-CTR under ``seeds[j]`` (AES-128 for 16-byte seeds, AES-256
for 32) with a zero initial counter block, counting as a 128-bit big-endian
integer, exactly as ``cryptography``'s CTR mode.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ...errors import ParameterError
from ...primitives import aesni


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
def _put(out, j, b, y):
    out[j, b, 0] = y[0]
    out[j, b, 1] = y[1]


@njit(cache=True, nogil=True)
def _ctr128(rk, start, out):
    k, nblk = out.shape[0], out.shape[1]
    for j in range(k):
        ks = aesni.aes128_load_keys(rk[j])
        b = 0
        while b + 4 <= nblk:
            c = start + b
            y0 = aesni.aes128_encrypt(ks, _ctr(c))
            y1 = aesni.aes128_encrypt(ks, _ctr(c + 1))
            y2 = aesni.aes128_encrypt(ks, _ctr(c + 2))
            y3 = aesni.aes128_encrypt(ks, _ctr(c + 3))
            _put(out, j, b, y0)
            _put(out, j, b + 1, y1)
            _put(out, j, b + 2, y2)
            _put(out, j, b + 3, y3)
            b += 4
        while b < nblk:
            _put(out, j, b, aesni.aes128_encrypt(ks, _ctr(start + b)))
            b += 1


@njit(cache=True, nogil=True)
def _ctr256(rk, start, out):
    k, nblk = out.shape[0], out.shape[1]
    for j in range(k):
        ks = aesni.aes256_load_keys(rk[j])
        b = 0
        while b + 4 <= nblk:
            c = start + b
            y0 = aesni.aes256_encrypt(ks, _ctr(c))
            y1 = aesni.aes256_encrypt(ks, _ctr(c + 1))
            y2 = aesni.aes256_encrypt(ks, _ctr(c + 2))
            y3 = aesni.aes256_encrypt(ks, _ctr(c + 3))
            _put(out, j, b, y0)
            _put(out, j, b + 1, y1)
            _put(out, j, b + 2, y2)
            _put(out, j, b + 3, y3)
            b += 4
        while b < nblk:
            _put(out, j, b, aesni.aes256_encrypt(ks, _ctr(start + b)))
            b += 1


@njit(inline="always")
def _ctr8(c):
    return (_ctr(c), _ctr(c + 1), _ctr(c + 2), _ctr(c + 3), _ctr(c + 4), _ctr(c + 5), _ctr(c + 6), _ctr(c + 7))


@njit(inline="always")
def _put8(out, j, b, y):
    for k in range(8):
        out[j, b + k, 0] = y[k][0]
        out[j, b + k, 1] = y[k][1]


# Eight counter blocks round by round (aesni's interleaved AES-NI rounds);
# compiled only where AES-NI was detected (MultiCTR picks the kernel).
@njit(cache=True, nogil=True)
def _ctr128_ni8(rk, start, out):
    k, nblk = out.shape[0], out.shape[1]
    for j in range(k):
        ks = aesni.aes128_load_keys(rk[j])
        b = 0
        while b + 8 <= nblk:
            _put8(out, j, b, aesni.aes128_encrypt8_ni(ks, _ctr8(start + b)))
            b += 8
        while b < nblk:
            _put(out, j, b, aesni.aes128_encrypt_ni(ks, _ctr(start + b)))
            b += 1


@njit(cache=True, nogil=True)
def _ctr256_ni8(rk, start, out):
    k, nblk = out.shape[0], out.shape[1]
    for j in range(k):
        ks = aesni.aes256_load_keys(rk[j])
        b = 0
        while b + 8 <= nblk:
            _put8(out, j, b, aesni.aes256_encrypt8_ni(ks, _ctr8(start + b)))
            b += 8
        while b < nblk:
            _put(out, j, b, aesni.aes256_encrypt_ni(ks, _ctr(start + b)))
            b += 1


class MultiCTR:
    """``SeedExpander``-compatible: ``next(nbytes, out=None) -> (k, nbytes)`` continues every stream."""

    def __init__(self, seeds):
        seeds = np.asarray(seeds)
        if seeds.dtype != np.uint8 or seeds.ndim != 2 or seeds.shape[1] not in (16, 32):
            raise ParameterError(f"seeds must be (k, 16) or (k, 32) uint8, got {seeds.dtype} {seeds.shape}")
        self.k = seeds.shape[0]
        self._rk = np.ascontiguousarray(np.stack([aesni.round_keys(bytes(s)) for s in seeds])) if self.k else \
            np.zeros((0, 11 if seeds.shape[1] == 16 else 15, 2), dtype=np.uint64)
        if aesni.HAVE_AESNI:
            self._kernel = _ctr128_ni8 if seeds.shape[1] == 16 else _ctr256_ni8
        else:
            self._kernel = _ctr128 if seeds.shape[1] == 16 else _ctr256
        self.pos = 0  # bytes produced per stream so far

    def next(self, nbytes: int, out: np.ndarray | None = None) -> np.ndarray:
        if out is None:
            out = np.empty((self.k, nbytes), dtype=np.uint8)
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
