"""The local linear code of Ferret's primal LPN: ``y = A·x`` with ``d = 10`` ones per row.

Row ``i`` of the public ``n × k`` matrix ``A`` has ones at ten positions in
``[0, k)`` drawn from a fixed-key AES counter-mode stream under a public
16-byte seed both parties agree on at setup: outputs ``2p`` and ``2p + 1``
take the twenty 32-bit words of ``AES_seed(5p), …, AES_seed(5p + 4)`` (counter
as a little-endian 128-bit block), the first ten for ``2p``, masked to
``k − 1`` (``k`` is a power of two, so the positions are uniform). Rows are
addressed by their global index, so any slice of a round can be encoded on
its own, in any order, by either party.

Ferret needs the encoding on both sides of a correlated OT: the sender
computes ``z = A·x_s ⊕ v``, the receiver ``z' = A·x_r ⊕ w`` and its choice bits
``A·u ⊕ e``; the kernels here add ``A·x`` into a buffer that already holds
the SPCOT output, so ``v``/``w`` never needs a second copy. Security: the
output is pseudo-random under the (regular-noise) LPN assumption for a local
code, which is believed to resist quantum computers too; Python cannot
promise constant time (the gathers are data-independent, the data is not).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ...errors import ParameterError
from ...primitives import aesni
from ...primitives.aes import aes_ecb
from .ferret_params import LPN_D

_aes = aesni.aes128_encrypt
_load = aesni.aes128_load_keys
_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_Z = np.uint64(0)


@njit(inline="always")
def _words(b, mask):
    return (b[0] & mask, (b[0] >> _S32) & mask, b[1] & mask, (b[1] >> _S32) & mask)


@njit(inline="always")
def _pair_indices(ks, p, mask):
    c = np.uint64(5) * np.uint64(p)
    b0 = _aes(ks, (c, _Z))
    b1 = _aes(ks, (c + np.uint64(1), _Z))
    b2 = _aes(ks, (c + np.uint64(2), _Z))
    b3 = _aes(ks, (c + np.uint64(3), _Z))
    b4 = _aes(ks, (c + np.uint64(4), _Z))
    return _words(b0, mask) + _words(b1, mask) + _words(b2, mask) + _words(b3, mask) + _words(b4, mask)


@njit(cache=True)
def _encode_sender(rk, first_pair, mask, x, out):
    ks = _load(rk)
    m = np.uint64(mask)
    for p in range(out.shape[0] // 2):
        ix = _pair_indices(ks, first_pair + p, m)
        i = 2 * p
        a0 = out[i, 0] ^ x[ix[0], 0] ^ x[ix[1], 0] ^ x[ix[2], 0] ^ x[ix[3], 0] ^ x[ix[4], 0]
        a1 = out[i, 1] ^ x[ix[0], 1] ^ x[ix[1], 1] ^ x[ix[2], 1] ^ x[ix[3], 1] ^ x[ix[4], 1]
        a0 ^= x[ix[5], 0] ^ x[ix[6], 0] ^ x[ix[7], 0] ^ x[ix[8], 0] ^ x[ix[9], 0]
        a1 ^= x[ix[5], 1] ^ x[ix[6], 1] ^ x[ix[7], 1] ^ x[ix[8], 1] ^ x[ix[9], 1]
        out[i, 0] = a0
        out[i, 1] = a1
        b0 = out[i + 1, 0] ^ x[ix[10], 0] ^ x[ix[11], 0] ^ x[ix[12], 0] ^ x[ix[13], 0] ^ x[ix[14], 0]
        b1 = out[i + 1, 1] ^ x[ix[10], 1] ^ x[ix[11], 1] ^ x[ix[12], 1] ^ x[ix[13], 1] ^ x[ix[14], 1]
        b0 ^= x[ix[15], 0] ^ x[ix[16], 0] ^ x[ix[17], 0] ^ x[ix[18], 0] ^ x[ix[19], 0]
        b1 ^= x[ix[15], 1] ^ x[ix[16], 1] ^ x[ix[17], 1] ^ x[ix[18], 1] ^ x[ix[19], 1]
        out[i + 1, 0] = b0
        out[i + 1, 1] = b1


@njit(cache=True)
def _encode_receiver(rk, first_pair, mask, x, u, out, bits):
    ks = _load(rk)
    m = np.uint64(mask)
    for p in range(out.shape[0] // 2):
        ix = _pair_indices(ks, first_pair + p, m)
        i = 2 * p
        a0 = out[i, 0] ^ x[ix[0], 0] ^ x[ix[1], 0] ^ x[ix[2], 0] ^ x[ix[3], 0] ^ x[ix[4], 0]
        a1 = out[i, 1] ^ x[ix[0], 1] ^ x[ix[1], 1] ^ x[ix[2], 1] ^ x[ix[3], 1] ^ x[ix[4], 1]
        a0 ^= x[ix[5], 0] ^ x[ix[6], 0] ^ x[ix[7], 0] ^ x[ix[8], 0] ^ x[ix[9], 0]
        a1 ^= x[ix[5], 1] ^ x[ix[6], 1] ^ x[ix[7], 1] ^ x[ix[8], 1] ^ x[ix[9], 1]
        out[i, 0] = a0
        out[i, 1] = a1
        bits[i] ^= (u[ix[0]] ^ u[ix[1]] ^ u[ix[2]] ^ u[ix[3]] ^ u[ix[4]]
                    ^ u[ix[5]] ^ u[ix[6]] ^ u[ix[7]] ^ u[ix[8]] ^ u[ix[9]])
        b0 = out[i + 1, 0] ^ x[ix[10], 0] ^ x[ix[11], 0] ^ x[ix[12], 0] ^ x[ix[13], 0] ^ x[ix[14], 0]
        b1 = out[i + 1, 1] ^ x[ix[10], 1] ^ x[ix[11], 1] ^ x[ix[12], 1] ^ x[ix[13], 1] ^ x[ix[14], 1]
        b0 ^= x[ix[15], 0] ^ x[ix[16], 0] ^ x[ix[17], 0] ^ x[ix[18], 0] ^ x[ix[19], 0]
        b1 ^= x[ix[15], 1] ^ x[ix[16], 1] ^ x[ix[17], 1] ^ x[ix[18], 1] ^ x[ix[19], 1]
        out[i + 1, 0] = b0
        out[i + 1, 1] = b1
        bits[i + 1] ^= (u[ix[10]] ^ u[ix[11]] ^ u[ix[12]] ^ u[ix[13]] ^ u[ix[14]]
                        ^ u[ix[15]] ^ u[ix[16]] ^ u[ix[17]] ^ u[ix[18]] ^ u[ix[19]])


class LocalCode:
    """The public ``n × k`` matrix ``A`` (``d = 10`` ones per row) given by a 16-byte seed."""

    def __init__(self, seed: bytes, k: int):
        seed = bytes(seed)
        if len(seed) != 16:
            raise ParameterError(f"LPN seed must be 16 bytes, got {len(seed)}")
        if k <= 0 or k & (k - 1) or k > 1 << 30:
            raise ParameterError(f"k must be a power of two up to 2^30, got {k}")
        self.seed = seed
        self.k = k
        self._rk = aesni.round_keys(seed)

    def _check(self, start: int, out, x, name):
        if start < 0 or start % 2:
            raise ParameterError(f"{name}: the first row must be even and >= 0, got {start}")
        if out.shape[0] % 2:
            raise ParameterError(f"{name}: the number of rows must be even, got {out.shape[0]}")
        if x.shape != (self.k, 16) or x.dtype != np.uint8 or not x.flags.c_contiguous:
            raise ParameterError(f"{name}: x must be a C-contiguous ({self.k}, 16) uint8 array")
        if out.ndim != 2 or out.shape[1] != 16 or out.dtype != np.uint8 or not out.flags.c_contiguous:
            raise ParameterError(f"{name}: out must be a C-contiguous (m, 16) uint8 array")

    def add_encoded(self, start: int, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out[i] ^= (A·x)[start + i]`` for every row of ``out`` (blocks), in place."""
        self._check(start, out, x, "LocalCode.add_encoded")
        _encode_sender(self._rk, start // 2, self.k - 1, x.view(np.uint64), out.view(np.uint64))
        return out

    def add_encoded_with_bits(self, start: int, x: np.ndarray, u: np.ndarray, out: np.ndarray,
                              bits: np.ndarray) -> None:
        """As :meth:`add_encoded`, and ``bits[i] ^= (A·u)[start + i]`` with the same rows."""
        self._check(start, out, x, "LocalCode.add_encoded_with_bits")
        if u.shape != (self.k,) or u.dtype != np.uint8 or bits.shape != (out.shape[0],) or bits.dtype != np.uint8:
            raise ParameterError("u must be (k,) uint8 and bits (m,) uint8")
        _encode_receiver(self._rk, start // 2, self.k - 1, x.view(np.uint64), u, out.view(np.uint64), bits)

    def row_positions(self, start: int, m: int) -> np.ndarray:
        """The ``d`` positions of rows ``start … start + m − 1`` as ``(m, d)`` int64 (reference path).

        Computed with one bulk OpenSSL call, independently of the kernels, so
        tests can check those against a plain matrix product.
        """
        if start < 0 or start % 2 or m % 2:
            raise ParameterError("row_positions needs an even start and an even count")
        pairs = m // 2
        ctr = np.zeros((5 * pairs, 2), dtype=np.uint64)
        ctr[:, 0] = np.arange(5 * (start // 2), 5 * (start // 2 + pairs), dtype=np.uint64)
        words = aes_ecb(self.seed, ctr.view(np.uint8)).view(np.uint32).reshape(pairs, 2 * LPN_D)
        return (words & np.uint32(self.k - 1)).astype(np.int64).reshape(m, LPN_D)


__all__ = ["LocalCode"]
