"""Receiver, one list (RR22): open the matching entries straight into the join, when no item repeats.

What :func:`.payload.open_entries` followed by :func:`.payload_join.join_pairs` gives, in fewer
passes and without their set-sized temporaries: the lookups of both threads fill one table, the
matches are ordered by entry (so the entries are read forward) and each gets its item's place in
the join up front, then the opening kernel writes each payload straight to that place in the
result. The matched-rows pass is the join's own.

It applies when the sender sent one row per item (every opened header counts 1 row) and no two
queries hit one entry (a false tag match); anything else — sender duplicates, a malformed header —
returns ``None`` and the caller takes the general path on the same entries, which handles
duplicates and names the error. A failed MAC is a :class:`ProtocolError` here as there.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ProtocolError
from ..primitives.aes_kernels import aes128_load_keys, fixed_key_schedule
from ..primitives.gf128 import gf128_mul_ni
from . import payload_kernels as K
from .payload_join import HEADER, PayloadJoin, count_matched, matched_rows
from .payload_simd import load_u64, prefetch_read, prefetch_write, prefetch_write1, store_u64
from .values import in_threads, lookup_in

__all__ = ["open_joined"]

_AHEAD = 16
#: Matches below which one thread opens them all.
_SPLIT = 1 << 16


@njit(cache=True, nogil=True)
def _hit_places(found, order, n_distinct, slot, place, frow, erow, dest):
    """Matches in entry order and their places in the join; returns their number ``m``, or -1 when
    two queries found one entry.

    ``slot[p]`` (all -1 on entry): the query that found entry ``p``; ``place[d]``: the rank of
    distinct item ``d`` among the matched items, or -1. For the k-th match in entry order
    (``k < m``): ``frow[k]`` its query, ``erow[k]`` its entry, ``dest[k]`` its item's place."""
    m = 0
    for q in range(found.shape[0]):
        p = found[q]
        if p >= 0:
            if slot[p] >= 0:
                return -1
            slot[p] = q
            m += 1
    k = 0
    for p in range(slot.shape[0]):
        q = slot[p]
        if q >= 0:
            frow[k] = q
            erow[k] = p
            k += 1
    for d in range(n_distinct):
        place[d] = -1
    for k in range(m):
        place[order[frow[k]]] = 0
    c = 0
    for d in range(n_distinct):
        if place[d] == 0:
            place[d] = c
            c += 1
    for k in range(m):
        dest[k] = place[order[frow[k]]]
    return m


@njit(cache=True, nogil=True)
def _iota(a):
    for i in range(a.shape[0]):
        a[i] = i


@njit(inline="always")
def _put(data, d, o, width, w):
    """Word ``w`` as payload bytes ``o .. o+7`` of row ``d`` (those below ``width``)."""
    if o + 8 <= width:
        store_u64(data, d, o, w)
    else:
        for j in range(max(0, min(8, width - o))):
            data[d, o + j] = np.uint8((w >> np.uint64(8 * j)) & np.uint64(0xFF))


@njit(cache=True, nogil=True)
def _open_placed(rk, f, frow, zeros, entries, erow, dest, ell, width, nblk, tag, lo, hi, data, lens):
    """Matches ``lo:hi``: entry ``erow[k]`` opened under key ``f[frow[k]]`` (rank 0: ``zeros``); its padded
    payload to row ``dest[k]`` of ``data``, its length to ``lens[dest[k]]`` (-1 when the header is
    not (length ≤ ``width``, 1 row)). Returns the first match whose MAC fails, or -1."""
    ks = aes128_load_keys(rk)
    plen = HEADER + width
    hs = np.empty((8, nblk + 3, 2), dtype=np.uint64)
    bad = -1
    for k in range(lo, min(hi, lo + _AHEAD)):
        prefetch_read(f, frow[k], 0)
        prefetch_read(entries, erow[k], 0)
        if width:
            prefetch_write(data, dest[k], 0)
    for k0 in range(lo, hi, 8):
        # keys, entries and result rows of the group _AHEAD matches on: keys and result rows are random
        for k in range(k0 + _AHEAD, min(hi, k0 + _AHEAD + 8)):
            prefetch_read(f, frow[k], 0)
            prefetch_read(entries, erow[k], 0)
            if width:
                prefetch_write(data, dest[k], 0)
            prefetch_write1(lens, dest[k])
        K.hashes8(ks, f, frow, k0, hi, zeros, nblk + 3, tag, hs, 1)
        for g in range(min(8, hi - k0)):
            k = k0 + g
            e = erow[k]
            d = dest[k]
            h = (hs[g, nblk + 1, 0], hs[g, nblk + 1, 1])
            acc = (np.uint64(0), np.uint64(0))
            head = np.uint64(0)
            for b in range(nblk):
                c = K.load_masked((load_u64(entries, e, ell + 16 * b), load_u64(entries, e, ell + 16 * b + 8)),
                                  plen - 16 * b)
                acc = gf128_mul_ni((acc[0] ^ c[0], acc[1] ^ c[1]), h)
                w0 = c[0] ^ hs[g, b + 1, 0]
                w1 = c[1] ^ hs[g, b + 1, 1]
                # plaintext bytes 16b .. 16b+15; the payload starts after the 8-byte header
                if b == 0:
                    head = w0
                else:
                    _put(data, d, 16 * b - 8, width, w0)
                _put(data, d, 16 * b, width, w1)
            if bad < 0 and ((acc[0] ^ hs[g, nblk + 2, 0]) != load_u64(entries, e, ell + plen)
                            or (acc[1] ^ hs[g, nblk + 2, 1]) != load_u64(entries, e, ell + plen + 8)):
                bad = k
            ln = np.int64(head & np.uint64(0xFFFFFFFF))
            cnt = np.int64(head >> np.uint64(32))
            lens[d] = ln if (ln <= width and cnt == 1) else -1
    return bad


@njit(cache=True, nogil=True)
def _compact(data, lens, out, offsets):
    """The payloads ``data[d, :lens[d]]`` one after another into ``out`` (``offsets`` already summed)."""
    for d in range(lens.shape[0]):
        a = offsets[d]
        for j in range(lens[d]):
            out[a + j] = data[d, j]


def open_joined(entries, tw, index, f, order, inverse, ell: int, width: int, nblk: int, tag: int, shift: int,
                step: str, pool, workers: int = 2):
    """``(hits, join)`` — the sorted distinct items with a match and the :class:`PayloadJoin` — or ``None``
    when the general path must decide (see the module docstring). ``f[i]`` is the OPRF value of
    distinct item ``order[i]``; ``inverse[r]`` the distinct item of own row ``r``; ``tw``/``index``
    from :func:`.payload.index_sorted`. Scratch comes from ``pool`` (a ``ScratchPool``); the
    results are fresh arrays."""
    nq = f.shape[0]
    n_rows = entries.shape[0]
    n_distinct = order.shape[0]
    rk = fixed_key_schedule()
    f = np.ascontiguousarray(f)
    f64 = f.view(np.uint64)
    found = pool.get("payload found", nq, np.int64)
    qtw = pool.get("payload query tags", (nq, 2), np.uint64)
    zeros = pool.get("payload zero ranks", nq, np.int64)
    zeros.fill(0)
    t = max(1, min(workers, nq // _SPLIT))
    cuts = np.linspace(0, nq, t + 1).astype(np.int64)
    qall = pool.get("payload query rows", nq, np.int64)
    _iota(qall)

    def look(a, b):
        K.tag_kernel(rk, f64, qall, zeros, ell, np.uint64(tag), a, b, qtw)
        lookup_in(index, tw, qtw[a:b], shift, found[a:b])

    in_threads(look, [(int(cuts[i]), int(cuts[i + 1])) for i in range(t)])
    # int32: at most 2^30 rows and items, half the memory to touch
    slot = pool.get("payload slot", n_rows, np.int32)
    slot.fill(-1)
    place = pool.get("payload place", n_distinct, np.int32)
    frow, erow, dest = (pool.get(f"payload match {w}", nq, np.int64) for w in ("queries", "entries", "places"))
    m = _hit_places(found, np.ascontiguousarray(order, dtype=np.int64), n_distinct, slot, place, frow, erow, dest)
    if m < 0:
        return None
    frow, erow, dest = frow[:m], erow[:m], dest[:m]
    data = np.empty((m, width), dtype=np.uint8)  # the result's bytes when every payload is full
    lens = pool.get("payload lengths", m, np.int64)
    t = max(1, min(workers, m // _SPLIT))
    mcuts = np.linspace(0, m, t + 1).astype(np.int64)
    bad = [-1] * t
    inverse = np.ascontiguousarray(inverse, dtype=np.int64)
    rows = np.empty(count_matched(inverse, place), dtype=np.int64)
    pidx = np.empty(rows.shape[0], dtype=np.int64)

    def task(i):
        if i < t:
            bad[i] = _open_placed(rk, f64, frow, zeros, entries, erow, dest, ell, width, nblk, np.uint64(tag),
                                  mcuts[i], mcuts[i + 1], data, lens)
        else:  # the join's rows need only the places: listed alongside the opening, not after it
            matched_rows(inverse, place, rows, pidx)

    in_threads(task, [(i,) for i in range(t + 1)])
    if any(b >= 0 for b in bad):
        raise ProtocolError(f"{step}: a matching entry fails authentication (tampered payload)")
    if m and int(lens.min()) < 0:
        return None  # a sender duplicate (or a bad header): the general path
    offsets = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    if m and int(offsets[-1]) == m * width:
        flat = data.reshape(-1)
    else:
        flat = np.empty(int(offsets[-1]), dtype=np.uint8)
        _compact(data, lens, flat, offsets)
    hits = np.flatnonzero(place[:n_distinct] >= 0)
    return hits, PayloadJoin(rows=rows, payload_index=pidx, data=flat, offsets=offsets)
