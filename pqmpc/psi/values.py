"""Sorted value lists for PSI's comparison steps: sorting, lookup, and framed transfer.

The sender's OPRF values (step 6) and the matched ids (step 7) travel as
lists of ``ℓ``-byte values sorted ascending by the little-endian ``u64`` of
bytes 0–7, then of bytes 8–15 (zero-padded to 16 bytes). A sorted list says
nothing about the order it was computed in; the order is checked on receipt.

Kernels work on ``(n, 2)`` uint64 views ("tag words") and bucket values by
their top bits: values are pseudorandom, so buckets hold ~4 values each and
both sorting and lookup run in linear time.

Lists longer than :data:`FRAME_ROWS` rows go out in several frames so that
no message grows with the set beyond a fixed cap: a peer's announcement can
only make us allocate what it actually sends, and sets up to the 2^30-item
limit fit under the channel's message cap.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ProtocolError
from ..net import Channel

__all__ = ["FRAME_ROWS", "tag_words", "bucket_bits", "sort_values", "is_sorted", "strictly_increasing",
           "lookup", "find_rows", "sorted_rows", "send_rows", "recv_rows", "recv_rows_upto"]

#: Rows per frame of a long list (2^22 rows: at most 64 MiB of 16-byte values).
FRAME_ROWS = 1 << 22


def tag_words(values: np.ndarray, ell: int) -> np.ndarray:
    """``(n, 2)`` uint64: the first ``ell`` bytes of each row of ``values``, zero above."""
    t = np.zeros((values.shape[0], 16), dtype=np.uint8)
    t[:, :ell] = values[:, :ell]
    return t.view(np.uint64)


def bucket_bits(n: int, ell: int) -> tuple[int, int]:
    """(bits, shift): bucket values by their top ``bits`` bits (≈ 4 values per bucket)."""
    bits = int(min(20, max(1, (max(n, 1)).bit_length() - 2)))
    return bits, 8 * min(ell, 8) - bits


@njit(cache=True, nogil=True)
def sort_values(tw, ell, bits, shift, order, out):
    """Sort the values by (word 0, word 1) — a bucket pass on the top bits of word 0,
    then insertion sort inside each (tiny: the values are pseudorandom) — and
    write the first ``ell`` bytes of each, in order, to ``out``; ``order[k]`` is
    the row that went to position ``k``."""
    n = tw.shape[0]
    nbk = 1 << bits
    sh = np.uint64(shift)
    start = np.zeros(nbk + 1, dtype=np.int64)
    for i in range(n):
        start[np.int64(tw[i, 0] >> sh) + 1] += 1
    for b in range(nbk):
        start[b + 1] += start[b]
    fill = start[:-1].copy()
    for i in range(n):
        b = np.int64(tw[i, 0] >> sh)
        order[fill[b]] = i
        fill[b] += 1
    for b in range(nbk):
        lo = start[b]
        for a in range(lo + 1, start[b + 1]):
            x = order[a]
            k = a - 1
            while k >= lo and (tw[order[k], 0] > tw[x, 0]
                               or (tw[order[k], 0] == tw[x, 0] and tw[order[k], 1] > tw[x, 1])):
                order[k + 1] = order[k]
                k -= 1
            order[k + 1] = x
    raw = tw.view(np.uint8).reshape(n, 16)
    for k in range(n):
        src = order[k]
        for j in range(ell):
            out[k, j] = raw[src, j]


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


@njit(cache=True, nogil=True)
def lookup(sorted_tw, queries, bits, shift, found):
    """Position of each query in the sorted values, or -1 (bucket index, then a short scan)."""
    n = sorted_tw.shape[0]
    nbk = 1 << bits
    sh = np.uint64(shift)
    start = np.zeros(nbk + 1, dtype=np.int64)
    for i in range(n):
        start[np.int64(sorted_tw[i, 0] >> sh) + 1] += 1
    for b in range(nbk):
        start[b + 1] += start[b]
    for r in range(queries.shape[0]):
        q0 = queries[r, 0]
        q1 = queries[r, 1]
        b = np.int64(q0 >> sh)
        found[r] = -1
        for p in range(start[b], start[b + 1]):
            if sorted_tw[p, 0] == q0 and sorted_tw[p, 1] == q1:
                found[r] = p
                break


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


def send_rows(ch: Channel, rows: np.ndarray, terminated: bool = False) -> None:
    """Send a list in frames of at most :data:`FRAME_ROWS` rows.

    With ``terminated`` the receiver does not know the length: the last frame
    is the first one shorter than ``FRAME_ROWS`` (possibly empty).
    """
    n = rows.shape[0]
    for a in range(0, n, FRAME_ROWS):
        ch.send(np.ascontiguousarray(rows[a:a + FRAME_ROWS]))
    if terminated and n % FRAME_ROWS == 0:
        ch.send(np.zeros((0,) + rows.shape[1:], dtype=rows.dtype))


def _join(parts: list[np.ndarray], width: int, dtype) -> np.ndarray:
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.zeros((0, width), dtype=dtype)


def recv_rows(ch: Channel, n: int, width: int, step: str, dtype=np.uint8) -> np.ndarray:
    """Receive exactly ``n`` rows of ``width`` as :func:`send_rows` sent them (each frame size-checked)."""
    parts = []
    for a in range(0, n, FRAME_ROWS):
        parts.append(ch.recv_array(dtype, (min(FRAME_ROWS, n - a), width), step))
    return _join(parts, width, dtype)


def recv_rows_upto(ch: Channel, limit: int, width: int, step: str, dtype=np.uint8) -> np.ndarray:
    """Receive a terminated list (``send_rows(..., terminated=True)``) of at most ``limit`` rows."""
    parts = []
    total = 0
    row_bytes = np.dtype(dtype).itemsize * width
    while True:
        # The cap is checked on the announced length, before anything is allocated.
        frame = ch.recv_array(dtype, (-1, width), step, max_bytes=min(FRAME_ROWS, limit - total + 1) * row_bytes)
        k = frame.shape[0]
        total += k
        if total > limit:
            raise ProtocolError(f"{step}: more than {limit} rows")
        parts.append(frame)
        if k < FRAME_ROWS:
            return _join(parts, width, dtype)
