"""Table-based AES in pure numba: the in-kernel fallback where numba cannot issue AES-NI.

Not constant time: every round indexes T-tables with ``state ⊕ round key``,
so cache timing can reveal key and data bytes to a co-located attacker.
This package itself never runs a secret key or secret block through it:
every bulk function (:mod:`.aes_kernels` ECB, :mod:`.hashing`, :mod:`.ggm`,
:mod:`.prg`) goes to OpenSSL when :data:`.cpu.HAVE_AESNI` is false. The table
AES stays only because njit kernels in other packages call the bound
building blocks (``aes_encrypt``, ``aes128_encrypt``, ``aes256_expand``, ...)
inside their own loops and need *something* that compiles everywhere;
importing :mod:`.aes_kernels` without AES-NI warns once (RuntimeWarning).
Those callers must take their OpenSSL-backed bulk route for secret keys or
data on such CPUs (public key and public data, e.g. cuckoo hashing under a
coin-tossed key, are fine here).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .aes import _sbox
from .llvm_ir import bxor

__all__ = ["aes128_encrypt_soft", "aes256_encrypt_soft", "aes256_expand_soft", "aesenc_soft", "aesenclast_soft",
           "prefix_xor"]

_U32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


@njit
def prefix_xor(a):
    """(w0, w1 | w2, w3) -> (w0, w0^w1 | w0^w1^w2, w0^w1^w2^w3): the word chain of the key schedule."""
    lo = a[0] ^ (a[0] << _S32)
    hi = a[1] ^ (a[1] << _S32)
    c = lo >> _S32
    return (lo, hi ^ c ^ (c << _S32))


_prefix_xor = prefix_xor


def _make_tables():
    s = _sbox().astype(np.uint32)
    x2 = ((s << 1) ^ np.where(s & 0x80, 0x1B, 0)) & 0xFF
    x3 = x2 ^ s
    # Column contribution of a row-0 byte after SubBytes and MixColumns: (2s, s, s, 3s), little-endian.
    te0 = x2 | (s << 8) | (s << 16) | (x3 << 24)
    def rot(v, r):
        return ((v << r) | (v >> (32 - r))) & 0xFFFFFFFF

    te = np.stack([te0, rot(te0, 8), rot(te0, 16), rot(te0, 24)]).astype(np.uint64)
    return te, s.astype(np.uint64)


_TE, _SB = _make_tables()
_FF = np.uint64(0xFF)


@njit
def _cols(b):
    return b[0] & _U32, b[0] >> _S32, b[1] & _U32, b[1] >> _S32


@njit
def _tround(c0, c1, c2, c3, k):
    # Row r of output column c comes from input column c + r (ShiftRows).
    te = _TE
    e0 = (te[0, c0 & _FF] ^ te[1, (c1 >> np.uint64(8)) & _FF] ^ te[2, (c2 >> np.uint64(16)) & _FF]
          ^ te[3, c3 >> np.uint64(24)])
    e1 = (te[0, c1 & _FF] ^ te[1, (c2 >> np.uint64(8)) & _FF] ^ te[2, (c3 >> np.uint64(16)) & _FF]
          ^ te[3, c0 >> np.uint64(24)])
    e2 = (te[0, c2 & _FF] ^ te[1, (c3 >> np.uint64(8)) & _FF] ^ te[2, (c0 >> np.uint64(16)) & _FF]
          ^ te[3, c1 >> np.uint64(24)])
    e3 = (te[0, c3 & _FF] ^ te[1, (c0 >> np.uint64(8)) & _FF] ^ te[2, (c1 >> np.uint64(16)) & _FF]
          ^ te[3, c2 >> np.uint64(24)])
    return e0 ^ (k[0] & _U32), e1 ^ (k[0] >> _S32), e2 ^ (k[1] & _U32), e3 ^ (k[1] >> _S32)


@njit
def _tlast_col(a, b, c, d):
    sb = _SB
    return (sb[a & _FF] | (sb[(b >> np.uint64(8)) & _FF] << np.uint64(8))
            | (sb[(c >> np.uint64(16)) & _FF] << np.uint64(16)) | (sb[d >> np.uint64(24)] << np.uint64(24)))


@njit
def aesenc_soft(b, k):
    """One full AES round (SubBytes, ShiftRows, MixColumns, AddRoundKey) = ``aesenc`` without the instruction."""
    c0, c1, c2, c3 = _cols(b)
    e0, e1, e2, e3 = _tround(c0, c1, c2, c3, k)
    return (e0 | (e1 << _S32), e2 | (e3 << _S32))


@njit
def aesenclast_soft(b, k):
    c0, c1, c2, c3 = _cols(b)
    lo = _tlast_col(c0, c1, c2, c3) | (_tlast_col(c1, c2, c3, c0) << _S32)
    hi = _tlast_col(c2, c3, c0, c1) | (_tlast_col(c3, c0, c1, c2) << _S32)
    return (lo ^ k[0], hi ^ k[1])


@njit
def aes128_encrypt_soft(ks, b):
    b = bxor(b, ks[0])
    b = aesenc_soft(b, ks[1])
    b = aesenc_soft(b, ks[2])
    b = aesenc_soft(b, ks[3])
    b = aesenc_soft(b, ks[4])
    b = aesenc_soft(b, ks[5])
    b = aesenc_soft(b, ks[6])
    b = aesenc_soft(b, ks[7])
    b = aesenc_soft(b, ks[8])
    b = aesenc_soft(b, ks[9])
    return aesenclast_soft(b, ks[10])


@njit
def aes256_encrypt_soft(ks, b):
    b = bxor(b, ks[0])
    b = aesenc_soft(b, ks[1])
    b = aesenc_soft(b, ks[2])
    b = aesenc_soft(b, ks[3])
    b = aesenc_soft(b, ks[4])
    b = aesenc_soft(b, ks[5])
    b = aesenc_soft(b, ks[6])
    b = aesenc_soft(b, ks[7])
    b = aesenc_soft(b, ks[8])
    b = aesenc_soft(b, ks[9])
    b = aesenc_soft(b, ks[10])
    b = aesenc_soft(b, ks[11])
    b = aesenc_soft(b, ks[12])
    b = aesenc_soft(b, ks[13])
    return aesenclast_soft(b, ks[14])


@njit
def _subword(w):
    sb = _SB
    return (sb[w & _FF] | (sb[(w >> np.uint64(8)) & _FF] << np.uint64(8))
            | (sb[(w >> np.uint64(16)) & _FF] << np.uint64(16)) | (sb[(w >> np.uint64(24)) & _FF] << np.uint64(24)))


@njit
def _ks256_soft(a, b, rcon):
    w = b[1] >> _S32
    t = _subword(((w >> np.uint64(8)) | (w << np.uint64(24))) & _U32) ^ np.uint64(rcon)
    return bxor(_prefix_xor(a), (t | (t << _S32), t | (t << _S32)))


@njit
def _ks256_soft2(a, b):
    t = _subword(a[1] >> _S32)
    return bxor(_prefix_xor(b), (t | (t << _S32), t | (t << _S32)))


@njit
def aes256_expand_soft(k0, k1):
    """AES-256 key schedule from the key's two halves, without intrinsics: 15-tuple."""
    k2 = _ks256_soft(k0, k1, 0x01)
    k3 = _ks256_soft2(k2, k1)
    k4 = _ks256_soft(k2, k3, 0x02)
    k5 = _ks256_soft2(k4, k3)
    k6 = _ks256_soft(k4, k5, 0x04)
    k7 = _ks256_soft2(k6, k5)
    k8 = _ks256_soft(k6, k7, 0x08)
    k9 = _ks256_soft2(k8, k7)
    k10 = _ks256_soft(k8, k9, 0x10)
    k11 = _ks256_soft2(k10, k9)
    k12 = _ks256_soft(k10, k11, 0x20)
    k13 = _ks256_soft2(k12, k11)
    k14 = _ks256_soft(k12, k13, 0x40)
    return (k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, k13, k14)

