"""Sorted value lists for PSI's comparison steps: sorting, lookup, and framed transfer.

The sender's OPRF values (step 6) and the matched ids (step 7) travel as
lists of ``ℓ``-byte values sorted ascending by the little-endian ``u64`` of
bytes 0–7, then of bytes 8–15 (zero-padded to 16 bytes). A sorted list says
nothing about the order it was computed in; the order is checked on receipt.

Kernels work on ``(n, 2)`` uint64 views ("tag words") and bucket values by
their top bits: values are pseudorandom, so buckets hold ~4 values each and
both sorting and lookup run in linear time.

Lists longer than :func:`frame_rows` rows (:data:`FRAME_ROWS` rows of up to
16 bytes, fewer wider rows: at most :data:`FRAME_BYTES` per frame) go out in
several frames so that no message grows with the set beyond a fixed cap: a
peer's announcement can only make us allocate what it actually sends, and
sets up to the 2^30-item limit fit under the channel's message cap.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from ..errors import ProtocolError
from ..net import Channel
from .payload_simd import prefetch_read, prefetch_read1

__all__ = ["FRAME_ROWS", "FRAME_BYTES", "frame_rows", "tag_words", "bucket_bits", "sort_values", "sort_values_into",
           "is_sorted", "strictly_increasing", "bucket_starts", "lookup", "lookup_in", "find_rows", "sorted_rows",
           "sort_rows_by_tag", "in_threads", "send_rows", "recv_rows", "recv_rows_upto"]

#: Rows per frame of a long list (2^22 rows: at most 64 MiB of 16-byte values) ...
FRAME_ROWS = 1 << 22
#: ... and bytes per frame for wider rows (payload entries: 2^20 one-list entries fit one frame), far below
#: the channel cap.
FRAME_BYTES = 1 << 27


def frame_rows(row_bytes: int) -> int:
    """Rows per frame for rows of ``row_bytes`` bytes (both sides compute it from the row width)."""
    return int(min(FRAME_ROWS, max(1, FRAME_BYTES // max(1, row_bytes))))


def tag_words(values: np.ndarray, ell: int, out: np.ndarray | None = None) -> np.ndarray:
    """``(n, 2)`` uint64: the first ``ell`` bytes of each row of ``values``, zero above (in ``out``,
    ``(n, 16)`` uint8, if given)."""
    t = np.zeros((values.shape[0], 16), dtype=np.uint8) if out is None else out
    t[:, :ell] = values[:, :ell]
    if out is not None and ell < 16:
        t[:, ell:] = 0
    return t.view(np.uint64)


def bucket_bits(n: int, ell: int) -> tuple[int, int]:
    """(bits, shift): bucket values by their top ``bits`` bits (≈ 4 values per bucket)."""
    bits = int(min(20, max(1, (max(n, 1)).bit_length() - 2)))
    return bits, 8 * min(ell, 8) - bits


@njit(cache=True, nogil=True)
def sort_values(tw, ell, bits, shift, order, out):
    """Sort the values by (word 0, word 1), stably: :func:`sort_values_into` with fresh scratch."""
    n = tw.shape[0]
    sort_values_into(tw, ell, bits, shift, order, out, np.empty(n, dtype=np.uint64), np.empty(n, dtype=np.uint64))


@njit(cache=True, nogil=True)
def sort_values_into(tw, ell, bits, shift, order, out, k0, k1):
    """Sort the values by (word 0, word 1), stably, and write the first ``ell`` bytes of each, in
    order, to ``out``; ``order[k]`` is the row that went to position ``k``.

    Buckets are the top ``bits`` bits of word 0 (``tw[:, 0] >> shift``). Two cache-sized passes
    instead of one scatter over the whole list: first the values (with their row numbers) are
    partitioned by the top half of the bucket bits (few output streams, so the writes stay in
    cache), then each partition (~2^11 values, in L2) by the other half, then insertion sort
    (the values are pseudorandom: buckets hold ~4). Every pass is stable, so ties keep the row
    order, and the result is the same as any stable sort by (word 0, word 1). ``k0``, ``k1``:
    ``(n,)`` uint64 scratch (the sorted words)."""
    n = tw.shape[0]
    sh = np.uint64(shift)
    b2 = bits - bits // 2
    np1 = 1 << (bits - b2)
    np2 = 1 << b2
    m2 = np.int64(np2 - 1)
    start = np.zeros(np1 + 1, dtype=np.int64)
    for i in range(n):
        start[(np.int64(tw[i, 0] >> sh) >> b2) + 1] += 1
    for p in range(np1):
        start[p + 1] += start[p]
    fill = start[:-1].copy()
    for i in range(n):
        a = tw[i, 0]
        p = np.int64(a >> sh) >> b2
        q = fill[p]
        fill[p] = q + 1
        k0[q] = a
        k1[q] = tw[i, 1]
        order[q] = i
    big = 0
    for p in range(np1):
        big = max(big, start[p + 1] - start[p])
    s0 = np.empty(big, dtype=np.uint64)
    s1 = np.empty(big, dtype=np.uint64)
    si = np.empty(big, dtype=np.int64)
    c2 = np.empty(np2 + 1, dtype=np.int64)
    for p in range(np1):
        lo = start[p]
        cnt = start[p + 1] - lo
        if cnt < 2:
            continue
        c2[:] = 0
        for t in range(cnt):
            s0[t] = k0[lo + t]
            s1[t] = k1[lo + t]
            si[t] = order[lo + t]
            c2[(np.int64(s0[t] >> sh) & m2) + 1] += 1
        for b in range(np2):
            c2[b + 1] += c2[b]
        for t in range(cnt):
            b = np.int64(s0[t] >> sh) & m2
            q = lo + c2[b]
            c2[b] += 1
            k0[q] = s0[t]
            k1[q] = s1[t]
            order[q] = si[t]
        # Values are in bucket order now, so insertion sort moves each only inside its bucket.
        for a in range(lo + 1, lo + cnt):
            x0, x1, xi = k0[a], k1[a], order[a]
            k = a - 1
            while k >= lo and (k0[k] > x0 or (k0[k] == x0 and k1[k] > x1)):
                k0[k + 1], k1[k + 1], order[k + 1] = k0[k], k1[k], order[k]
                k -= 1
            k0[k + 1], k1[k + 1], order[k + 1] = x0, x1, xi
    for k in range(n):
        for j in range(ell):
            w = k0[k] if j < 8 else k1[k]
            out[k, j] = np.uint8((w >> np.uint64(8 * (j % 8))) & np.uint64(0xFF))


@njit(cache=True, nogil=True)
def is_sorted(tw):
    for i in range(1, tw.shape[0]):
        if tw[i, 0] < tw[i - 1, 0] or (tw[i, 0] == tw[i - 1, 0] and tw[i, 1] < tw[i - 1, 1]):
            return False
    return True


@njit(cache=True, nogil=True)
def strictly_increasing(tw):
    for i in range(1, tw.shape[0]):
        if tw[i, 0] < tw[i - 1, 0] or (tw[i, 0] == tw[i - 1, 0] and tw[i, 1] <= tw[i - 1, 1]):
            return False
    return True


#: Queries ahead of the current one whose bucket start (2·) and first value (1·) are prefetched.
_AHEAD = 16


@njit(cache=True, nogil=True)
def bucket_starts(tw, bits, shift):
    """``start[b]``: the first of the sorted tag words ``tw`` in bucket ``b`` (top ``bits`` bits of word 0)."""
    start = np.zeros((1 << bits) + 1, dtype=np.int64)
    sh = np.uint64(shift)
    for i in range(tw.shape[0]):
        start[np.int64(tw[i, 0] >> sh) + 1] += 1
    for b in range(1 << bits):
        start[b + 1] += start[b]
    return start


@njit(cache=True, nogil=True)
def lookup_in(start, tw, queries, shift, found):
    """Position of each query in the sorted tag words ``tw`` (index ``start`` from :func:`bucket_starts`),
    or -1; the index is built once for callers that look up in parts. Queries are pseudorandom: the
    bucket start of the query ``2·_AHEAD`` on and the first tag word of the one ``_AHEAD`` on are
    prefetched, so the cache misses overlap (lists far larger than the cache at 2^22)."""
    sh = np.uint64(shift)
    nq = queries.shape[0]
    n = tw.shape[0]
    for r in range(min(2 * _AHEAD, nq)):
        prefetch_read1(start, np.int64(queries[r, 0] >> sh))
    for r in range(nq):
        if r + 2 * _AHEAD < nq:
            prefetch_read1(start, np.int64(queries[r + 2 * _AHEAD, 0] >> sh))
        if r + _AHEAD < nq and n:
            prefetch_read(tw, min(start[np.int64(queries[r + _AHEAD, 0] >> sh)], n - 1), 0)
        q0 = queries[r, 0]
        q1 = queries[r, 1]
        b = np.int64(q0 >> sh)
        found[r] = -1
        for p in range(start[b], start[b + 1]):
            if tw[p, 0] == q0 and tw[p, 1] == q1:
                found[r] = p
                break


@njit(cache=True, nogil=True)
def lookup(sorted_tw, queries, bits, shift, found):
    """Position of each query in the sorted values, or -1: the bucket index, then a short scan per
    query with the misses prefetched ahead (:func:`lookup_in`)."""
    lookup_in(bucket_starts(sorted_tw, bits, shift), sorted_tw, queries, shift, found)


@njit(cache=True, nogil=True)
def _find_kernel(ids, queries, slots, found):
    # Open addressing on the low word (ids are pseudorandom): one pass to insert, one to probe.
    mask = slots.shape[0] - 1
    for i in range(ids.shape[0]):
        s = np.int64(ids[i, 0] & np.uint64(mask))
        while slots[s] >= 0:
            s = (s + 1) & mask
        slots[s] = i
    for r in range(queries.shape[0]):
        s = np.int64(queries[r, 0] & np.uint64(mask))
        found[r] = -1
        while slots[s] >= 0:
            j = slots[s]
            if ids[j, 0] == queries[r, 0] and ids[j, 1] == queries[r, 1]:
                found[r] = j
                break
            s = (s + 1) & mask


def find_rows(rows16: np.ndarray, queries16: np.ndarray) -> np.ndarray:
    """Index in ``rows16`` (distinct ``(n, 16)`` rows) of each query row, or -1; linear time, no sort."""
    found = np.empty(queries16.shape[0], dtype=np.int64)
    if queries16.shape[0]:
        slots = np.full(1 << (2 * max(1, rows16.shape[0]) - 1).bit_length(), -1, dtype=np.int64)
        _find_kernel(np.ascontiguousarray(rows16).view(np.uint64), np.ascontiguousarray(queries16).view(np.uint64),
                     slots, found)
    return found


def sorted_rows(rows16: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(sorted, order)`` for ``(k, 16)`` uint8 rows: ``sorted[j] = rows16[order[j]]``."""
    k = rows16.shape[0]
    out = np.empty((k, 16), dtype=np.uint8)
    order = np.empty(k, dtype=np.int64)
    if k:
        sort_values(np.ascontiguousarray(rows16).view(np.uint64), 16, *bucket_bits(k, 16), order, out)
    return out, order


@njit(inline="always")
def _key(rows, i, lo, hi):
    """Little-endian u64 of ``rows[i, lo:hi]`` (at most 8 bytes), zero above: a tag word."""
    w = np.uint64(0)
    for k in range(hi - lo):
        w |= np.uint64(rows[i, lo + k]) << np.uint64(8 * k)
    return w


@njit(cache=True, nogil=True)
def _count_rows(src, lo, hi, ell, shift, counts):
    e0 = min(ell, 8)
    sh = np.uint64(shift)
    for i in range(lo, hi):
        counts[np.int64(_key(src, i, 0, e0) >> sh)] += 1


@njit(cache=True, nogil=True)
def _scatter_rows(src, lo, hi, ell, shift, fill, dst, k0, k1):
    """Rows ``lo:hi`` straight to their bucket (one read and one write each), their tag words beside them."""
    n, w = src.shape
    e0 = min(ell, 8)
    sh = np.uint64(shift)
    for i in range(lo, hi):
        a = _key(src, i, 0, e0)
        b = np.int64(a >> sh)
        p = fill[b]
        fill[b] += 1
        k0[p] = a
        k1[p] = _key(src, i, 8, max(ell, 8))
        for j in range(w):
            dst[p, j] = src[i, j]


@njit(cache=True, nogil=True)
def _sort_buckets(start, blo, bhi, dst, k0, k1):
    """Insertion sort inside buckets ``blo:bhi`` (they hold ~4 rows: the tags are pseudorandom)."""
    w = dst.shape[1]
    tmp = np.empty(w, dtype=np.uint8)
    for b in range(blo, bhi):
        lo = start[b]
        for a in range(lo + 1, start[b + 1]):
            x0, x1 = k0[a], k1[a]
            k = a - 1
            if k0[k] < x0 or (k0[k] == x0 and k1[k] <= x1):
                continue
            for j in range(w):
                tmp[j] = dst[a, j]
            while k >= lo and (k0[k] > x0 or (k0[k] == x0 and k1[k] > x1)):
                k0[k + 1], k1[k + 1] = k0[k], k1[k]
                for j in range(w):
                    dst[k + 1, j] = dst[k, j]
                k -= 1
            k0[k + 1], k1[k + 1] = x0, x1
            for j in range(w):
                dst[k + 1, j] = tmp[j]


def sort_rows_by_tag(rows: np.ndarray, ell: int, workers: int = 1) -> np.ndarray:
    """A copy of ``(n, w)`` uint8 ``rows`` sorted by their first ``ell`` bytes as tag words (the order
    :func:`is_sorted` checks), in linear time: a bucket scatter of whole rows, then insertion sort.
    ``workers`` threads share each pass (rows, then buckets) without repeating work."""
    n, w = rows.shape
    out = np.empty((n, w), dtype=np.uint8)
    if not n:
        return out
    rows = np.ascontiguousarray(rows)
    bits, shift = bucket_bits(n, ell)
    nbk = 1 << bits
    k0, k1 = np.empty(n, np.uint64), np.empty(n, np.uint64)
    workers = max(1, workers)
    rcut = np.linspace(0, n, workers + 1).astype(np.int64)
    bcut = np.linspace(0, nbk, workers + 1).astype(np.int64)
    counts = np.zeros((workers, nbk), dtype=np.int64)
    in_threads(lambda t: _count_rows(rows, rcut[t], rcut[t + 1], ell, shift, counts[t]), [(t,) for t in range(workers)])
    start = np.zeros(nbk + 1, dtype=np.int64)
    np.cumsum(counts.sum(axis=0), out=start[1:])
    # Worker t's rows of bucket b follow those of workers < t: the scatter is stable, like one pass.
    fills = start[:-1] + np.cumsum(counts, axis=0) - counts
    in_threads(lambda t: _scatter_rows(rows, rcut[t], rcut[t + 1], ell, shift, fills[t], out, k0, k1),
               [(t,) for t in range(workers)])
    in_threads(lambda t: _sort_buckets(start, bcut[t], bcut[t + 1], out, k0, k1), [(t,) for t in range(workers)])
    return out


def in_threads(fn, parts) -> None:
    """``fn(*part)`` for every part, on one thread each beyond the first (for nogil kernels)."""
    if len(parts) <= 1:
        for part in parts:
            fn(*part)
        return
    with ThreadPoolExecutor(max_workers=len(parts) - 1, thread_name_prefix="pqmpc-psi") as ex:
        futures = [ex.submit(fn, *part) for part in parts[1:]]
        fn(*parts[0])
        for fut in futures:
            fut.result()


def send_rows(ch: Channel, rows: np.ndarray, terminated: bool = False) -> None:
    """Send a list in frames of at most :data:`FRAME_ROWS` rows.

    With ``terminated`` the receiver does not know the length: the last frame
    is the first one shorter than ``FRAME_ROWS`` (possibly empty).
    """
    n = rows.shape[0]
    per = frame_rows(rows.dtype.itemsize * int(np.prod(rows.shape[1:])))
    for a in range(0, n, per):
        ch.send(np.ascontiguousarray(rows[a:a + per]))
    if terminated and n % per == 0:
        ch.send(np.zeros((0,) + rows.shape[1:], dtype=rows.dtype))


def _join(parts: list[np.ndarray], width: int, dtype) -> np.ndarray:
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.zeros((0, width), dtype=dtype)


def recv_rows(ch: Channel, n: int, width: int, step: str, dtype=np.uint8) -> np.ndarray:
    """Receive exactly ``n`` rows of ``width`` as :func:`send_rows` sent them (each frame size-checked)."""
    parts = []
    per = frame_rows(np.dtype(dtype).itemsize * width)
    for a in range(0, n, per):
        parts.append(ch.recv_array(dtype, (min(per, n - a), width), step))
    return _join(parts, width, dtype)


def recv_rows_upto(ch: Channel, limit: int, width: int, step: str, dtype=np.uint8) -> np.ndarray:
    """Receive a terminated list (``send_rows(..., terminated=True)``) of at most ``limit`` rows."""
    parts = []
    total = 0
    row_bytes = np.dtype(dtype).itemsize * width
    per = frame_rows(row_bytes)
    while True:
        # The cap is checked on the announced length, before anything is allocated.
        frame = ch.recv_array(dtype, (-1, width), step, max_bytes=min(per, limit - total + 1) * row_bytes)
        k = frame.shape[0]
        total += k
        if total > limit:
            raise ProtocolError(f"{step}: more than {limit} rows")
        parts.append(frame)
        if k < per:
            return _join(parts, width, dtype)
