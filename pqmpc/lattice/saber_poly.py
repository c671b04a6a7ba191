"""Batched arithmetic for Saber: Z_{2^k}[x]/(x^256 + 1), packing and sampling.

Every function takes arrays with leading batch axes, so one call serves one
KEM key or all ``n`` instances of an OT batch.

Multiplication is a negacyclic convolution through a complex FFT of length 128:
a real polynomial mod x^256 + 1 is determined by its residue mod x^128 - i,
``a_j + i a_{j+128}``, and twisting by ``zeta^j`` (``zeta = exp(i*pi/256)``)
turns that ring into the cyclic one (see :func:`to_freq`). Inputs are kept
centred (``|a| <= 2^12`` mod q, ``|a| <= 2^9`` mod p, secrets ``|s| <= 5``), so
the exact row sums over ``l <= 4`` products stay below 2^25 (below 2^31 when
decapsulating with an arbitrary 13-bit secret); the double-precision FFT error
for such inputs is below 10^-4, far from the 0.5 that would make ``rint``
wrong. The tests check the worst case (every coefficient at its bound) against
exact integer products. Because q and p are powers of two, masking the exact
integer result gives it mod q or mod p directly.

Packing is Saber's: a little-endian bit stream, coefficient ``j`` of width
``w`` occupies bits ``w*j … w*j + w - 1`` (this matches the byte formulas of
the reference ``pack_unpack.c`` for widths 1, 3, 4, 6, 10 and 13).

These kernels are data-independent numpy/numba operations, but Python cannot promise
constant time.
"""

from __future__ import annotations

import numpy as np
from numba import njit

N = 256
EQ = 13
EP = 10
Q = 1 << EQ
P = 1 << EP

_HALF = N // 2
# zeta^j with zeta = exp(i*pi/256), so zeta^128 = i.
_TWIST = np.exp(1j * np.pi * np.arange(_HALF) / N)


def centered(a: np.ndarray, bits: int) -> np.ndarray:
    """Representatives of ``a mod 2^bits`` in ``[-2^(bits-1), 2^(bits-1))`` as int64."""
    a = np.asarray(a, dtype=np.int64) & ((1 << bits) - 1)
    return a - ((a >> (bits - 1)) << bits)


@njit(cache=True, nogil=True)
def _fold_twist(a, bits, tw, out):
    # Row r of a (256 integers) → out[r, j] = (a_j + i a_{j+128}) * zeta^j, with
    # a centred mod 2^bits first when bits > 0.
    half = out.shape[1]
    for r in range(a.shape[0]):
        for j in range(half):
            x = a[r, j]
            y = a[r, j + half]
            if bits > 0:
                m = (1 << bits) - 1
                x &= m
                y &= m
                x -= (x >> (bits - 1)) << bits
                y -= (y >> (bits - 1)) << bits
            c = tw[j].real
            d = tw[j].imag
            out[r, j] = complex(x * c - y * d, x * d + y * c)


@njit(cache=True, nogil=True)
def _untwist_unfold(z, tw, mask, out):
    half = z.shape[1]
    for r in range(z.shape[0]):
        for j in range(half):
            c = tw[j].real
            d = -tw[j].imag
            re = z[r, j].real * c - z[r, j].imag * d
            im = z[r, j].real * d + z[r, j].imag * c
            out[r, j] = np.int64(np.rint(re)) & mask
            out[r, j + half] = np.int64(np.rint(im)) & mask


def to_freq(a: np.ndarray, center_bits: int = 0) -> np.ndarray:
    """Frequency form of integer polynomials (last axis 256) → ``(..., 128)`` complex.

    A real polynomial mod x^256 + 1 is determined by its residue mod x^128 - i
    (the other factor, x^128 + i, gives the complex conjugate), which is
    ``a_j + i a_{j+128}``; substituting x = zeta*y turns that ring into the
    cyclic one, where a length-128 FFT multiplies pointwise. With
    ``center_bits = k`` the input is first reduced to its centred
    representative mod 2^k, which keeps the products small and exact.
    """
    a = np.asarray(a)
    lead = a.shape[:-1]
    rows = np.ascontiguousarray(a, dtype=np.int64).reshape(-1, N)
    z = np.empty((rows.shape[0], _HALF), dtype=np.complex128)
    _fold_twist(rows, center_bits, _TWIST, z)
    return np.fft.fft(z, axis=-1).reshape(*lead, _HALF)


def from_freq(f: np.ndarray, bits: int) -> np.ndarray:
    """Inverse of :func:`to_freq`, rounded to the exact integer product mod 2^bits."""
    lead = f.shape[:-1]
    z = np.ascontiguousarray(np.fft.ifft(f, axis=-1)).reshape(-1, _HALF)
    out = np.empty((z.shape[0], N), dtype=np.int64)
    _untwist_unfold(z, _TWIST, (1 << bits) - 1, out)
    return out.reshape(*lead, N)


def matvec_freq(a_f: np.ndarray, s_f: np.ndarray, transpose: bool) -> np.ndarray:
    """``A s`` (or ``A^T s``) in the frequency domain.

    ``a_f`` is ``(l, l, 128)``; ``s_f`` is ``(..., l, 128)``; result ``(..., l, 128)``.
    ``A[i][j]`` is row ``i``, column ``j``: ``(A s)_i = sum_j A[i][j] s_j``.
    """
    l = a_f.shape[0]
    out = np.empty(s_f.shape, dtype=np.complex128)
    tmp = np.empty(s_f.shape[:-2] + s_f.shape[-1:], dtype=np.complex128)
    for i in range(l):
        acc = out[..., i, :]
        for j in range(l):
            coef = a_f[j, i] if transpose else a_f[i, j]
            if j == 0:
                np.multiply(s_f[..., j, :], coef, out=acc)
            else:
                np.multiply(s_f[..., j, :], coef, out=tmp)
                acc += tmp
    return out


def inner_freq(b_f: np.ndarray, s_f: np.ndarray) -> np.ndarray:
    """``b^T s`` in the frequency domain: ``(..., l, 128)`` twice → ``(..., 128)``."""
    prod = b_f * s_f
    return prod.sum(axis=-2)


def round_q_to_p(a: np.ndarray) -> np.ndarray:
    """Saber's rounding Z_q → Z_p: ``((a + h1) mod q) >> (eq - ep)``, h1 = 2^(eq-ep-1)."""
    return ((a + (1 << (EQ - EP - 1))) & (Q - 1)) >> (EQ - EP)


@njit(cache=True, nogil=True)
def _pack_rows(c, width, out):
    mask = (1 << width) - 1
    for r in range(c.shape[0]):
        acc = 0
        nbits = 0
        pos = 0
        for j in range(c.shape[1]):
            acc |= (c[r, j] & mask) << nbits
            nbits += width
            while nbits >= 8:
                out[r, pos] = acc & 0xFF
                acc >>= 8
                nbits -= 8
                pos += 1


@njit(cache=True, nogil=True)
def _unpack_rows(b, width, out):
    mask = (1 << width) - 1
    for r in range(b.shape[0]):
        acc = 0
        nbits = 0
        pos = 0
        for j in range(out.shape[1]):
            while nbits < width:
                acc |= np.int64(b[r, pos]) << nbits
                pos += 1
                nbits += 8
            out[r, j] = acc & mask
            acc >>= width
            nbits -= width


@njit(cache=True, nogil=True)
def _popcount5(x):
    # SWAR popcount of a value below 2^8 (Saber's half-words have at most 5 bits):
    # shifts, masks and adds only, so the coins never index memory or pick a branch.
    x = x - ((x >> 1) & 0x55)
    x = (x & 0x33) + ((x >> 2) & 0x33)
    return (x + (x >> 4)) & 0x0F


@njit(cache=True, nogil=True)
def _cbd_rows(b, mu, out):
    half = mu // 2
    hmask = (1 << half) - 1
    for r in range(b.shape[0]):
        acc = 0
        nbits = 0
        pos = 0
        for j in range(out.shape[1]):
            # The refill loop depends only on the public mu and position, not on the coins.
            while nbits < mu:
                acc |= np.int64(b[r, pos]) << nbits
                pos += 1
                nbits += 8
            out[r, j] = _popcount5(acc & hmask) - _popcount5((acc >> half) & hmask)
            acc >>= mu
            nbits -= mu


def _rows(a: np.ndarray, dtype) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=dtype)
    return a.reshape(-1, a.shape[-1]) if a.ndim else a.reshape(1, 1)


def pack(coeffs: np.ndarray, width: int) -> np.ndarray:
    """Little-endian bit-stream packing of the low ``width`` bits of each coefficient.

    ``(..., k)`` integers → ``(..., k * width // 8)`` uint8 (``k * width`` must be a
    multiple of 8).
    """
    c = np.asarray(coeffs)
    lead, k = c.shape[:-1], c.shape[-1]
    if (k * width) % 8:
        raise ValueError("packed length must be a whole number of bytes")
    rows = _rows(c, np.int64)
    out = np.empty((rows.shape[0], k * width // 8), dtype=np.uint8)
    _pack_rows(rows, width, out)
    return out.reshape(*lead, k * width // 8)


def unpack(buf: np.ndarray, width: int) -> np.ndarray:
    """Inverse of :func:`pack`: ``(..., m)`` uint8 → ``(..., m * 8 // width)`` int64."""
    b = np.asarray(buf, dtype=np.uint8)
    lead, m = b.shape[:-1], b.shape[-1]
    if (m * 8) % width:
        raise ValueError("byte length does not hold a whole number of coefficients")
    rows = _rows(b, np.uint8)
    out = np.empty((rows.shape[0], m * 8 // width), dtype=np.int64)
    _unpack_rows(rows, width, out)
    return out.reshape(*lead, m * 8 // width)


def cbd(buf: np.ndarray, mu: int) -> np.ndarray:
    """Centred binomial sample with parameter ``mu`` (Saber's ``cbd``).

    ``(..., mu * 256 // 8)`` bytes → ``(..., 256)`` int64 in ``[-mu/2, mu/2]``:
    coefficient ``j`` is popcount of stream bits ``[mu*j, mu*j + mu/2)`` minus
    popcount of bits ``[mu*j + mu/2, mu*(j+1))``, reading the bytes as a
    little-endian bit stream.
    """
    b = np.asarray(buf, dtype=np.uint8)
    lead = b.shape[:-1]
    if b.shape[-1] != mu * N // 8:
        raise ValueError(f"cbd needs {mu * N // 8} bytes per polynomial")
    rows = _rows(b, np.uint8)
    out = np.empty((rows.shape[0], N), dtype=np.int64)
    _cbd_rows(rows, mu, out)
    return out.reshape(*lead, N)
