"""Fused kernels of payload PSI: seal and open entries one row at a time, in registers.

Same bytes as the reference path of :mod:`.payload` (``tccr`` + ``gf128_mul`` over
whole arrays), which stays the path wherever numba lacks AES-NI or PCLMUL
(the table AES would index by the secret OPRF values). One pass per row
instead of a dozen array passes. ``seal``/``open`` encrypt a payload under a 16-byte key (an OPRF
value or a row key); ``wrap``/``unwrap`` make the short per-list entries that carry a row key.
"""

from __future__ import annotations

import numpy as np
from numba import literal_unroll, njit

from ..primitives.aes_kernels import aes128_encrypt8_ni, aes128_load_keys, fixed_key_schedule
from ..primitives.cpu import HAVE_AESNI
from ..primitives.gf128 import HAVE_PCLMUL, gf128_mul_ni
from .payload_simd import load1_u64, load_u64, prefetch_read, prefetch_write, store_u64
from .values import in_threads

__all__ = ["AVAILABLE", "hashes8", "load_masked", "tag_kernel",
           "seal_rows", "seal_sorted", "tag_places", "query_tags", "index_sorted",
           "open_rows", "wrap_rows", "unwrap_rows"]

#: Whether the fused kernels run here (both AES-NI and PCLMULQDQ).
AVAILABLE = bool(HAVE_AESNI and HAVE_PCLMUL)

#: Rows ahead of the current one whose random memory (sorted places to write, keys to read) is prefetched.
_AHEAD = 16


@njit(inline="always")
def _word(buf, r, a):
    return (np.uint64(buf[r, a]) | (np.uint64(buf[r, a + 1]) << np.uint64(8))
            | (np.uint64(buf[r, a + 2]) << np.uint64(16)) | (np.uint64(buf[r, a + 3]) << np.uint64(24))
            | (np.uint64(buf[r, a + 4]) << np.uint64(32)) | (np.uint64(buf[r, a + 5]) << np.uint64(40))
            | (np.uint64(buf[r, a + 6]) << np.uint64(48)) | (np.uint64(buf[r, a + 7]) << np.uint64(56)))


@njit(inline="always")
def _load(buf, r, a, stop):
    """Bytes ``buf[r, a:a+16]`` (those below ``stop``) as a little-endian block, zero-padded."""
    if a + 16 <= stop:  # straight-line: LLVM merges the byte loads into word loads
        return _word(buf, r, a), _word(buf, r, a + 8)
    lo = np.uint64(0)
    hi = np.uint64(0)
    for k in range(16):
        if a + k < stop:
            v = np.uint64(buf[r, a + k])
            if k < 8:
                lo |= v << np.uint64(8 * k)
            else:
                hi |= v << np.uint64(8 * (k - 8))
    return lo, hi


@njit(inline="always")
def _put_word(buf, r, a, w):
    for k in range(8):
        buf[r, a + k] = np.uint8((w >> np.uint64(8 * k)) & np.uint64(0xFF))


@njit(inline="always")
def _store(buf, r, a, stop, blk):
    if a + 16 <= stop:
        _put_word(buf, r, a, blk[0])
        _put_word(buf, r, a + 8, blk[1])
        return
    for k in range(16):
        if a + k < stop:
            w = blk[0] if k < 8 else blk[1]
            buf[r, a + k] = np.uint8((w >> np.uint64(8 * (k % 8))) & np.uint64(0xFF))


@njit(inline="always")
def _row(f, item, r, n):
    r = item[min(r, n - 1)]
    return f[r, 0], f[r, 1]


@njit(inline="always")
def _tw(p, ranks, r, n, j, tag):
    r = min(r, n - 1)
    return p[0] ^ ((np.uint64(ranks[r]) << np.uint64(8)) | np.uint64(j)), p[1] ^ tag


@njit(inline="always")
def _hashes8(ks, f, item, r0, n, ranks, nh, tag, hs, j0=0):
    """hs[g, j] = TCCR(f[item[r0+g]], (ranks[r0+g]·2^8 + j, tag)) for 8 rows (rows past ``n`` repeat the last),
    ``j0 <= j < nh`` (``j0`` = 1: the tags ``H_0`` are known already).

    π(x) is shared by all tweaks of a row, and eight rows go through AES side by side."""
    p = aes128_encrypt8_ni(ks, (_row(f, item, r0, n), _row(f, item, r0 + 1, n), _row(f, item, r0 + 2, n),
                                _row(f, item, r0 + 3, n), _row(f, item, r0 + 4, n), _row(f, item, r0 + 5, n),
                                _row(f, item, r0 + 6, n), _row(f, item, r0 + 7, n)))
    for j in range(j0, nh):
        y = aes128_encrypt8_ni(ks, (_tw(p[0], ranks, r0, n, j, tag), _tw(p[1], ranks, r0 + 1, n, j, tag),
                                    _tw(p[2], ranks, r0 + 2, n, j, tag), _tw(p[3], ranks, r0 + 3, n, j, tag),
                                    _tw(p[4], ranks, r0 + 4, n, j, tag), _tw(p[5], ranks, r0 + 5, n, j, tag),
                                    _tw(p[6], ranks, r0 + 6, n, j, tag), _tw(p[7], ranks, r0 + 7, n, j, tag)))
        for g in literal_unroll((0, 1, 2, 3, 4, 5, 6, 7)):
            hs[g, j, 0] = y[g][0] ^ p[g][0]
            hs[g, j, 1] = y[g][1] ^ p[g][1]


@njit(cache=True, nogil=True)
def _seal_kernel(rk, f, item, ranks, pt, prow, ell, nblk, tag, out):
    ks = aes128_load_keys(rk)
    plen = pt.shape[1]
    n = item.shape[0]
    hs = np.empty((8, nblk + 3, 2), dtype=np.uint64)
    for r0 in range(0, n, 8):
        _hashes8(ks, f, item, r0, n, ranks, nblk + 3, tag, hs)
        for g in range(min(8, n - r0)):
            r = r0 + g
            _store(out, r, 0, ell, (hs[g, 0, 0], hs[g, 0, 1]))
            h = (hs[g, nblk + 1, 0], hs[g, nblk + 1, 1])
            acc = (np.uint64(0), np.uint64(0))
            for b in range(nblk):
                p = _load(pt, prow[r], 16 * b, plen)
                # Bytes past the plaintext are zero in the MAC's padded ciphertext.
                c = _load_masked((p[0] ^ hs[g, b + 1, 0], p[1] ^ hs[g, b + 1, 1]), plen - 16 * b)
                _store(out, r, ell + 16 * b, ell + plen, c)
                acc = gf128_mul_ni((acc[0] ^ c[0], acc[1] ^ c[1]), h)
            _store(out, r, ell + plen, ell + plen + 16, (acc[0] ^ hs[g, nblk + 2, 0], acc[1] ^ hs[g, nblk + 2, 1]))


@njit(inline="always")
def _load_masked(c, keep):
    """Block ``c`` with bytes ``keep`` .. 15 cleared."""
    if keep >= 16:
        return c
    if keep >= 8:
        sh = 8 * (keep - 8)
        m = (np.uint64(1) << np.uint64(sh)) - np.uint64(1) if sh else np.uint64(0)
        return c[0], c[1] & m
    sh = 8 * keep
    m = (np.uint64(1) << np.uint64(sh)) - np.uint64(1) if sh else np.uint64(0)
    return c[0] & m, np.uint64(0)


@njit(cache=True, nogil=True)
def _open_kernel(rk, f, frow, ranks, entries, erow, ell, plen, nblk, tag, pt):
    """Plaintexts of entries ``erow[r]`` for keys ``f[frow[r]]`` into ``pt``; returns the first row whose MAC
    fails, or -1. Entries are read as whole unaligned words (never past their row: the MAC follows
    the ciphertext), bytes past the plaintext cleared before the MAC."""
    ks = aes128_load_keys(rk)
    n = frow.shape[0]
    hs = np.empty((8, nblk + 3, 2), dtype=np.uint64)
    bad = -1
    for r in range(min(n, _AHEAD)):
        prefetch_read(f, frow[r], 0)
        prefetch_read(entries, erow[r], 0)
    for r0 in range(0, n, 8):
        # keys and entries of the group _AHEAD rows on (the keys are read at random)
        for r in range(r0 + _AHEAD, min(n, r0 + _AHEAD + 8)):
            prefetch_read(f, frow[r], 0)
            prefetch_read(entries, erow[r], 0)
        _hashes8(ks, f, frow, r0, n, ranks, nblk + 3, tag, hs, 1)
        for g in range(min(8, n - r0)):
            r = r0 + g
            h = (hs[g, nblk + 1, 0], hs[g, nblk + 1, 1])
            acc = (np.uint64(0), np.uint64(0))
            e = erow[r]
            for b in range(nblk):
                c = _load_masked((load_u64(entries, e, ell + 16 * b), load_u64(entries, e, ell + 16 * b + 8)),
                                 plen - 16 * b)
                acc = gf128_mul_ni((acc[0] ^ c[0], acc[1] ^ c[1]), h)
                p0 = c[0] ^ hs[g, b + 1, 0]
                p1 = c[1] ^ hs[g, b + 1, 1]
                if 16 * b + 16 <= plen:
                    store_u64(pt, r, 16 * b, p0)
                    store_u64(pt, r, 16 * b + 8, p1)
                else:
                    _store(pt, r, 16 * b, plen, (p0, p1))
            if bad < 0 and ((acc[0] ^ hs[g, nblk + 2, 0]) != load_u64(entries, e, ell + plen)
                            or (acc[1] ^ hs[g, nblk + 2, 1]) != load_u64(entries, e, ell + plen + 8)):
                bad = r
    return bad


def seal_rows(f, ranks, pt, ell: int, nblk: int, tag: int, item=None, prow=None, out=None) -> np.ndarray:
    """Entry ``k`` (``tag ‖ ct ‖ mac``) for OPRF value ``f[item[k]]``, ``ranks[k]``, plaintext ``pt[prow[k]]``
    (into ``out`` if given: C-contiguous ``(n, ell + plen + 16)`` uint8)."""
    plen = pt.shape[1]
    n = ranks.shape[0]
    item = np.arange(n, dtype=np.int64) if item is None else np.ascontiguousarray(item, dtype=np.int64)
    prow = np.arange(n, dtype=np.int64) if prow is None else np.ascontiguousarray(prow, dtype=np.int64)
    if out is None:
        out = np.empty((n, ell + plen + 16), dtype=np.uint8)
    _seal_kernel(fixed_key_schedule(), np.ascontiguousarray(f).view(np.uint64), item,
                 np.ascontiguousarray(ranks, dtype=np.int64), np.ascontiguousarray(pt), prow, ell, nblk,
                 np.uint64(tag), out)
    return out


@njit(inline="always")
def _pt_word(data, a, ln, j):
    """Payload bytes ``j .. j+7`` (``data[a:a+ln]`` zero-padded) as a little-endian word."""
    if j + 8 <= ln:
        return load1_u64(data, a + j)
    w = np.uint64(0)
    for k in range(max(0, min(8, ln - j))):
        w |= np.uint64(data[a + j + k]) << np.uint64(8 * k)
    return w


@njit(cache=True, nogil=True)
def _tag_kernel(rk, f, item, ranks, ell, tag, lo, hi, tw):
    """``tw[r]``: the first ``ell`` bytes of row ``r``'s ``H_0`` as tag words (as :func:`.values.tag_words`)."""
    ks = aes128_load_keys(rk)
    hs = np.empty((8, 1, 2), dtype=np.uint64)
    m0 = np.uint64(0xFFFFFFFFFFFFFFFF) if ell >= 8 else (np.uint64(1) << np.uint64(8 * ell)) - np.uint64(1)
    if ell >= 16:
        m1 = np.uint64(0xFFFFFFFFFFFFFFFF)
    elif ell > 8:
        m1 = (np.uint64(1) << np.uint64(8 * (ell - 8))) - np.uint64(1)
    else:
        m1 = np.uint64(0)
    for r0 in range(lo, hi, 8):
        _hashes8(ks, f, item, r0, hi, ranks, 1, tag, hs)
        for g in range(min(8, hi - r0)):
            tw[r0 + g, 0] = hs[g, 0, 0] & m0
            tw[r0 + g, 1] = hs[g, 0, 1] & m1


@njit(cache=True, nogil=True)
def _count_tags(tw, lo, hi, shift, counts):
    sh = np.uint64(shift)
    for i in range(lo, hi):
        counts[np.int64(tw[i, 0] >> sh)] += 1


@njit(cache=True, nogil=True)
def _scatter_tag_range(tw, blo, bhi, shift, fill, k0, k1, idx):
    """Keys of the rows in buckets ``blo:bhi`` to their bucket, rows in order (stable). Every thread reads
    all keys but writes only its buckets' stretch of ``k0/k1/idx``: no cache line is written by two."""
    sh = np.uint64(shift)
    for i in range(tw.shape[0]):
        b = np.int64(tw[i, 0] >> sh)
        if blo <= b < bhi:
            p = fill[b]
            fill[b] = p + 1
            k0[p] = tw[i, 0]
            k1[p] = tw[i, 1]
            idx[p] = i


@njit(cache=True, nogil=True)
def _sort_place_range(start, blo, bhi, k0, k1, idx, dest):
    """Insertion sort inside buckets ``blo:bhi``, then the place of each of their rows."""
    for b in range(blo, bhi):
        lo = start[b]
        for a in range(lo + 1, start[b + 1]):
            x0, x1, xi = k0[a], k1[a], idx[a]
            k = a - 1
            while k >= lo and (k0[k] > x0 or (k0[k] == x0 and k1[k] > x1)):
                k0[k + 1], k1[k + 1], idx[k + 1] = k0[k], k1[k], idx[k]
                k -= 1
            k0[k + 1], k1[k + 1], idx[k + 1] = x0, x1, xi
    for p in range(start[blo], start[bhi]):
        dest[idx[p]] = p


@njit(cache=True, nogil=True)
def _starts_of(counts, start, fill):
    """``start``: the bucket starts from the per-thread ``counts`` (summed), ``fill`` a copy of ``start[:-1]``."""
    start[0] = 0
    for b in range(counts.shape[1]):
        c = 0
        for t in range(counts.shape[0]):
            c += counts[t, b]
        fill[b] = start[b]
        start[b + 1] = start[b] + c


def _scratch(pool, name: str, shape, dtype=np.uint8) -> np.ndarray:
    """``np.empty``, or the buffer ``name`` of ``pool`` (a ``ScratchPool``): reused memory, no page faults."""
    return np.empty(shape, dtype=dtype) if pool is None else pool.get(name, shape, dtype)


def tag_places(tw, bits: int, shift: int, threads: int = 1, pool=None) -> np.ndarray:
    """``dest[r]``: the place of row ``r`` when rows are sorted by tag words ``tw`` (stable): a bucket
    scatter of the keys (never of whole entries), then insertion sort inside buckets of ~4 keys.
    ``threads`` > 1 split the buckets between threads. With ``pool`` the working arrays and ``dest``
    are its buffers (``dest`` valid until the pool's next use)."""
    n = tw.shape[0]
    nbk = 1 << bits
    t = max(1, min(threads, nbk))
    cuts = np.linspace(0, n, t + 1).astype(np.int64)
    # the bucket tables are set-sized too (2^19 buckets at 2^20 rows): from the pool as well
    counts = _scratch(pool, "payload sort counts", (t, nbk), np.int64)
    counts.fill(0)
    in_threads(lambda i: _count_tags(tw, cuts[i], cuts[i + 1], shift, counts[i]), [(i,) for i in range(t)])
    start = _scratch(pool, "payload sort starts", nbk + 1, np.int64)
    fill = _scratch(pool, "payload sort fill", nbk, np.int64)
    _starts_of(counts, start, fill)
    k0, k1 = _scratch(pool, "payload sort k0", n, np.uint64), _scratch(pool, "payload sort k1", n, np.uint64)
    # Row numbers fit 32 bits (at most 2^30 rows): less fresh memory, fewer page faults.
    idx, dest = _scratch(pool, "payload sort idx", n, np.int32), _scratch(pool, "payload places", n, np.int32)
    bcut = np.linspace(0, nbk, t + 1).astype(np.int64)
    parts = [(i,) for i in range(t)]
    in_threads(lambda i: _scatter_tag_range(tw, bcut[i], bcut[i + 1], shift, fill, k0, k1, idx), parts)
    in_threads(lambda i: _sort_place_range(start, bcut[i], bcut[i + 1], k0, k1, idx, dest), parts)
    return dest


@njit(cache=True, nogil=True)
def _seal_padded_kernel(rk, f, item, ranks, data, offsets, mult, width, ell, nblk, tag, tw, dest, lo, hi, out):
    """Rows ``lo:hi`` sealed (as :func:`_seal_kernel` on the padded plaintexts) and written to places
    ``dest[r]``: the plaintext (u32 length ‖ u32 ``mult[item[r]]`` ‖ payload ‖ zeros) is built in
    registers from ``(data, offsets)``, read in row order; only the writes land at random, and
    their cache lines are asked for ``_AHEAD`` rows early. The tags are the tag words ``tw``
    (``H_0``, computed by :func:`_tag_kernel`), so ``H_0`` is not recomputed."""
    ks = aes128_load_keys(rk)
    plen = 8 + width
    last = ell + plen + 15
    hs = np.empty((8, nblk + 3, 2), dtype=np.uint64)
    for r in range(lo, min(hi, lo + _AHEAD)):
        prefetch_write(out, dest[r], 0)
        prefetch_write(out, dest[r], last)
    for r0 in range(lo, hi, 8):
        _hashes8(ks, f, item, r0, hi, ranks, nblk + 3, tag, hs, 1)
        for g in range(min(8, hi - r0)):
            r = r0 + g
            if r + _AHEAD < hi:
                prefetch_write(out, dest[r + _AHEAD], 0)
                prefetch_write(out, dest[r + _AHEAD], last)
            d = dest[r]
            a = offsets[r]
            ln = offsets[r + 1] - a
            # Whole unaligned words, each part of the row in order: a word running past its part
            # carries zeros into the next part, which is written after it (never past the row).
            store_u64(out, d, 0, tw[r, 0])
            if ell > 8:
                store_u64(out, d, 8, tw[r, 1])
            h = (hs[g, nblk + 1, 0], hs[g, nblk + 1, 1])
            acc = (np.uint64(0), np.uint64(0))
            for b in range(nblk):
                if b == 0:
                    w0 = np.uint64(ln) | (np.uint64(mult[item[r]]) << np.uint64(32))
                else:
                    w0 = _pt_word(data, a, ln, 16 * b - 8)
                w1 = _pt_word(data, a, ln, 16 * b)
                c = _load_masked((w0 ^ hs[g, b + 1, 0], w1 ^ hs[g, b + 1, 1]), plen - 16 * b)
                store_u64(out, d, ell + 16 * b, c[0])
                if 16 * b + 8 < plen:
                    store_u64(out, d, ell + 16 * b + 8, c[1])
                acc = gf128_mul_ni((acc[0] ^ c[0], acc[1] ^ c[1]), h)
            store_u64(out, d, ell + plen, acc[0] ^ hs[g, nblk + 2, 0])
            store_u64(out, d, ell + plen + 8, acc[1] ^ hs[g, nblk + 2, 1])


def _int64s(a):
    """``a`` as int64, kept as is when it is a broadcast constant (stride 0: no memory behind it)."""
    a = np.asarray(a)
    if a.dtype == np.int64 and a.ndim == 1 and a.strides[0] == 0:
        return a
    return np.ascontiguousarray(a, dtype=np.int64)


def seal_sorted(f, item, ranks, data, offsets, mult, width: int, ell: int, nblk: int, tag: int, bits: int,
                shift: int, workers: int = 1, pool=None) -> np.ndarray:
    """One-list entries ``tag ‖ ct ‖ mac`` for rows ``r`` (OPRF value ``f[item[r]]``, rank ``ranks[r]``,
    payload ``data[offsets[r]:offsets[r+1]]`` padded to ``width`` with header (length, ``mult[item[r]]``)),
    already sorted by tag: what sealing the padded rows and then sorting them by tag gives, without
    moving whole entries (the tags are computed first, their order found on the keys alone).
    ``workers`` threads share the hashing and the sealing. With ``pool`` (a ``ScratchPool``) the
    working arrays and the result are its buffers: the result is valid until the pool's next use."""
    n = ranks.shape[0]
    rk = fixed_key_schedule()
    f64 = np.ascontiguousarray(f).view(np.uint64)
    item = np.ascontiguousarray(item, dtype=np.int64)
    ranks = _int64s(ranks)
    cuts = np.linspace(0, n, max(1, workers) + 1).astype(np.int64) if n >= 1 << 16 else np.array([0, n])
    parts = [(int(cuts[i]), int(cuts[i + 1])) for i in range(cuts.shape[0] - 1)]
    tw = _scratch(pool, "payload seal tags", (n, 2), np.uint64)
    t = np.uint64(tag)
    in_threads(lambda a, b: _tag_kernel(rk, f64, item, ranks, ell, t, a, b, tw), parts)
    dest = tag_places(tw, bits, shift, len(parts), pool)
    out = _scratch(pool, "payload entries", (n, ell + 8 + width + 16))
    data = np.ascontiguousarray(data, dtype=np.uint8)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    mult = _int64s(mult)
    in_threads(lambda a, b: _seal_padded_kernel(rk, f64, item, ranks, data, offsets, mult, width, ell, nblk, t,
                                                tw, dest, a, b, out), parts)
    return out


def query_tags(f, ranks, ell: int, tag: int) -> np.ndarray:
    """Tag words of ``(f[r], ranks[r])`` (what the receiver looks up), one fused pass."""
    n = f.shape[0]
    tw = np.empty((n, 2), dtype=np.uint64)
    _tag_kernel(fixed_key_schedule(), np.ascontiguousarray(f).view(np.uint64), np.arange(n, dtype=np.int64),
                np.ascontiguousarray(ranks, dtype=np.int64), ell, np.uint64(tag), 0, n, tw)
    return tw


@njit(cache=True, nogil=True)
def index_sorted(entries, ell, bits, shift, tw, start):
    """One pass over received entries: their tag words into ``tw`` (as :func:`.values.tag_words`), the
    bucket index ``start`` (as :func:`.values.bucket_starts`); returns whether the tags are sorted."""
    sh = np.uint64(shift)
    e0 = min(ell, 8)
    ok = True
    p0 = np.uint64(0)
    p1 = np.uint64(0)
    for i in range(entries.shape[0]):
        k0 = np.uint64(0)
        for k in range(e0):
            k0 |= np.uint64(entries[i, k]) << np.uint64(8 * k)
        k1 = np.uint64(0)
        for k in range(8, ell):
            k1 |= np.uint64(entries[i, k]) << np.uint64(8 * (k - 8))
        tw[i, 0] = k0
        tw[i, 1] = k1
        if i and (k0 < p0 or (k0 == p0 and k1 < p1)):
            ok = False
        p0, p1 = k0, k1
        start[np.int64(k0 >> sh) + 1] += 1
    for b in range(start.shape[0] - 1):
        start[b + 1] += start[b]
    return ok


def open_rows(f, ranks, entries, ell: int, plen: int, nblk: int, tag: int, erow=None,
              frow=None) -> tuple[np.ndarray, int]:
    """``(pt, bad)``: plaintexts of entries ``erow`` (default: all, in order) for keys ``f[frow]`` (default: ``f``)
    and the first row whose MAC fails (-1: none)."""
    n = f.shape[0] if frow is None else frow.shape[0]
    pt = np.empty((n, plen), dtype=np.uint8)
    erow = np.arange(n, dtype=np.int64) if erow is None else np.ascontiguousarray(erow, dtype=np.int64)
    frow = np.arange(n, dtype=np.int64) if frow is None else np.ascontiguousarray(frow, dtype=np.int64)
    bad = _open_kernel(fixed_key_schedule(), np.ascontiguousarray(f).view(np.uint64), frow,
                       np.ascontiguousarray(ranks, dtype=np.int64), np.ascontiguousarray(entries), erow, ell, plen,
                       nblk, np.uint64(tag), pt)
    return pt, int(bad)


@njit(cache=True, nogil=True)
def _wrap_kernel(rk, f, item, ranks, keys, ptr, ell, tag, out):
    ks = aes128_load_keys(rk)
    n = item.shape[0]
    hs = np.empty((8, 2, 2), dtype=np.uint64)
    for r0 in range(0, n, 8):
        _hashes8(ks, f, item, r0, n, ranks, 2, tag, hs)
        for g in range(min(8, n - r0)):
            r = r0 + g
            p = ptr[r]
            _store(out, r, 0, ell, (hs[g, 0, 0], hs[g, 0, 1]))
            _store(out, r, ell, ell + 16, (keys[p, 0] ^ hs[g, 1, 0], keys[p, 1] ^ hs[g, 1, 1]))
            for k in range(4):
                out[r, ell + 16 + k] = np.uint8((p >> (8 * k)) & 0xFF)


@njit(cache=True, nogil=True)
def _unwrap_kernel(rk, f, ranks, entries, ell, tag, keys, ptr):
    ks = aes128_load_keys(rk)
    n = f.shape[0]
    hs = np.empty((8, 2, 2), dtype=np.uint64)
    item = np.arange(n)
    for r0 in range(0, n, 8):
        _hashes8(ks, f, item, r0, n, ranks, 2, tag, hs)
        for g in range(min(8, n - r0)):
            r = r0 + g
            c = _load(entries, r, ell, ell + 16)
            keys[r, 0] = c[0] ^ hs[g, 1, 0]
            keys[r, 1] = c[1] ^ hs[g, 1, 1]
            p = np.int64(0)
            for k in range(4):
                p |= np.int64(entries[r, ell + 16 + k]) << (8 * k)
            ptr[r] = p


def wrap_rows(f, item, ranks, keys, ptr, ell: int, tag: int) -> np.ndarray:
    """Entry ``k``: ``H_0[:ell] ‖ keys[ptr[k]] ⊕ H_1 ‖ u32 ptr[k]``, ``H_j = TCCR(f[item[k]], ranks[k]·2^8 + j)``."""
    n = ranks.shape[0]
    out = np.empty((n, ell + 20), dtype=np.uint8)
    _wrap_kernel(fixed_key_schedule(), np.ascontiguousarray(f).view(np.uint64),
                 np.ascontiguousarray(item, dtype=np.int64), np.ascontiguousarray(ranks, dtype=np.int64),
                 np.ascontiguousarray(keys).view(np.uint64), np.ascontiguousarray(ptr, dtype=np.int64), ell,
                 np.uint64(tag), out)
    return out


def unwrap_rows(f, ranks, entries, ell: int, tag: int) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, ptr)`` carried by entries made by :func:`wrap_rows` for OPRF values ``f``."""
    n = f.shape[0]
    keys = np.empty((n, 16), dtype=np.uint8)
    ptr = np.empty(n, dtype=np.int64)
    _unwrap_kernel(fixed_key_schedule(), np.ascontiguousarray(f).view(np.uint64),
                   np.ascontiguousarray(ranks, dtype=np.int64), np.ascontiguousarray(entries), ell, np.uint64(tag),
                   keys.view(np.uint64), ptr)
    return keys, ptr


# Building blocks shared with :mod:`.payload_open` (the receiver's open-into-the-join path).
hashes8 = _hashes8
load_masked = _load_masked
tag_kernel = _tag_kernel
