"""Batched arithmetic for Saber: Z_{2^k}[x]/(x^256 + 1), packing and sampling.

Every function takes arrays with leading batch axes, so one call serves one
KEM key or all ``n`` instances of an OT batch.

Multiplication is a negacyclic convolution done with a twisted complex FFT of
length 256: with ``w = exp(i*pi/256)``, ``a * b mod (x^256 + 1)`` is
``conj(w^j) * ifft(fft(a * w^j) * fft(b * w^j))``. Inputs are kept centred
(``|a| <= 2^12`` for Z_q, ``|a| <= 2^10`` after a subtraction mod p, secrets
``|s| <= 5``) so every exact result of a row-sum over ``l <= 4`` polynomials is
below 2^31 in magnitude; the double-precision FFT error for such inputs is
below 10^-6, far from the 0.5 that would make ``rint`` wrong. The test suite
checks the worst case (every coefficient at its bound) against exact integer
schoolbook products. Because q and p are powers of two, reducing the exact
integer result with a bit mask gives the value mod q or mod p directly.

Packing is Saber's: a little-endian bit stream, coefficient ``j`` of width
``w`` occupies bits ``w*j … w*j + w - 1`` (this matches the byte formulas of
the reference ``pack_unpack.c`` for widths 1, 3, 4, 6, 10 and 13).

These kernels are data-independent numpy operations, but Python cannot promise
constant time.
"""

from __future__ import annotations

import numpy as np

N = 256
EQ = 13
EP = 10
Q = 1 << EQ
P = 1 << EP

_TWIST = np.exp(1j * np.pi * np.arange(N) / N)
_UNTWIST = np.conj(_TWIST)


def centered(a: np.ndarray, bits: int) -> np.ndarray:
    """Representatives of ``a mod 2^bits`` in ``[-2^(bits-1), 2^(bits-1))`` as int64."""
    a = np.asarray(a, dtype=np.int64) & ((1 << bits) - 1)
    return a - ((a >> (bits - 1)) << bits)


def to_freq(a: np.ndarray) -> np.ndarray:
    """Twisted FFT of integer polynomials (last axis 256), for :func:`from_freq`."""
    return np.fft.fft(a * _TWIST, axis=-1)


def from_freq(f: np.ndarray, bits: int) -> np.ndarray:
    """Inverse of :func:`to_freq`, rounded to the exact integer product mod 2^bits."""
    real = (np.fft.ifft(f, axis=-1) * _UNTWIST).real
    return np.rint(real).astype(np.int64) & ((1 << bits) - 1)


def matvec_freq(a_f: np.ndarray, s_f: np.ndarray, transpose: bool) -> np.ndarray:
    """``A s`` (or ``A^T s``) in the frequency domain.

    ``a_f`` is ``(l, l, 256)``; ``s_f`` is ``(..., l, 256)``; result ``(..., l, 256)``.
    ``A[i][j]`` is row ``i``, column ``j``: ``(A s)_i = sum_j A[i][j] s_j``.
    """
    spec = "jik,...jk->...ik" if transpose else "ijk,...jk->...ik"
    return np.einsum(spec, a_f, s_f, optimize=False)


def inner_freq(b_f: np.ndarray, s_f: np.ndarray) -> np.ndarray:
    """``b^T s`` in the frequency domain: ``(..., l, 256)`` twice → ``(..., 256)``."""
    return np.einsum("...jk,...jk->...k", b_f, s_f)


def round_q_to_p(a: np.ndarray) -> np.ndarray:
    """Saber's rounding Z_q → Z_p: ``((a + h1) mod q) >> (eq - ep)``, h1 = 2^(eq-ep-1)."""
    return ((a + (1 << (EQ - EP - 1))) & (Q - 1)) >> (EQ - EP)


def pack(coeffs: np.ndarray, width: int) -> np.ndarray:
    """Little-endian bit-stream packing of the low ``width`` bits of each coefficient.

    ``(..., k)`` integers → ``(..., k * width // 8)`` uint8 (``k * width`` must be a
    multiple of 8).
    """
    c = np.asarray(coeffs)
    lead, k = c.shape[:-1], c.shape[-1]
    if (k * width) % 8:
        raise ValueError("packed length must be a whole number of bytes")
    shifts = np.arange(width, dtype=np.uint16)
    bits = ((c.astype(np.uint16)[..., None] >> shifts) & 1).astype(np.uint8)
    out = np.packbits(bits.reshape(*lead, k * width), axis=-1, bitorder="little")
    return out


def unpack(buf: np.ndarray, width: int) -> np.ndarray:
    """Inverse of :func:`pack`: ``(..., m)`` uint8 → ``(..., m * 8 // width)`` int64."""
    b = np.asarray(buf, dtype=np.uint8)
    lead, m = b.shape[:-1], b.shape[-1]
    if (m * 8) % width:
        raise ValueError("byte length does not hold a whole number of coefficients")
    bits = np.unpackbits(b, axis=-1, bitorder="little").reshape(*lead, m * 8 // width, width)
    weights = (1 << np.arange(width, dtype=np.int64))
    return bits.astype(np.int64) @ weights


def cbd(buf: np.ndarray, mu: int) -> np.ndarray:
    """Centred binomial sample with parameter ``mu`` (Saber's ``cbd``).

    ``(..., mu * 256 // 8)`` bytes → ``(..., 256)`` int64 in ``[-mu/2, mu/2]``:
    coefficient ``j`` is popcount of stream bits ``[mu*j, mu*j + mu/2)`` minus
    popcount of bits ``[mu*j + mu/2, mu*(j+1))``, reading the bytes as a
    little-endian bit stream.
    """
    b = np.asarray(buf, dtype=np.uint8)
    lead = b.shape[:-1]
    half = mu // 2
    bits = np.unpackbits(b, axis=-1, bitorder="little").reshape(*lead, N, 2, half)
    counts = bits.sum(axis=-1, dtype=np.int64)
    return counts[..., 0] - counts[..., 1]
