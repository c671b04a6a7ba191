"""Oblivious key-value store of Raghuraman–Rindal (CCS 2022, ePrint 2022/320): binned sparse + dense.

An OKVS maps n distinct 128-bit keys ``k_i`` and values ``v_i ∈ GF(2^128)``
to a table ``P`` of ``size`` blocks with ``decode(P, k_i) = v_i``; for other
keys the decoded values are unrelated. RR22 ("RB-OKVS"/"Paxos" with a dense
part, libOTe's volePSI ``Baxos``):

* **Rows.** A key-dependent pseudorandom function (AES keyed by the public
  per-table ``seed``) gives each key a bin, ``w = 3`` distinct sparse columns
  inside the bin and a dense value ``d ∈ GF(2^128)``. Decoding is
  ``Σ_{j∈S(k)} P_bin[j] + Σ_{l<g} d^{l+1}·D_bin[l]``: three lookups and a
  degree-g polynomial in ``d`` (Horner).
* **Bins.** Keys fall into ``B = ⌈n / bin_size⌉`` bins; every bin has room
  for ``c`` keys, ``c`` the smallest value with
  ``B·Pr[Binomial(n, 1/B) > c] ≤ 2^-ssp`` (computed exactly here).
* **Per bin**, ``m = ⌈e·c⌉`` sparse and ``g`` dense columns with the
  parameters of the RR22 reference implementation for w = 3 (an *empirical
  fit* to simulated failure rates, not a proof): ``e`` from
  ``log2(λ/e-slope) = 0.555·log2(c) + 0.093·L³ − 1.01·L² + 2.925·L − 0.133``
  (``L = log2 w``), ``b = −9.2 − slope·1.223``, ``e = (ssp − b)/slope`` and
  ``g = ⌊ssp / ((w − 2)·log2(e·c))⌋``. That is ``e ≈ 1.27`` at
  ``c ≈ 2^14``, two dense columns, failure ≤ 2^-40 per the fit.
* **Encoding** peels the 3-hypergraph (a column of degree 1 fixes its row's
  value); when peeling stalls, the column of least positive degree keeps one
  row and sends the others to the *gap* (at most g rows). The sparse part is
  then affine in the dense unknowns ``D``; the gap rows give a ≤ g × g
  system over GF(2^128), solved by Gaussian elimination, and back
  substitution fills the rest. Unused columns are zero.

A failure (a bin over capacity, more than g gap rows, or a singular gap
system) raises :class:`OkvsFailure`; :func:`okvs_encode_random_seed` then
draws a fresh seed (the encoder chooses the seed, the size depends on n
only). Duplicate keys are refused with :class:`~pqmpc.errors.ParameterError`.

Encoding and decoding run in numba over all keys, bin by bin (the keys are
counting-sorted by bin so each bin's table stays in cache).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import njit

from ..errors import ParameterError, PqmpcError
from ..primitives.aes import openssl_ecb
from ..primitives.buffers import ScratchPool
from ..primitives.gf128 import gf128_mul_block

WEIGHT = 3
SSP = 40
DEFAULT_BIN_SIZE = 1 << 14
MAX_ATTEMPTS = 16
_TWEAKS = (0x01, 0x02, 0x03)


class OkvsFailure(PqmpcError):
    """The keys could not be encoded under this seed (probability ≤ 2^-ssp); try another seed."""


@functools.lru_cache(maxsize=256)
def bin_capacity(n: int, bins: int, ssp: int) -> int:
    """Smallest c with ``bins · Pr[Binomial(n, 1/bins) > c] ≤ 2^-ssp``."""
    if bins <= 1:
        return n
    p = 1.0 / bins
    lp, lq = math.log(p), math.log1p(-p)
    mean = n * p
    hi = min(n, int(mean + 40 * math.sqrt(mean) + 200))
    ln_n = math.lgamma(n + 1)
    target = -ssp * math.log(2) - math.log(bins)
    tail = 0.0
    for c in range(hi, -1, -1):
        # tail = Pr[X > c]; add pmf(c + 1) going down
        j = c + 1
        if j <= n:
            tail += math.exp(ln_n - math.lgamma(j + 1) - math.lgamma(n - j + 1) + j * lp + (n - j) * lq)
        if tail > 0 and math.log(tail) > target:
            return min(n, c + 1)
    return 0


def _paxos_shape(c: int, ssp: int) -> tuple[int, int]:
    """(sparse, dense) columns for a bin of c keys (RR22 reference fit, w = 3)."""
    c = max(c, 1)
    logn = math.log2(c)
    lw = math.log2(WEIGHT)
    slope = 2 ** (0.555 * logn + 0.093 * lw ** 3 - 1.01 * lw ** 2 + 2.925 * lw - 0.133)
    b = -9.2 - slope * 1.223
    e = (ssp - b) / slope
    g = int(math.floor(ssp / ((WEIGHT - 2) * math.log2(e * c))))
    return max(int(math.ceil(e * c)), WEIGHT + 1), max(g, 1)


class OkvsParams:
    """The table shape for n keys; both parties compute it from n alone."""

    def __init__(self, n: int, ssp: int = SSP, bin_size: int = DEFAULT_BIN_SIZE):
        if not isinstance(n, int) or n < 0:
            raise ParameterError(f"OKVS size must be a non-negative integer, got {n!r}")
        if not 1 << 6 <= bin_size <= 1 << 20:
            raise ParameterError(f"OKVS bin size must be in [2^6, 2^20], got {bin_size}")
        self.n, self.ssp, self.bin_size = n, ssp, bin_size
        self.bins = max(1, -(-n // bin_size))
        self.capacity = bin_capacity(n, self.bins, ssp) if self.bins > 1 else n
        self.sparse, self.dense = _paxos_shape(self.capacity, ssp)
        self.width = self.sparse + self.dense
        self.size = self.bins * self.width if n else 0

    def as_dict(self) -> dict:
        return {"n": self.n, "ssp": self.ssp, "weight": WEIGHT, "bins": self.bins, "bin_capacity": self.capacity,
                "sparse": self.sparse, "dense": self.dense, "size": self.size}


#: Keys hashed per AES call: the tweaked copies and hashes (3 × 16 bytes a key) stay in cache and
#: are reused chunk after chunk instead of being arrays as long as the set.
HASH_CHUNK = 1 << 14


def _hash_rows(keys: np.ndarray, seed: bytes, p: OkvsParams, bins: np.ndarray, cols=None, dense=None) -> None:
    """Fill ``bins`` (and, given ``cols`` and ``dense``, the three local columns and the dense value)
    for each key, from AES keyed by ``seed`` on the key with tweak i in its last byte (xor the input)."""
    n = keys.shape[0]
    nt = 1 if cols is None else 3
    x_buf = np.empty((nt * min(n, HASH_CHUNK), 16), dtype=np.uint8)
    h_buf = np.empty_like(x_buf)
    for a in range(0, n, HASH_CHUNK):
        b = min(n, a + HASH_CHUNK)
        c = b - a
        x = x_buf[:nt * c].reshape(nt, c, 16)
        x[:] = keys[a:b]
        for i in range(nt):
            x[i, :, 15] ^= _TWEAKS[i]
        h = openssl_ecb(seed, x_buf[:nt * c], h_buf[:nt * c]).reshape(nt, c, 16)   # one AES call a chunk
        h ^= x
        w = h.view(np.uint64).reshape(nt, c, 2)
        if cols is None:
            _bins(w[0], p.bins, bins[a:b])
        else:
            _cols(w, p.sparse, p.bins, cols[a:b], bins[a:b])
            dense[a:b] = w[2]


@njit(cache=True, nogil=True)
def _bins(h, nbins, bins):
    for i in range(h.shape[0]):
        bins[i] = np.int64(((h[i, 0] >> np.uint64(32)) * np.uint64(nbins)) >> np.uint64(32))


@njit(cache=True, nogil=True)
def _cols(w, m, nbins, cols, bins):
    for i in range(w.shape[1]):
        bins[i] = np.int64(((w[0, i, 0] >> np.uint64(32)) * np.uint64(nbins)) >> np.uint64(32))
        c0 = np.int64(w[0, i, 1] % np.uint64(m))
        c1 = np.int64(w[1, i, 0] % np.uint64(m - 1))
        c2 = np.int64(w[1, i, 1] % np.uint64(m - 2))
        if c1 >= c0:
            c1 += 1
        lo, hi = (c0, c1) if c0 < c1 else (c1, c0)
        if c2 >= lo:
            c2 += 1
        if c2 >= hi:
            c2 += 1
        cols[i, 0] = c0
        cols[i, 1] = c1
        cols[i, 2] = c2


@njit(cache=True, nogil=True)
def _group(bins, nbins, keys, sorted_keys, order):
    """Counting sort: start offsets per bin, the item ``order``, and ``sorted_keys = keys[order]``.

    The keys are scattered here (read in order, written to one sequential stream per bin) rather
    than gathered with numpy's ``keys[order]``, which cost ~55 ns a key on (n, 16) uint8 rows —
    more than the rest of the rows' hashing — and reads a random row per key."""
    start = np.zeros(nbins + 1, dtype=np.int64)
    for b in bins:
        start[b + 1] += 1
    for b in range(nbins):
        start[b + 1] += start[b]
    fill = start[:-1].copy()
    for i in range(bins.shape[0]):
        f = fill[bins[i]]
        order[f] = i
        sorted_keys[f, 0] = keys[i, 0]
        sorted_keys[f, 1] = keys[i, 1]
        fill[bins[i]] = f + 1
    return start


@njit(inline="always")
def _gmul(a0, a1, b0, b1):
    return gf128_mul_block((a0, a1), (b0, b1))


@njit(cache=True)
def _ginv(a0, a1):
    # a^(2^128 - 2) = Π_{i=1..127} a^(2^i)
    s = (a0, a1)
    r = (np.uint64(1), np.uint64(0))
    for _ in range(127):
        s = gf128_mul_block(s, s)
        r = gf128_mul_block(r, s)
    return r


@njit(cache=True, nogil=True)
def _remove(r, cols, deg, xr, alive, stack, sp):
    alive[r] = 0
    for t in range(3):
        j = cols[r, t]
        deg[j] -= 1
        xr[j] ^= r
        if deg[j] == 1:
            stack[sp] = j
            sp += 1
    return sp


@njit(cache=True, nogil=True)
def _peel(cols, m, g, order_r, order_c, gap):
    """Triangulate; returns (pivots, gap rows) or (-1, -1) if more than g rows land in the gap."""
    nb = cols.shape[0]
    deg = np.zeros(m, dtype=np.int64)
    xr = np.zeros(m, dtype=np.int64)
    for r in range(nb):
        for t in range(3):
            deg[cols[r, t]] += 1
            xr[cols[r, t]] ^= r
    cstart = np.zeros(m + 1, dtype=np.int64)
    for c in range(m):
        cstart[c + 1] = cstart[c] + deg[c]
    fill = cstart[:-1].copy()
    adj = np.empty(3 * nb, dtype=np.int64)
    for r in range(nb):
        for t in range(3):
            c = cols[r, t]
            adj[fill[c]] = r
            fill[c] += 1
    alive = np.ones(nb, dtype=np.uint8)
    stack = np.empty(3 * nb + m, dtype=np.int64)
    sp = 0
    for c in range(m):
        if deg[c] == 1:
            stack[sp] = c
            sp += 1
    npiv = 0
    ngap = 0
    left = nb
    while left > 0:
        while sp > 0:
            sp -= 1
            c = stack[sp]
            if deg[c] != 1:
                continue
            r = xr[c]
            order_r[npiv] = r
            order_c[npiv] = c
            npiv += 1
            sp = _remove(r, cols, deg, xr, alive, stack, sp)
            left -= 1
        if left == 0:
            break
        best = -1
        bd = nb + 1
        for c in range(m):
            if 0 < deg[c] < bd:
                bd = deg[c]
                best = c
        first = True
        for a in range(cstart[best], cstart[best + 1]):
            r = adj[a]
            if alive[r] == 0:
                continue
            if first:
                order_r[npiv] = r
                order_c[npiv] = best
                npiv += 1
                first = False
            else:
                if ngap >= g:
                    return -1, -1
                gap[ngap] = r
                ngap += 1
            sp = _remove(r, cols, deg, xr, alive, stack, sp)
            left -= 1
    return npiv, ngap


@njit(cache=True, nogil=True)
def _backsub(order_r, order_c, npiv, cols, rhs, P):
    for i in range(npiv - 1, -1, -1):
        r = order_r[i]
        c = order_c[i]
        a, b, d = cols[r, 0], cols[r, 1], cols[r, 2]
        # P[c] is still zero here, so adding it in is harmless and saves a branch.
        P[c, 0] = rhs[r, 0] ^ P[a, 0] ^ P[b, 0] ^ P[d, 0]
        P[c, 1] = rhs[r, 1] ^ P[a, 1] ^ P[b, 1] ^ P[d, 1]


@njit(cache=True, nogil=True)
def _solve_bin(cols, dense, vals, m, g, out):
    """Encode one bin into ``out`` ``(m + g, 2)`` (zeroed). Returns 0, or 1 (gap too big), 2 (singular)."""
    nb = cols.shape[0]
    order_r = np.empty(nb, dtype=np.int64)
    order_c = np.empty(nb, dtype=np.int64)
    gap = np.empty(g, dtype=np.int64)
    npiv, ngap = _peel(cols, m, g, order_r, order_c, gap)
    if npiv < 0:
        return 1
    P = out[:m]
    _backsub(order_r, order_c, npiv, cols, vals, P)
    if ngap == 0:
        return 0
    # P = p0 + Σ_l D_l·M_l, M_l the back substitution of the dense coefficients d^(l+1).
    M = np.zeros((ngap, m, 2), dtype=np.uint64)
    pw = dense.copy()
    for lv in range(ngap):
        _backsub(order_r, order_c, npiv, cols, pw, M[lv])
        if lv + 1 < ngap:
            for r in range(nb):
                x = _gmul(pw[r, 0], pw[r, 1], dense[r, 0], dense[r, 1])
                pw[r, 0] = x[0]
                pw[r, 1] = x[1]
    E = np.zeros((ngap, ngap + 1, 2), dtype=np.uint64)
    for i in range(ngap):
        r = gap[i]
        x0 = vals[r, 0]
        x1 = vals[r, 1]
        for t in range(3):
            x0 ^= P[cols[r, t], 0]
            x1 ^= P[cols[r, t], 1]
        E[i, ngap, 0] = x0
        E[i, ngap, 1] = x1
        p = (dense[r, 0], dense[r, 1])
        for lv in range(ngap):
            e0 = p[0]
            e1 = p[1]
            for t in range(3):
                e0 ^= M[lv, cols[r, t], 0]
                e1 ^= M[lv, cols[r, t], 1]
            E[i, lv, 0] = e0
            E[i, lv, 1] = e1
            p = _gmul(p[0], p[1], dense[r, 0], dense[r, 1])
    # Gaussian elimination over GF(2^128) on the augmented ngap × (ngap + 1) system.
    for col in range(ngap):
        piv = -1
        for i in range(col, ngap):
            if E[i, col, 0] != 0 or E[i, col, 1] != 0:
                piv = i
                break
        if piv < 0:
            return 2
        for t in range(ngap + 1):
            for q in range(2):
                tmp = E[col, t, q]
                E[col, t, q] = E[piv, t, q]
                E[piv, t, q] = tmp
        inv = _ginv(E[col, col, 0], E[col, col, 1])
        for t in range(ngap + 1):
            x = _gmul(E[col, t, 0], E[col, t, 1], inv[0], inv[1])
            E[col, t, 0] = x[0]
            E[col, t, 1] = x[1]
        for i in range(ngap):
            if i != col and (E[i, col, 0] != 0 or E[i, col, 1] != 0):
                f0 = E[i, col, 0]
                f1 = E[i, col, 1]
                for t in range(ngap + 1):
                    x = _gmul(E[col, t, 0], E[col, t, 1], f0, f1)
                    E[i, t, 0] ^= x[0]
                    E[i, t, 1] ^= x[1]
    for lv in range(ngap):
        D0 = E[lv, ngap, 0]
        D1 = E[lv, ngap, 1]
        out[m + lv, 0] = D0
        out[m + lv, 1] = D1
        for j in range(m):
            if M[lv, j, 0] != 0 or M[lv, j, 1] != 0:
                x = _gmul(M[lv, j, 0], M[lv, j, 1], D0, D1)
                P[j, 0] ^= x[0]
                P[j, 1] ^= x[1]
    return 0


@njit(cache=True, nogil=True)
def _encode(start, cols, dense, vals, m, g, cap, table):
    """Rows are in bin order: bin b holds rows ``start[b]:start[b+1]``."""
    W = m + g
    nbins = start.shape[0] - 1
    for b in range(nbins):
        s, e = start[b], start[b + 1]
        if e - s > cap:
            return 3
        st = _solve_bin(cols[s:e], dense[s:e], vals[s:e], m, g, table[b * W:(b + 1) * W])
        if st != 0:
            return st
    return 0


@njit(cache=True, nogil=True)
def _decode(start, cols, dense, m, g, table, out):
    W = m + g
    nbins = start.shape[0] - 1
    for b in range(nbins):
        base = b * W
        for i in range(start[b], start[b + 1]):
            c0, c1, c2 = base + cols[i, 0], base + cols[i, 1], base + cols[i, 2]
            v0 = table[c0, 0] ^ table[c1, 0] ^ table[c2, 0]
            v1 = table[c0, 1] ^ table[c1, 1] ^ table[c2, 1]
            # Σ_l d^(l+1)·D_l by Horner
            acc = (table[base + m + g - 1, 0], table[base + m + g - 1, 1])
            for lv in range(g - 2, -1, -1):
                acc = _gmul(acc[0], acc[1], dense[i, 0], dense[i, 1])
                acc = (acc[0] ^ table[base + m + lv, 0], acc[1] ^ table[base + m + lv, 1])
            acc = _gmul(acc[0], acc[1], dense[i, 0], dense[i, 1])
            out[i, 0] = v0 ^ acc[0]
            out[i, 1] = v1 ^ acc[1]


def _blocks(x, name: str, n: int | None = None) -> np.ndarray:
    a = np.ascontiguousarray(x, dtype=np.uint8)
    if a.ndim != 2 or a.shape[1] != 16 or (n is not None and a.shape[0] != n):
        raise ParameterError(f"OKVS {name} must be ({'n' if n is None else n}, 16) uint8 blocks, got {a.shape}")
    return a


def _check_seed(seed) -> bytes:
    seed = bytes(seed)
    if len(seed) != 16:
        raise ParameterError(f"OKVS seed must be 16 bytes, got {len(seed)}")
    return seed


def check_distinct(keys: np.ndarray) -> None:
    """Raise :class:`ParameterError` naming two positions holding the same key (linear time)."""
    if keys.shape[0] < 2:
        return
    from .keys import dedup_ids

    reps, inverse = dedup_ids(keys)
    if reps.shape[0] < keys.shape[0]:
        j = int(np.flatnonzero(reps[inverse] != np.arange(keys.shape[0]))[0])
        i = int(reps[inverse[j]])
        raise ParameterError(f"OKVS keys must be distinct: positions {i} and {j} hold the same key")


def _array(pool: ScratchPool | None, name: str, shape, dtype) -> np.ndarray:
    return np.empty(shape, dtype=dtype) if pool is None else pool.get(name, shape, dtype)


class OkvsRows:
    """The hashed rows of some keys under one seed, computed once and usable for encoding and for any
    number of decodings.

    ``pool`` (a :class:`~pqmpc.primitives.buffers.ScratchPool`): the rows' arrays, the encoded
    table and the presorted decodings are views of its buffers (no fresh memory per call; valid
    until the pool's next use by an OKVS).

    The keys are put in bin order once (``order``; ``sorted_keys = keys[order]``) so that the kernels
    walk each bin's rows and table contiguously: random gathers, not arithmetic, dominate otherwise.
    ``presorted=True`` in :meth:`encode` / :meth:`decode` means values in that order.
    """

    def __init__(self, keys, seed: bytes, params: OkvsParams, pool: ScratchPool | None = None):
        keys = _blocks(keys, "keys")
        self.seed = _check_seed(seed)
        self.params = params
        self.n = keys.shape[0]
        self.order = np.arange(self.n, dtype=np.int64)
        self.sorted_keys = keys
        self.pool = pool
        if self.n and params.size:
            n = self.n
            bins = _array(pool, "okvs bins", (n,), np.int64)
            _hash_rows(keys, self.seed, params, bins)
            self.sorted_keys = _array(pool, "okvs sorted keys", (n, 16), np.uint8)
            self.order = _array(pool, "okvs order", (n,), np.int64)
            self.start = _group(bins, params.bins, keys.view(np.uint64), self.sorted_keys.view(np.uint64), self.order)
            self.cols = _array(pool, "okvs cols", (n, 3), np.int32)   # half the bytes per row in cache
            self.dense = _array(pool, "okvs dense", (n, 2), np.uint64)
            _hash_rows(self.sorted_keys, self.seed, params, bins, self.cols, self.dense)

    def encode(self, values, presorted: bool = False) -> np.ndarray:
        """The table for ``keys[i] ↦ values[i]`` (keys must be distinct); :class:`OkvsFailure` on failure."""
        p = self.params
        values = _blocks(values, "values", self.n)
        if p.n != self.n:
            raise ParameterError(f"OKVS parameters are for {p.n} keys, got {self.n}")
        if self.pool is None:
            table = np.zeros((p.size, 16), dtype=np.uint8)
        else:
            table = self.pool.get("okvs table", (p.size, 16))
            table.fill(0)
        if self.n == 0:
            return table
        vals = values if presorted else values[self.order]
        st = _encode(self.start, self.cols, self.dense, vals.view(np.uint64), p.sparse, p.dense, p.capacity,
                     table.view(np.uint64))
        if st:
            why = {1: "too many rows in the gap", 2: "singular dense system", 3: "a bin over capacity"}[st]
            raise OkvsFailure(f"OKVS encoding failed under this seed ({why})")
        return table

    def decode(self, table, presorted: bool = False) -> np.ndarray:
        """``(n, 16)``: the values the table gives these keys (in bin order if ``presorted``)."""
        p = self.params
        table = _blocks(table, "table", p.size)
        if not (self.n and p.size):
            return np.zeros((self.n, 16), dtype=np.uint8)
        # every row is written: the bins cover all keys
        out = _array(self.pool if presorted else None, "okvs decoded", (self.n, 16), np.uint8)
        _decode(self.start, self.cols, self.dense, p.sparse, p.dense, table.view(np.uint64), out.view(np.uint64))
        if presorted:
            return out
        res = np.empty_like(out)
        res[self.order] = out
        return res


def okvs_encode(keys, values, seed: bytes, params: OkvsParams | None = None) -> np.ndarray:
    """The table ``(size, 16)`` with ``decode(table, keys[i]) = values[i]``; :class:`OkvsFailure` on failure."""
    keys = _blocks(keys, "keys")
    p = params or OkvsParams(keys.shape[0])
    check_distinct(keys)
    return OkvsRows(keys, seed, p).encode(values)


def okvs_encode_random_seed(keys, values, rng, params: OkvsParams | None = None,
                            return_rows: bool = False, first_seed: bytes | None = None, check: bool = True,
                            pool: ScratchPool | None = None):
    """Encode under fresh seeds from ``rng`` until one works (each try fails with probability ≤ 2^-ssp).

    ``values`` is an ``(n, 16)`` array, or a function of the keys in bin order returning their values
    in that order (which saves a gather). Returns ``(seed, table)``, or ``(seed, table, rows)`` with
    ``return_rows`` (the :class:`OkvsRows` of the keys under that seed, for decoding them later).
    ``first_seed`` is tried first; ``check=False`` skips the duplicate check (the caller did it).
    ``pool``: as for :class:`OkvsRows`.
    """
    keys = _blocks(keys, "keys")
    p = params or OkvsParams(keys.shape[0])
    if check:
        check_distinct(keys)
    for attempt in range(MAX_ATTEMPTS):
        rows = OkvsRows(keys, first_seed if attempt == 0 and first_seed is not None else rng.bytes(16), p, pool)
        try:
            if callable(values):
                table = rows.encode(values(rows.sorted_keys), presorted=True)
            else:
                table = rows.encode(values)
        except OkvsFailure:
            continue
        return (rows.seed, table, rows) if return_rows else (rows.seed, table)
    raise OkvsFailure(f"OKVS encoding failed under {MAX_ATTEMPTS} seeds")


def okvs_decode(table, keys, seed: bytes, params: OkvsParams) -> np.ndarray:
    """``(k, 16)`` decoded values of ``keys`` (any keys, any number) from a table of ``params``."""
    _blocks(table, "table", params.size)
    return OkvsRows(keys, seed, params).decode(table)


__all__ = ["OkvsParams", "OkvsFailure", "OkvsRows", "okvs_encode", "okvs_decode", "okvs_encode_random_seed",
           "check_distinct", "bin_capacity", "WEIGHT", "SSP", "DEFAULT_BIN_SIZE"]
