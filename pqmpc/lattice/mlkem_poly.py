"""ML-KEM polynomial arithmetic (FIPS 203 §4): NTT, base-case multiply, CBD, codec.

Polynomials are rows of 256 ``uint16`` coefficients in [0, q), q = 3329; a batch is
any array whose last axis is 256, so a vector of k polynomials for n keys is
``(n, k, 256)``.  Every kernel works on the whole batch in one call: NTT and
multiply are numba loops, the codec is numpy bit (un)packing.

Python and numba cannot promise constant time.  These kernels avoid secret-indexed
tables and data-dependent branches apart from conditional subtractions mod q,
which compilers usually turn into selects, but nothing guarantees it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

Q = 3329
N = 256
_ZETA = 17
_N_INV = 3303  # 128^-1 mod q: FIPS 203 Algorithm 10 scales by it


def _bitrev7(i: int) -> int:
    return int(f"{i:07b}"[::-1], 2)


ZETAS = np.array([pow(_ZETA, _bitrev7(i), Q) for i in range(128)], dtype=np.int64)
GAMMAS = np.array([pow(_ZETA, 2 * _bitrev7(i) + 1, Q) for i in range(128)], dtype=np.int64)


# Twiddle multiplication à la Shoup: with ζ' = floor(ζ·2^16 / q) precomputed,
# x·ζ − floor(x·ζ' / 2^16)·q lies in [0, 2q) for x < 2^16, and every product fits
# in 32 bits.  That, masks instead of branches, and 16 polynomials side by side
# (lane-major buffer) let LLVM vectorize the butterflies.
ZETAS_SHOUP = (ZETAS << 16) // Q
_N_INV_SHOUP = (_N_INV << 16) // Q
_LANES = 16
_Q32 = np.int32(Q)


@njit(cache=True, nogil=True, inline="always")
def _shoup(x, z, zs):
    t = np.int32(x * z) - np.int32(np.int32(x * zs) >> 16) * _Q32
    return t - (_Q32 & -np.int32(t >= _Q32))


@njit(cache=True, nogil=True)
def _ntt_rows(f):
    a = np.zeros(256 * _LANES, dtype=np.int32)
    for r0 in range(0, f.shape[0], _LANES):
        cnt = min(_LANES, f.shape[0] - r0)
        for l in range(cnt):
            for j in range(256):
                a[j * _LANES + l] = f[r0 + l, j]
        k = 1
        length = 128
        while length >= 2:
            for start in range(0, 256, 2 * length):
                z = np.int32(ZETAS[k])
                zs = np.int32(ZETAS_SHOUP[k])
                k += 1
                for j in range(start, start + length):
                    p = j * _LANES
                    h = (j + length) * _LANES
                    for l in range(_LANES):
                        t = _shoup(a[h + l], z, zs)
                        x = a[p + l]
                        hi = x + t
                        lo = x - t
                        a[p + l] = hi - (_Q32 & -np.int32(hi >= _Q32))
                        a[h + l] = lo + (_Q32 & -np.int32(lo < 0))
            length //= 2
        for l in range(cnt):
            for j in range(256):
                f[r0 + l, j] = a[j * _LANES + l]


@njit(cache=True, nogil=True)
def _intt_rows(f):
    a = np.zeros(256 * _LANES, dtype=np.int32)
    ninv = np.int32(_N_INV)
    ninvs = np.int32(_N_INV_SHOUP)
    for r0 in range(0, f.shape[0], _LANES):
        cnt = min(_LANES, f.shape[0] - r0)
        for l in range(cnt):
            for j in range(256):
                a[j * _LANES + l] = f[r0 + l, j]
        k = 127
        length = 2
        while length <= 128:
            for start in range(0, 256, 2 * length):
                z = np.int32(ZETAS[k])
                zs = np.int32(ZETAS_SHOUP[k])
                k -= 1
                for j in range(start, start + length):
                    p = j * _LANES
                    h = (j + length) * _LANES
                    for l in range(_LANES):
                        t = a[p + l]
                        u = a[h + l]
                        s = t + u
                        d = u - t
                        a[p + l] = s - (_Q32 & -np.int32(s >= _Q32))
                        a[h + l] = _shoup(d + (_Q32 & -np.int32(d < 0)), z, zs)
            length *= 2
        for i in range(256 * _LANES):
            a[i] = _shoup(a[i], ninv, ninvs)
        for l in range(cnt):
            for j in range(256):
                f[r0 + l, j] = a[j * _LANES + l]


def ntt(f: np.ndarray) -> np.ndarray:
    """NTT of every polynomial in ``f`` (last axis 256); returns a new uint16 array."""
    out = np.array(f, dtype=np.uint16, order="C", copy=True)
    _ntt_rows(out.reshape(-1, N))
    return out


def intt(f: np.ndarray) -> np.ndarray:
    """Inverse NTT of every polynomial in ``f``; returns a new uint16 array."""
    out = np.array(f, dtype=np.uint16, order="C", copy=True)
    _intt_rows(out.reshape(-1, N))
    return out


@njit(cache=True, nogil=True)
def _matvec(a_hat, s_hat, out, transpose):
    """out[b, i] = Σ_j A[b, i, j] ∘ s[b, j] (or A[b, j, i] when transposing), mod q.

    ``a_hat`` is (m, k, k, 256) with m = 1 (one shared matrix) or m = batch size.
    """
    nb = s_hat.shape[0]
    k = s_hat.shape[1]
    shared = a_hat.shape[0] == 1
    acc = np.empty(256, dtype=np.int64)
    for b in range(nb):
        ab = 0 if shared else b
        for i in range(k):
            acc[:] = 0
            for j in range(k):
                if transpose:
                    a = a_hat[ab, j, i]
                else:
                    a = a_hat[ab, i, j]
                s = s_hat[b, j]
                for p in range(128):
                    a0 = np.int64(a[2 * p])
                    a1 = np.int64(a[2 * p + 1])
                    b0 = np.int64(s[2 * p])
                    b1 = np.int64(s[2 * p + 1])
                    acc[2 * p] += a0 * b0 + ((a1 * b1) % Q) * GAMMAS[p]
                    acc[2 * p + 1] += a0 * b1 + a1 * b0
            for p in range(256):
                out[b, i, p] = acc[p] % Q


@njit(cache=True, nogil=True)
def _dot(t_hat, s_hat, out):
    """out[b] = Σ_j t[b, j] ∘ s[b, j] mod q (inner product of NTT vectors)."""
    nb = s_hat.shape[0]
    k = s_hat.shape[1]
    acc = np.empty(256, dtype=np.int64)
    for b in range(nb):
        acc[:] = 0
        for j in range(k):
            a = t_hat[b, j]
            s = s_hat[b, j]
            for p in range(128):
                a0 = np.int64(a[2 * p])
                a1 = np.int64(a[2 * p + 1])
                b0 = np.int64(s[2 * p])
                b1 = np.int64(s[2 * p + 1])
                acc[2 * p] += a0 * b0 + ((a1 * b1) % Q) * GAMMAS[p]
                acc[2 * p + 1] += a0 * b1 + a1 * b0
        for p in range(256):
            out[b, p] = acc[p] % Q


def matvec(a_hat: np.ndarray, s_hat: np.ndarray, transpose: bool = False) -> np.ndarray:
    """Â∘ŝ (or Âᵀ∘ŝ) for a batch: ``a_hat`` (1 or nb, k, k, 256), ``s_hat`` (nb, k, 256)."""
    out = np.empty(s_hat.shape, dtype=np.uint16)
    _matvec(np.ascontiguousarray(a_hat), np.ascontiguousarray(s_hat), out, transpose)
    return out


def dot(t_hat: np.ndarray, s_hat: np.ndarray) -> np.ndarray:
    """t̂ᵀ∘ŝ for a batch: both (nb, k, 256) → (nb, 256)."""
    out = np.empty((s_hat.shape[0], N), dtype=np.uint16)
    _dot(np.ascontiguousarray(t_hat), np.ascontiguousarray(s_hat), out)
    return out


def multiply_ntts(f: np.ndarray, g: np.ndarray) -> np.ndarray:
    """FIPS 203 Algorithm 11 for single polynomials (kept for unit tests of the kernels)."""
    return dot(np.asarray(f, dtype=np.uint16).reshape(1, 1, N), np.asarray(g, dtype=np.uint16).reshape(1, 1, N))[0]


@njit(cache=True, nogil=True)
def _addsub(a, b, out, negate):
    for i in range(a.shape[0]):
        x = np.int32(a[i])
        y = np.int32(b[i])
        if negate:
            r = x - y
            out[i] = r + Q if r < 0 else r
        else:
            r = x + y
            out[i] = r - Q if r >= Q else r


def _elementwise(a, b, negate):
    a = np.ascontiguousarray(a, dtype=np.uint16)
    b = np.ascontiguousarray(np.broadcast_to(b, a.shape), dtype=np.uint16)
    out = np.empty(a.shape, dtype=np.uint16)
    _addsub(a.reshape(-1), b.reshape(-1), out.reshape(-1), negate)
    return out


def add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Coefficient-wise a + b mod q (inputs in [0, q), uint16 out)."""
    return _elementwise(a, b, False)


def sub(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Coefficient-wise a − b mod q (inputs in [0, q), uint16 out)."""
    return _elementwise(a, b, True)


@njit(cache=True, nogil=True)
def _cbd_rows(buf, eta, out):
    # Bit-sliced: sum the η bits of every field in a word at once (no secret-indexed
    # tables), then split the per-field counts a and b.  η = 2: 4 bytes → 8
    # coefficients; η = 3: 3 bytes → 4 coefficients.
    for r in range(buf.shape[0]):
        row = buf[r]
        if eta == 2:
            for g in range(32):
                w = (np.uint32(row[4 * g]) | (np.uint32(row[4 * g + 1]) << 8)
                     | (np.uint32(row[4 * g + 2]) << 16) | (np.uint32(row[4 * g + 3]) << 24))
                t = (w & np.uint32(0x55555555)) + ((w >> 1) & np.uint32(0x55555555))
                for j in range(8):
                    a = np.int32((t >> (4 * j)) & 3)
                    b = np.int32((t >> (4 * j + 2)) & 3)
                    v = a - b
                    out[r, 8 * g + j] = v + Q if v < 0 else v
        else:
            for g in range(64):
                w = np.uint32(row[3 * g]) | (np.uint32(row[3 * g + 1]) << 8) | (np.uint32(row[3 * g + 2]) << 16)
                t = (w & np.uint32(0x249249)) + ((w >> 1) & np.uint32(0x249249)) + ((w >> 2) & np.uint32(0x249249))
                for j in range(4):
                    a = np.int32((t >> (6 * j)) & 7)
                    b = np.int32((t >> (6 * j + 3)) & 7)
                    v = a - b
                    out[r, 4 * g + j] = v + Q if v < 0 else v


def cbd(buf: np.ndarray, eta: int) -> np.ndarray:
    """SamplePolyCBD_η (Algorithm 8), η ∈ {2, 3}, over rows of 64η bytes → (…, 256) uint16 mod q."""
    if eta not in (2, 3):
        raise ValueError("ML-KEM uses η = 2 or 3")
    b = np.ascontiguousarray(buf, dtype=np.uint8)
    out = np.empty(b.shape[:-1] + (N,), dtype=np.uint16)
    _cbd_rows(b.reshape(-1, 64 * eta), eta, out.reshape(-1, N))
    return out


@njit(cache=True, nogil=True)
def _pack_rows(vals, d, out):
    for r in range(vals.shape[0]):
        acc = np.uint64(0)
        nbits = 0
        pos = 0
        for i in range(256):
            acc |= np.uint64(vals[r, i]) << np.uint64(nbits)
            nbits += d
            while nbits >= 8:
                out[r, pos] = np.uint8(acc & np.uint64(0xFF))
                acc >>= np.uint64(8)
                nbits -= 8
                pos += 1


@njit(cache=True, nogil=True)
def _unpack_rows(data, d, out):
    mask = np.uint64((1 << d) - 1)
    for r in range(data.shape[0]):
        acc = np.uint64(0)
        nbits = 0
        pos = 0
        for i in range(256):
            while nbits < d:
                acc |= np.uint64(data[r, pos]) << np.uint64(nbits)
                pos += 1
                nbits += 8
            out[r, i] = np.uint16(acc & mask)
            acc >>= np.uint64(d)
            nbits -= d


@njit(cache=True, nogil=True)
def _pack_grouped(vals, d, g, nbytes, out):
    # g coefficients fill exactly nbytes whole bytes (g·d ≤ 64): one word per group.
    for r in range(vals.shape[0]):
        for grp in range(256 // g):
            acc = np.uint64(0)
            for i in range(g):
                acc |= np.uint64(vals[r, grp * g + i]) << np.uint64(d * i)
            for b in range(nbytes):
                out[r, grp * nbytes + b] = np.uint8((acc >> np.uint64(8 * b)) & np.uint64(0xFF))


@njit(cache=True, nogil=True)
def _unpack_grouped(data, d, g, nbytes, out):
    mask = np.uint64((1 << d) - 1)
    for r in range(data.shape[0]):
        for grp in range(256 // g):
            acc = np.uint64(0)
            for b in range(nbytes):
                acc |= np.uint64(data[r, grp * nbytes + b]) << np.uint64(8 * b)
            for i in range(g):
                out[r, grp * g + i] = np.uint16((acc >> np.uint64(d * i)) & mask)


def _group(d: int) -> tuple[int, int] | None:
    """(coefficients, bytes) of the smallest byte-aligned group, if it fits a word."""
    g = 8 // np.gcd(d, 8)
    return (g, g * d // 8) if g * d <= 64 else None


def byte_encode(f: np.ndarray, d: int) -> np.ndarray:
    """ByteEncode_d (Algorithm 5): (…, 256) integers < 2^d → (…, 32 d) bytes, little-endian bits."""
    a = np.ascontiguousarray(f, dtype=np.uint16)
    out = np.empty(a.shape[:-1] + (32 * d,), dtype=np.uint8)
    grp = _group(d)
    if grp is None:
        _pack_rows(a.reshape(-1, N), d, out.reshape(-1, 32 * d))
    else:
        _pack_grouped(a.reshape(-1, N), d, grp[0], grp[1], out.reshape(-1, 32 * d))
    return out


def byte_decode(b: np.ndarray, d: int) -> np.ndarray:
    """ByteDecode_d (Algorithm 6): (…, 32 d) bytes → (…, 256) uint16.

    For d = 12 the values are *not* reduced mod q: callers check them (the FIPS 203
    modulus check on encapsulation keys) or reduce explicitly.
    """
    a = np.ascontiguousarray(b, dtype=np.uint8)
    if a.shape[-1] != 32 * d:
        raise ValueError(f"ByteDecode_{d} needs rows of {32 * d} bytes")
    out = np.empty(a.shape[:-1] + (N,), dtype=np.uint16)
    grp = _group(d)
    if grp is None:
        _unpack_rows(a.reshape(-1, 32 * d), d, out.reshape(-1, N))
    else:
        _unpack_grouped(a.reshape(-1, 32 * d), d, grp[0], grp[1], out.reshape(-1, N))
    return out


@njit(cache=True, nogil=True)
def _compress_flat(x, d, out):
    # (2^d x + (q-1)/2) // q with the division by the constant q done by LLVM as a multiply.
    mask = (1 << d) - 1
    for i in range(x.shape[0]):
        out[i] = (((np.uint32(x[i]) << d) + np.uint32(Q // 2)) // np.uint32(Q)) & mask


@njit(cache=True, nogil=True)
def _decompress_flat(y, d, out):
    half = np.uint32(1 << (d - 1))
    for i in range(y.shape[0]):
        out[i] = (np.uint32(y[i]) * np.uint32(Q) + half) >> d


def compress(x: np.ndarray, d: int) -> np.ndarray:
    """Compress_d: round(2^d x / q) mod 2^d.  q is odd, so (2^d x + 1664) // q is exact."""
    a = np.ascontiguousarray(x, dtype=np.uint16)
    out = np.empty(a.shape, dtype=np.uint16)
    _compress_flat(a.reshape(-1), d, out.reshape(-1))
    return out


def decompress(y: np.ndarray, d: int) -> np.ndarray:
    """Decompress_d: round(q y / 2^d), rounding halves up as FIPS 203 ⌈·⌋ does."""
    a = np.ascontiguousarray(y, dtype=np.uint16)
    out = np.empty(a.shape, dtype=np.uint16)
    _decompress_flat(a.reshape(-1), d, out.reshape(-1))
    return out


def kernel_specs() -> list:
    """The kernels ML-KEM key generation, encapsulation and decapsulation call (the
    arithmetic of KyberOT), for :func:`pqmpc.primitives.preload.preload`."""
    from ..primitives.preload import BOOL, I64, arr

    u8, u16 = (lambda nd, ro=False: arr("uint8", nd, ro)), (lambda nd, ro=False: arr("uint16", nd, ro))
    return [(_ntt_rows, (u16(2),)), (_intt_rows, (u16(2),)),
            (_matvec, (u16(4), u16(3), u16(3), BOOL)), (_dot, (u16(3), u16(3), u16(2))),
            (_addsub, (u16(1), u16(1), u16(1), BOOL)), (_addsub, (u16(1), u16(1, True), u16(1), BOOL)),
            (_cbd_rows, (u8(2), I64, u16(2))),
            (_pack_grouped, (u16(2), I64, I64, I64, u8(2))), (_unpack_grouped, (u8(2), I64, I64, I64, u16(2))),
            (_compress_flat, (u16(1), I64, u16(1))), (_decompress_flat, (u16(1), I64, u16(1)))]
