"""Columns of byte strings for the output writers, handled in bulk (numba), never per row in Python.

A column is ``(data, offsets)``: value ``i`` is ``data[offsets[i]:offsets[i + 1]]``
(what :func:`pqmpc.psi.keys.encode_items` and pyarrow's large_string buffers
hold). The writers build every output line from such columns: gather rows,
escape for CSV or JSON, concatenate row-wise, and the CSV writer copies each
input record's bytes as they are (:func:`record_spans`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["record_spans", "record_windows", "gather", "gather_spans", "csv_escape", "json_escape", "concat_rows",
           "utf8_first_bad", "empty_column", "utf8_sequence_length"]


def empty_column(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0, dtype=np.uint8), np.zeros(n + 1, dtype=np.int64)


@njit(cache=True, nogil=True)
def _spans_window(buf, i, hi, at_end, delim, state, start, starts, ends, count_only):
    """:func:`_spans` over ``buf[i:hi]`` only, resumable: ``state`` and ``start`` (the current
    record's first byte) carry over from the window before. Returns ``(records, state, start)``;
    records -1 where a copy would not be exact. Offsets are absolute."""
    k = 0
    while i < hi:
        c = buf[i]
        if c == 0:
            return -1, state, start
        if state == 2:
            if c == 0x22:
                state = 3
        elif state == 3:
            if c == 0x22:
                state = 2
            elif c == delim:
                state = 0
            elif c == 0x0A or c == 0x0D:
                if not count_only:
                    starts[k] = start
                    ends[k] = i
                k += 1
                start = i + 1
                state = 0
            else:
                return -1, state, start
        elif c == 0x0A or c == 0x0D:
            if i > start:
                if not count_only:
                    starts[k] = start
                    ends[k] = i
                k += 1
            start = i + 1
            state = 0
        elif c == delim:
            state = 0
        elif state == 0:
            state = 2 if c == 0x22 else 1
        i += 1
    if at_end:
        if state == 2:
            return -1, state, start
        if hi > start:
            if not count_only:
                starts[k] = start
                ends[k] = hi
            k += 1
        start = hi
    return k, state, start


@njit(cache=True, nogil=True)
def _spans(buf, delim, starts, ends, count_only):
    """Record spans as the strict csv module splits records; -1 where it would not be exact.

    Mirrors :func:`pqmpc.cli.csvfast.scan` (quote states) and ends a record at
    a line break outside quotes; a blank line is no record, as in the reader.
    The whole buffer as one window of :func:`_spans_window`.
    """
    n = buf.shape[0]
    i = 3 if n >= 3 and buf[0] == 0xEF and buf[1] == 0xBB and buf[2] == 0xBF else 0
    k, _state, _start = _spans_window(buf, i, n, True, delim, 0, i, starts, ends, count_only)
    return k


def record_windows(buf: np.ndarray, delimiter: str, window: int = 32 << 20, fill: bool = True, release=None):
    """:func:`record_spans` a window of bytes at a time: yields ``(first, count, starts, ends)`` (``first``: the
    number of the window's first record, the header being 0; ``starts``/``ends`` empty unless ``fill``)
    and finally ``None`` where a copy would not be exact. ``release(upto)``: bytes before ``upto`` are
    no longer needed (the caller may drop them from memory)."""
    d = np.uint8(ord(delimiter))
    n = buf.shape[0]
    i = 3 if n >= 3 and buf[0] == 0xEF and buf[1] == 0xBB and buf[2] == 0xBF else 0
    state, start, first = 0, i, 0
    none = np.zeros(0, dtype=np.int64)
    while True:
        hi = min(n, i + window)
        at_end = hi == n
        k, st, nxt = _spans_window(buf, i, hi, at_end, d, state, start, none, none, True)
        if k < 0:
            yield None
            return
        starts = ends = none
        if fill and k:
            starts, ends = np.empty(k, dtype=np.int64), np.empty(k, dtype=np.int64)
            _spans_window(buf, i, hi, at_end, d, state, start, starts, ends, False)
        yield first, k, starts, ends
        first += k
        state, start, i = st, nxt, hi
        if release is not None:
            release(min(start, i))
        if at_end:
            return


def record_spans(buf: np.ndarray, delimiter: str) -> tuple[np.ndarray, np.ndarray] | None:
    """``(starts, ends)`` byte ranges of every record (header first, without line breaks) of a CSV file
    already read by :func:`pqmpc.cli.csvio.read_keys`; ``None`` where a copy would not be exact."""
    d = np.uint8(ord(delimiter))
    k = _spans(buf, d, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), True)
    if k < 0:
        return None
    starts, ends = np.empty(k, dtype=np.int64), np.empty(k, dtype=np.int64)
    _spans(buf, d, starts, ends, False)
    return starts, ends


@njit(cache=True, nogil=True)
def _gather_kernel(src, starts, ends, idx, null, out, offsets):
    for i in range(idx.shape[0]):
        j = idx[i]
        p = offsets[i]
        if j < 0:
            for t in range(null.shape[0]):
                out[p + t] = null[t]
        else:
            a = starts[j]
            for t in range(ends[j] - a):
                out[p + t] = src[a + t]


def gather_spans(src, starts, ends, idx, null: bytes = b"") -> tuple[np.ndarray, np.ndarray]:
    """Values ``src[starts[j]:ends[j]]`` for ``j`` in ``idx`` as a column; ``j < 0`` gives ``null``."""
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    lens = np.where(idx >= 0, (ends - starts)[np.maximum(idx, 0)] if starts.size else 0, len(null))
    offsets = np.zeros(idx.shape[0] + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    out = np.empty(int(offsets[-1]), dtype=np.uint8)
    _gather_kernel(src, np.ascontiguousarray(starts, dtype=np.int64), np.ascontiguousarray(ends, dtype=np.int64),
                   idx, np.frombuffer(null, dtype=np.uint8), out, offsets)
    return out, offsets


def gather(col, idx, null: bytes = b"") -> tuple[np.ndarray, np.ndarray]:
    """Rows ``idx`` of a column (``-1``: ``null``)."""
    d, o = col
    o = np.asarray(o, dtype=np.int64)
    return gather_spans(np.asarray(d, dtype=np.uint8), o[:-1], o[1:], idx, null)


@njit(cache=True, nogil=True)
def _csv_escape_kernel(data, offsets, delim, out, out_offsets, count_only, lens):
    for i in range(offsets.shape[0] - 1):
        a, b = offsets[i], offsets[i + 1]
        quote = False
        q = 0
        for t in range(a, b):
            c = data[t]
            if c == 0x22:
                q += 1
                quote = True
            elif c == delim or c == 0x0A or c == 0x0D:
                quote = True
        if count_only:
            lens[i] = (b - a) + (2 + q if quote else 0)
            continue
        p = out_offsets[i]
        if quote:
            out[p] = 0x22
            p += 1
        for t in range(a, b):
            c = data[t]
            out[p] = c
            p += 1
            if c == 0x22:
                out[p] = 0x22
                p += 1
        if quote:
            out[p] = 0x22


def csv_escape(col, delimiter: str) -> tuple[np.ndarray, np.ndarray]:
    """CSV fields: quoted (quotes doubled) only where a value holds the delimiter, a quote or a line break."""
    d, o = np.ascontiguousarray(col[0], dtype=np.uint8), np.ascontiguousarray(col[1], dtype=np.int64)
    n = o.shape[0] - 1
    lens = np.empty(n, dtype=np.int64)
    delim = np.uint8(ord(delimiter))
    _csv_escape_kernel(d, o, delim, np.zeros(0, dtype=np.uint8), o, True, lens)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    out = np.empty(int(offsets[-1]), dtype=np.uint8)
    _csv_escape_kernel(d, o, delim, out, offsets, False, lens)
    return out, offsets


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


@njit(cache=True, nogil=True)
def _json_escape_kernel(data, offsets, null, hexd, out, out_offsets, count_only, lens):
    for i in range(offsets.shape[0] - 1):
        a, b = offsets[i], offsets[i + 1]
        if null.shape[0] and null[i]:
            if count_only:
                lens[i] = 4
            else:
                p = out_offsets[i]
                out[p], out[p + 1], out[p + 2], out[p + 3] = 0x6E, 0x75, 0x6C, 0x6C  # null
            continue
        if count_only:
            m = 2
            for t in range(a, b):
                c = data[t]
                if c == 0x22 or c == 0x5C or c == 0x0A or c == 0x0D or c == 0x09:
                    m += 2
                elif c < 0x20:
                    m += 6
                else:
                    m += 1
            lens[i] = m
            continue
        p = out_offsets[i]
        out[p] = 0x22
        p += 1
        for t in range(a, b):
            c = data[t]
            if c == 0x22 or c == 0x5C:
                out[p] = 0x5C
                out[p + 1] = c
                p += 2
            elif c == 0x0A:
                out[p], out[p + 1] = 0x5C, 0x6E
                p += 2
            elif c == 0x0D:
                out[p], out[p + 1] = 0x5C, 0x72
                p += 2
            elif c == 0x09:
                out[p], out[p + 1] = 0x5C, 0x74
                p += 2
            elif c < 0x20:
                out[p], out[p + 1], out[p + 2], out[p + 3] = 0x5C, 0x75, 0x30, 0x30
                out[p + 4] = hexd[c >> 4]
                out[p + 5] = hexd[c & 15]
                p += 6
            else:
                out[p] = c
                p += 1
        out[p] = 0x22


def json_escape(col, null=None) -> tuple[np.ndarray, np.ndarray]:
    """JSON strings (UTF-8 kept, control characters escaped); ``null[i]`` true gives ``null``."""
    d, o = np.ascontiguousarray(col[0], dtype=np.uint8), np.ascontiguousarray(col[1], dtype=np.int64)
    n = o.shape[0] - 1
    nul = np.zeros(0, dtype=np.bool_) if null is None else np.ascontiguousarray(null, dtype=np.bool_)
    lens = np.empty(n, dtype=np.int64)
    _json_escape_kernel(d, o, nul, _HEX, np.zeros(0, dtype=np.uint8), o, True, lens)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    out = np.empty(int(offsets[-1]), dtype=np.uint8)
    _json_escape_kernel(d, o, nul, _HEX, out, offsets, False, lens)
    return out, offsets


@njit(cache=True, nogil=True)
def _scatter(dst, pos, src, offsets):
    for i in range(pos.shape[0]):
        a = offsets[i]
        p = pos[i]
        for j in range(offsets[i + 1] - a):
            dst[p + j] = src[a + j]


@njit(cache=True, nogil=True)
def _scatter_const(dst, pos, c):
    for i in range(pos.shape[0]):
        p = pos[i]
        for j in range(c.shape[0]):
            dst[p + j] = c[j]


def concat_rows(parts, n: int) -> np.ndarray:
    """The bytes of ``n`` rows, row ``i`` being the concatenation of every part's value ``i``.

    A part is a column ``(data, offsets)`` or a constant ``bytes`` (the same in every row)."""
    lens = np.zeros(n, dtype=np.int64)
    for p in parts:
        lens += len(p) if isinstance(p, bytes) else np.diff(p[1])
    total = int(lens.sum())
    out = np.empty(total, dtype=np.uint8)
    pos = np.zeros(n, dtype=np.int64)
    if n:
        np.cumsum(lens[:-1], out=pos[1:])
    for p in parts:
        if isinstance(p, bytes):
            if p:
                _scatter_const(out, pos, np.frombuffer(p, dtype=np.uint8))
                pos += len(p)
        else:
            d, o = np.ascontiguousarray(p[0], dtype=np.uint8), np.ascontiguousarray(p[1], dtype=np.int64)
            _scatter(out, pos, d, o)
            pos += np.diff(o)
    return out


@njit(cache=True, nogil=True)
def utf8_sequence_length(buf, i, end):
    """Bytes of the UTF-8 sequence that starts at ``buf[i]`` (a byte >= 0x80) and ends before ``end``,
    or 0 when it is not a valid one (overlong, surrogate, above U+10FFFF, or cut off)."""
    c = buf[i]
    if 0xC2 <= c <= 0xDF:
        k, lo, hi = 1, 0x80, 0xBF
    elif c == 0xE0:
        k, lo, hi = 2, 0xA0, 0xBF
    elif c == 0xED:
        k, lo, hi = 2, 0x80, 0x9F
    elif 0xE1 <= c <= 0xEF:
        k, lo, hi = 2, 0x80, 0xBF
    elif c == 0xF0:
        k, lo, hi = 3, 0x90, 0xBF
    elif 0xF1 <= c <= 0xF3:
        k, lo, hi = 3, 0x80, 0xBF
    elif c == 0xF4:
        k, lo, hi = 3, 0x80, 0x8F
    else:
        return 0
    if i + k >= end or not lo <= buf[i + 1] <= hi:
        return 0
    for j in range(2, k + 1):
        if not 0x80 <= buf[i + j] <= 0xBF:
            return 0
    return k + 1


@njit(cache=True, nogil=True)
def _utf8_kernel(data, offsets):
    for r in range(offsets.shape[0] - 1):
        i, end = offsets[r], offsets[r + 1]
        while i < end:
            if data[i] < 0x80:
                i += 1
                continue
            k = utf8_sequence_length(data, i, end)
            if k == 0:
                return r
            i += k
    return -1


def utf8_first_bad(col) -> int:
    """The first value that is not UTF-8, or -1."""
    return int(_utf8_kernel(np.ascontiguousarray(col[0], dtype=np.uint8),
                            np.ascontiguousarray(col[1], dtype=np.int64)))
