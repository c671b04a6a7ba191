"""Batched Keccak (FIPS 202): SHA3-256/512, SHAKE-128/256 over many equal-length inputs.

The lattice KEMs hash small, fixed-length inputs many times per key (ML-KEM's
G, H, J, PRF, the SHAKE-128 matrix and the hash-to-key map; Saber's matrix and
noise), and the OTs derive one output per index.  Calling :mod:`hashlib` once per
item would put a Python loop on the OT hot path, so these numba kernels take an
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

RATE_SHAKE128 = 168
RATE_SHAKE256 = 136
RATE_SHA3_256 = 136
RATE_SHA3_512 = 72
DS_SHA3 = 0x06
DS_SHAKE = 0x1F


_U1 = np.uint64(1)
_U2 = np.uint64(2)
_U3 = np.uint64(3)
_U6 = np.uint64(6)
_U8 = np.uint64(8)
_U9 = np.uint64(9)
_U10 = np.uint64(10)
_U14 = np.uint64(14)
_U15 = np.uint64(15)
_U18 = np.uint64(18)
_U19 = np.uint64(19)
_U20 = np.uint64(20)
_U21 = np.uint64(21)
_U23 = np.uint64(23)
_U25 = np.uint64(25)
_U27 = np.uint64(27)
_U28 = np.uint64(28)
_U36 = np.uint64(36)
_U37 = np.uint64(37)
_U39 = np.uint64(39)
_U41 = np.uint64(41)
_U43 = np.uint64(43)
_U44 = np.uint64(44)
_U45 = np.uint64(45)
_U46 = np.uint64(46)
_U49 = np.uint64(49)
_U50 = np.uint64(50)
_U54 = np.uint64(54)
_U55 = np.uint64(55)
_U56 = np.uint64(56)
_U58 = np.uint64(58)
_U61 = np.uint64(61)
_U62 = np.uint64(62)
_U63 = np.uint64(63)


@njit(cache=True, nogil=True)
def _permute8(st):
    """Keccak-f[1600] on 8 states at once; ``st`` is flat (200,), lane i of state l at
    8 i + l: constant offsets let LLVM vectorize the loop over the independent states.

    The round body is straight-line code generated from FIPS 202 (θ; ρ offsets and π
    folded into the ``b`` assignments; χ; ι): a lane loop with table lookups was
    several times slower.  Checked against hashlib for every rate and length class.
    """
    for rnd in range(24):
        rc = _RC[rnd]
        for l in range(8):
            a0, a1, a2, a3, a4 = st[0 + l], st[8 + l], st[16 + l], st[24 + l], st[32 + l]
            a5, a6, a7, a8, a9 = st[40 + l], st[48 + l], st[56 + l], st[64 + l], st[72 + l]
            a10, a11, a12, a13, a14 = st[80 + l], st[88 + l], st[96 + l], st[104 + l], st[112 + l]
            a15, a16, a17, a18, a19 = st[120 + l], st[128 + l], st[136 + l], st[144 + l], st[152 + l]
            a20, a21, a22, a23, a24 = st[160 + l], st[168 + l], st[176 + l], st[184 + l], st[192 + l]
            c0 = a0 ^ a5 ^ a10 ^ a15 ^ a20
            c1 = a1 ^ a6 ^ a11 ^ a16 ^ a21
            c2 = a2 ^ a7 ^ a12 ^ a17 ^ a22
            c3 = a3 ^ a8 ^ a13 ^ a18 ^ a23
            c4 = a4 ^ a9 ^ a14 ^ a19 ^ a24
            d0 = c4 ^ ((c1 << _U1) | (c1 >> _U63))
            d1 = c0 ^ ((c2 << _U1) | (c2 >> _U63))
            d2 = c1 ^ ((c3 << _U1) | (c3 >> _U63))
            d3 = c2 ^ ((c4 << _U1) | (c4 >> _U63))
            d4 = c3 ^ ((c0 << _U1) | (c0 >> _U63))
            b0 = (a0 ^ d0)
            b1 = ((a6 ^ d1) << _U44) | ((a6 ^ d1) >> _U20)
            b2 = ((a12 ^ d2) << _U43) | ((a12 ^ d2) >> _U21)
            b3 = ((a18 ^ d3) << _U21) | ((a18 ^ d3) >> _U43)
            b4 = ((a24 ^ d4) << _U14) | ((a24 ^ d4) >> _U50)
            b5 = ((a3 ^ d3) << _U28) | ((a3 ^ d3) >> _U36)
            b6 = ((a9 ^ d4) << _U20) | ((a9 ^ d4) >> _U44)
            b7 = ((a10 ^ d0) << _U3) | ((a10 ^ d0) >> _U61)
            b8 = ((a16 ^ d1) << _U45) | ((a16 ^ d1) >> _U19)
            b9 = ((a22 ^ d2) << _U61) | ((a22 ^ d2) >> _U3)
            b10 = ((a1 ^ d1) << _U1) | ((a1 ^ d1) >> _U63)
            b11 = ((a7 ^ d2) << _U6) | ((a7 ^ d2) >> _U58)
            b12 = ((a13 ^ d3) << _U25) | ((a13 ^ d3) >> _U39)
            b13 = ((a19 ^ d4) << _U8) | ((a19 ^ d4) >> _U56)
            b14 = ((a20 ^ d0) << _U18) | ((a20 ^ d0) >> _U46)
            b15 = ((a4 ^ d4) << _U27) | ((a4 ^ d4) >> _U37)
            b16 = ((a5 ^ d0) << _U36) | ((a5 ^ d0) >> _U28)
            b17 = ((a11 ^ d1) << _U10) | ((a11 ^ d1) >> _U54)
            b18 = ((a17 ^ d2) << _U15) | ((a17 ^ d2) >> _U49)
            b19 = ((a23 ^ d3) << _U56) | ((a23 ^ d3) >> _U8)
            b20 = ((a2 ^ d2) << _U62) | ((a2 ^ d2) >> _U2)
            b21 = ((a8 ^ d3) << _U55) | ((a8 ^ d3) >> _U9)
            b22 = ((a14 ^ d4) << _U39) | ((a14 ^ d4) >> _U25)
            b23 = ((a15 ^ d0) << _U41) | ((a15 ^ d0) >> _U23)
            b24 = ((a21 ^ d1) << _U2) | ((a21 ^ d1) >> _U62)
            st[0 + l] = b0 ^ (~b1 & b2) ^ rc
            st[8 + l] = b1 ^ (~b2 & b3)
            st[16 + l] = b2 ^ (~b3 & b4)
            st[24 + l] = b3 ^ (~b4 & b0)
            st[32 + l] = b4 ^ (~b0 & b1)
            st[40 + l] = b5 ^ (~b6 & b7)
            st[48 + l] = b6 ^ (~b7 & b8)
            st[56 + l] = b7 ^ (~b8 & b9)
            st[64 + l] = b8 ^ (~b9 & b5)
            st[72 + l] = b9 ^ (~b5 & b6)
            st[80 + l] = b10 ^ (~b11 & b12)
            st[88 + l] = b11 ^ (~b12 & b13)
            st[96 + l] = b12 ^ (~b13 & b14)
            st[104 + l] = b13 ^ (~b14 & b10)
            st[112 + l] = b14 ^ (~b10 & b11)
            st[120 + l] = b15 ^ (~b16 & b17)
            st[128 + l] = b16 ^ (~b17 & b18)
            st[136 + l] = b17 ^ (~b18 & b19)
            st[144 + l] = b18 ^ (~b19 & b15)
            st[152 + l] = b19 ^ (~b15 & b16)
            st[160 + l] = b20 ^ (~b21 & b22)
            st[168 + l] = b21 ^ (~b22 & b23)
            st[176 + l] = b22 ^ (~b23 & b24)
            st[184 + l] = b23 ^ (~b24 & b20)
            st[192 + l] = b24 ^ (~b20 & b21)


# ---------------------------------------------------------------- kernels
#
# Rows go through _permute8 eight at a time in lockstep (3-4x the throughput of one
# state at a time here); a last partial group runs with idle slots.


def _padded_words(msgs: np.ndarray, rate: int, ds: int) -> np.ndarray:
    """Rows padded (pad10*1 with the domain byte) to whole blocks, as 64-bit lanes.

    numpy does the byte work (one copy per row); the kernels then absorb whole
    little-endian words.  The lanes are read natively, so this assumes a
    little-endian machine, as Keccak's lane order does.
    """
    n, length = msgs.shape
    nb = length // rate + 1
    buf = np.zeros((n, nb * rate), dtype=np.uint8)
    buf[:, :length] = msgs
    buf[:, length] ^= np.uint8(ds)
    buf[:, nb * rate - 1] ^= np.uint8(0x80)
    return buf.view(np.uint64)


@njit(cache=True, nogil=True)
def _absorb8(st, words, r0, cnt, wpb):
    """Absorb padded rows r0 … r0+cnt−1 (``wpb`` lanes per block) into the 8 states."""
    st[:] = 0
    for b in range(words.shape[1] // wpb):
        base = b * wpb
        for i in range(wpb):
            for l in range(cnt):
                st[8 * i + l] ^= words[r0 + l, base + i]
        _permute8(st)


@njit(cache=True, nogil=True)
def _keccak_words(words, wpb, outwords):
    n = words.shape[0]
    out = np.empty((n, outwords), dtype=np.uint64)
    st = np.zeros(200, dtype=np.uint64)
    for r0 in range(0, n, 8):
        cnt = min(8, n - r0)
        _absorb8(st, words, r0, cnt, wpb)
        pos = 0
        while True:
            take = min(wpb, outwords - pos)
            for i in range(take):
                for l in range(cnt):
                    out[r0 + l, pos + i] = st[8 * i + l]
            pos += take
            if pos >= outwords:
                break
            _permute8(st)
    return out


def keccak_batch(msgs, rate, ds, outlen):
    """Hash every row of ``msgs`` ((n, L) uint8) into ``outlen`` bytes each."""
    words = _padded_words(msgs, rate, ds)
    out = _keccak_words(words, rate // 8, (outlen + 7) // 8)
    return np.ascontiguousarray(out.view(np.uint8)[:, :outlen])


@njit(cache=True, nogil=True)
def _extract8(st, rate, blk):
    """The first ``rate`` bytes of each state into blk[l*rate : (l+1)*rate]."""
    words = rate // 8
    bw = blk.view(np.uint64)
    for l in range(8):
        for i in range(words):
            bw[l * words + i] = st[8 * i + l]


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


def kernel_specs() -> list:
    """The kernels :func:`keccak_batch` calls, for :func:`pqmpc.primitives.preload.preload`."""
    from .preload import I64, arr

    return [(_keccak_words, (arr("uint64", 2), I64, I64))]
