"""Batched Keccak (FIPS 202) for ML-KEM: SHA3-256/512, SHAKE-128/256 over many inputs.

ML-KEM hashes small, fixed-length inputs many times per key (G, H, J, PRF, the
SHAKE-128 matrix and the hash-to-key map).  Calling :mod:`hashlib` once per item
would put a Python loop on the OT hot path, so these numba kernels take an
``(n, L)`` uint8 array and hash all rows in one call.  They are checked against
:mod:`hashlib` in the tests.  ``nogil=True`` lets the two parties of an in-process
run overlap on two cores.

Python and numba cannot promise constant time; these kernels have no
secret-dependent branches or table lookups, except rejection sampling, whose
branches depend only on public XOF output.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_RC = np.array(
    [
        0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
        0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
        0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
        0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
        0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
        0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
    ],
    dtype=np.uint64,
)

# Rotation offset of lane x + 5y (FIPS 202 table 2, indexed by lane).
_ROT_XY = [
    [0, 36, 3, 41, 18],
    [1, 44, 10, 45, 2],
    [62, 6, 43, 15, 61],
    [28, 55, 25, 21, 56],
    [27, 20, 39, 8, 14],
]
_ROT = np.array([_ROT_XY[i % 5][i // 5] for i in range(25)], dtype=np.uint64)
# pi moves lane (x, y) to (y, 2x + 3y).
_PI = np.array([(i // 5) + 5 * ((2 * (i % 5) + 3 * (i // 5)) % 5) for i in range(25)], dtype=np.int64)

RATE_SHAKE128 = 168
RATE_SHAKE256 = 136
RATE_SHA3_256 = 136
RATE_SHA3_512 = 72
DS_SHA3 = 0x06
DS_SHAKE = 0x1F

Q = 3329


@njit(cache=True, nogil=True, inline="always")
def _rotl(v, r):
    if r == 0:
        return v
    return (v << r) | (v >> (np.uint64(64) - r))


@njit(cache=True, nogil=True)
def _permute(s, bc, t):
    one = np.uint64(1)
    for rnd in range(24):
        for x in range(5):
            bc[x] = s[x] ^ s[x + 5] ^ s[x + 10] ^ s[x + 15] ^ s[x + 20]
        for x in range(5):
            d = bc[(x + 4) % 5] ^ _rotl(bc[(x + 1) % 5], one)
            for y in range(0, 25, 5):
                s[y + x] ^= d
        for i in range(25):
            t[_PI[i]] = _rotl(s[i], _ROT[i])
        for y in range(0, 25, 5):
            t0 = t[y]
            t1 = t[y + 1]
            t2 = t[y + 2]
            t3 = t[y + 3]
            t4 = t[y + 4]
            s[y] = t0 ^ (~t1 & t2)
            s[y + 1] = t1 ^ (~t2 & t3)
            s[y + 2] = t2 ^ (~t3 & t4)
            s[y + 3] = t3 ^ (~t4 & t0)
            s[y + 4] = t4 ^ (~t0 & t1)
        s[0] ^= _RC[rnd]


@njit(cache=True, nogil=True)
def _absorb(s, sb, bc, t, data, rate, ds):
    """Reset the state, absorb ``data`` and pad; leaves the state ready to squeeze."""
    s[:] = 0
    n = data.shape[0]
    pos = 0
    while n - pos >= rate:
        for j in range(rate):
            sb[j] ^= data[pos + j]
        _permute(s, bc, t)
        pos += rate
    rem = n - pos
    for j in range(rem):
        sb[j] ^= data[pos + j]
    sb[rem] ^= np.uint8(ds)
    sb[rate - 1] ^= np.uint8(0x80)
    _permute(s, bc, t)


@njit(cache=True, nogil=True)
def _squeeze(s, sb, bc, t, out, rate):
    outlen = out.shape[0]
    pos = 0
    while True:
        take = min(rate, outlen - pos)
        for j in range(take):
            out[pos + j] = sb[j]
        pos += take
        if pos >= outlen:
            break
        _permute(s, bc, t)


@njit(cache=True, nogil=True)
def keccak_batch(msgs, rate, ds, outlen):
    """Hash every row of ``msgs`` ((n, L) uint8) into ``outlen`` bytes each."""
    n = msgs.shape[0]
    out = np.empty((n, outlen), dtype=np.uint8)
    s = np.zeros(25, dtype=np.uint64)
    sb = s.view(np.uint8)
    bc = np.empty(5, dtype=np.uint64)
    t = np.empty(25, dtype=np.uint64)
    for i in range(n):
        _absorb(s, sb, bc, t, msgs[i], rate, ds)
        _squeeze(s, sb, bc, t, out[i], rate)
    return out


@njit(cache=True, nogil=True)
def xof_uniform_batch(msgs, ncoeffs):
    """SHAKE-128 of each row, read as 12-bit pairs, rejection-sampled into [0, q).

    This is FIPS 203 SampleNTT when rows are ``ρ ‖ j ‖ i`` and ``ncoeffs = 256``;
    with longer inputs and ``ncoeffs = 256 k`` it is the uniform hash-to-key map.
    The stream is squeezed as long as needed, so no input can fail (the CCTV
    "unlucky" vectors need more than 575 bytes).
    """
    n = msgs.shape[0]
    out = np.empty((n, ncoeffs), dtype=np.uint16)
    s = np.zeros(25, dtype=np.uint64)
    sb = s.view(np.uint8)
    bc = np.empty(5, dtype=np.uint64)
    t = np.empty(25, dtype=np.uint64)
    rate = RATE_SHAKE128
    for i in range(n):
        _absorb(s, sb, bc, t, msgs[i], rate, DS_SHAKE)
        got = 0
        while True:
            for j in range(0, rate, 3):
                b0 = np.int64(sb[j])
                b1 = np.int64(sb[j + 1])
                b2 = np.int64(sb[j + 2])
                d1 = b0 | ((b1 & 15) << 8)
                d2 = (b1 >> 4) | (b2 << 4)
                if d1 < Q and got < ncoeffs:
                    out[i, got] = d1
                    got += 1
                if d2 < Q and got < ncoeffs:
                    out[i, got] = d2
                    got += 1
            if got >= ncoeffs:
                break
            _permute(s, bc, t)
    return out


def _rows(msgs) -> np.ndarray:
    a = np.ascontiguousarray(msgs, dtype=np.uint8)
    if a.ndim != 2:
        raise ValueError("expected an (n, L) uint8 array")
    return a


def sha3_256(msgs) -> np.ndarray:
    return keccak_batch(_rows(msgs), RATE_SHA3_256, DS_SHA3, 32)


def sha3_512(msgs) -> np.ndarray:
    return keccak_batch(_rows(msgs), RATE_SHA3_512, DS_SHA3, 64)


def shake128(msgs, outlen: int) -> np.ndarray:
    return keccak_batch(_rows(msgs), RATE_SHAKE128, DS_SHAKE, outlen)


def shake256(msgs, outlen: int) -> np.ndarray:
    return keccak_batch(_rows(msgs), RATE_SHAKE256, DS_SHAKE, outlen)
