"""Stash-less cuckoo hashing with three hash functions, and its parameters.

The PSI receiver places each of its ``n`` distinct items in one of
``m ≈ e·n`` bins, at one of three positions ``h_0(x), h_1(x), h_2(x)``; the
sender later evaluates every item at all three positions ("simple hashing"),
so the two meet in exactly one bin when the item is shared.

Table size. Without a stash a failed insertion can only be reported, and
whether it happens depends on the receiver's set, so it must be rare: we ask
for failure probability at most ``2^-λ`` with ``λ = 40``. The expansion
factor ``e`` comes from the experimentally fitted relation of Pinkas,
Schneider, Tkachenko and Yanai, "Efficient Circuit-Based PSI with Linear
Communication" (EUROCRYPT 2019, Sec. 5), ``λ ≈ a(n)·e + b(n)`` for three hash
functions and no stash, with ``a → 123.5`` and ``b → -130 - log2 n`` for
large ``n`` and smooth corrections below ``n ≈ 2^12``; the same constants are
used by the cryptoTools library (``CuckooIndex::selectParams``). That gives
``e ≈ 1.48`` at ``n = 2^12`` and ``e ≈ 1.54`` at ``n = 2^20`` — larger than the
1.2–1.27 often quoted for tables *with* a stash, and the price of never
needing one. The tests check the fit empirically at small ``n`` and small
``λ``, where failures are frequent enough to count.

Hash positions come from AES-128 under a session key agreed by both parties:
three 64-bit lanes (both of ``AES_k(id)``, the low one of
``AES_k(id ⊕ 1)``), each reduced to ``[0, m)`` by ``(lane · m) >> 64``.
The reduction gives every bin ``⌊2^64/m⌋`` or ``⌈2^64/m⌉`` lane values, a
relative bias below ``m / 2^64 < 2^-33``, so the positions are as good as
uniform for the failure bound above. (32-bit lanes would be biased by up to
``m / 2^32``: near the item cap, some bins would be 50% likelier than others.)
Without AES-NI the encryptions go through OpenSSL rather than numba's table
AES, whose lookups would be indexed by the (secret) ids.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..errors import ParameterError, PqmpcError
from ..primitives import aes, aes_kernels

NUM_HASHES = 3
DEFAULT_MAX_KICKS = 1000


class CuckooError(PqmpcError):
    """Insertion failed (probability below 2^-λ with the default table size)."""


def expansion(n: int, lam: int = 40) -> float:
    """Bins per item for stash-less 3-way cuckoo hashing with failure ≤ 2^-lam."""
    if n <= 0:
        return 0.0
    nn = math.log2(n)
    a = 123.5 / 2 * (1 + math.erf((nn - 6.3) / (2.3 * math.sqrt(2))))
    b = -130.0 / 2 * (1 + math.erf((nn - 6.45) / (2.18 * math.sqrt(2)))) - nn
    return (lam - b) / a


def num_bins(n: int, lam: int = 40) -> int:
    """Table size for ``n`` items; at least ``n`` (and never more than 2^31)."""
    if n <= 0:
        return 0
    m = max(n, math.ceil(expansion(n, lam) * n))
    if m >= 1 << 31:
        raise CuckooError(f"{n} items need {m} bins, more than this implementation supports (2^31)")
    return m


@njit(cache=True, nogil=True)
def mulhi_u32(a, m):
    """``(a · m) >> 64`` for a 64-bit ``a`` and ``m < 2^32``, from two 32×32-bit halves.

    ``a·m = a_hi·m·2^32 + a_lo·m``; neither product nor the sum below exceeds
    ``(2^32 − 1)·2^32``, so nothing wraps.
    """
    mask = np.uint64(0xFFFFFFFF)
    s32 = np.uint64(32)
    return ((a >> s32) * m + (((a & mask) * m) >> s32)) >> s32


@njit(cache=True, nogil=True)
def _positions_kernel(rk, ids, m, out):
    ks = aes_kernels.aes128_load_keys(rk)
    mm = np.uint64(m)
    one = np.uint64(1)
    for i in range(ids.shape[0]):
        # Two independent encryptions (the CPU overlaps them): three 64-bit lanes.
        b = aes_kernels.aes128_encrypt(ks, (ids[i, 0], ids[i, 1]))
        c = aes_kernels.aes128_encrypt(ks, (ids[i, 0] ^ one, ids[i, 1]))
        out[i, 0] = np.int64(mulhi_u32(b[0], mm))
        out[i, 1] = np.int64(mulhi_u32(b[1], mm))
        out[i, 2] = np.int64(mulhi_u32(c[0], mm))


@njit(cache=True, nogil=True)
def _reduce_kernel(b, c, m, out):
    mm = np.uint64(m)
    for i in range(b.shape[0]):
        out[i, 0] = np.int64(mulhi_u32(b[i, 0], mm))
        out[i, 1] = np.int64(mulhi_u32(b[i, 1], mm))
        out[i, 2] = np.int64(mulhi_u32(c[i, 0], mm))


def positions(ids: np.ndarray, m: int, key: bytes, backend: str = "auto") -> np.ndarray:
    """``(n, 3)`` int64: the three candidate bins of every 16-byte id.

    ``backend`` as for :func:`.keys.item_ids`: without AES-NI the encryptions
    go through OpenSSL, never a table AES indexed by the (secret) ids.
    """
    if backend not in ("auto", "kernel", "openssl"):
        raise ParameterError(f"backend must be 'auto', 'kernel' or 'openssl', not {backend!r}")
    n = ids.shape[0]
    out = np.empty((n, NUM_HASHES), dtype=np.int64)
    if n:
        if not 0 < m < 1 << 32:
            raise CuckooError(f"cannot hash items into a table of {m} bins")
        ids = np.ascontiguousarray(ids, dtype=np.uint8)
        if backend == "openssl" or (backend == "auto" and aes_kernels.TABLE_AES_ACTIVE):
            tweaked = ids.copy()
            tweaked[:, 0] ^= 1
            _reduce_kernel(aes.aes_ecb(key, ids).view(np.uint64), aes.aes_ecb(key, tweaked).view(np.uint64),
                           m, out)
        else:
            _positions_kernel(aes_kernels.round_keys(key), ids.view(np.uint64), m, out)
    return out


@njit(cache=True, nogil=True)
def _insert_kernel(pos, table, hidx, max_kicks):
    for i in range(pos.shape[0]):
        cur = i
        h = 0
        placed = False
        for _ in range(max_kicks):
            # A free candidate first: this look-ahead cuts evictions (and cache
            # misses) by ~3x against evicting blindly.
            for k in range(3):
                b = pos[cur, k]
                if table[b] < 0:
                    table[b] = cur
                    hidx[b] = k
                    placed = True
                    break
            if placed:
                break
            # All three taken: evict, and send the victim on to its next position.
            b = pos[cur, h]
            occ = table[b]
            occ_h = hidx[b]
            table[b] = cur
            hidx[b] = h
            cur = occ
            h = (occ_h + 1) % 3
        if not placed:
            return cur
    return -1


def insert(pos: np.ndarray, m: int, max_kicks: int = DEFAULT_MAX_KICKS) -> tuple[np.ndarray, np.ndarray]:
    """Cuckoo-insert items with candidate bins ``pos`` into ``m`` bins.

    Returns ``(table, hidx)``: ``table[b]`` is the item in bin ``b`` (-1 when
    empty) and ``hidx[b]`` which of its hash functions put it there. Raises
    :class:`CuckooError` when some item finds no place within ``max_kicks``
    evictions.
    """
    table = np.full(m, -1, dtype=np.int64)
    hidx = np.zeros(m, dtype=np.int8)
    if pos.shape[0]:
        failed = _insert_kernel(np.ascontiguousarray(pos, dtype=np.int64), table, hidx, max_kicks)
        if failed >= 0:
            raise CuckooError(f"cuckoo hashing of {pos.shape[0]} items into {m} bins failed "
                              f"(an event of probability below 2^-40 for the default table size)")
    return table, hidx
