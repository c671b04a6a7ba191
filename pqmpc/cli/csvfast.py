"""The fast path of :func:`pqmpc.cli.csvio.read_keys`: pyarrow's multithreaded CSV reader and Parquet.

The CSV reader runs only on files it reads exactly as the stdlib ``csv``
module would: :func:`scan` checks the raw bytes first (quoting as strict
``csv`` accepts it, UTF-8, no NUL), and anything it cannot vouch for — a
malformed quote, bad UTF-8, a NUL byte, an empty key, a repeated column name —
returns ``None`` so that the stdlib reader decides and names the file, line
and column. Key normalising and combining happen in bulk (pyarrow compute,
numba), never per row in Python. A ``.parquet`` input needs pyarrow; its
"lines" are rows (1 = the first row).
"""

from __future__ import annotations

import csv
import functools
import os
import sys

import numpy as np
from numba import njit

from ..errors import InputError
from ..psi import keys as psikeys
from .bytecols import utf8_sequence_length
from .csvio import KeyTable, find_column, normalizer, open_text

__all__ = ["scan", "read_keys_arrow", "read_parquet", "parquet_module", "read_all_arrow", "iter_all_arrow",
           "string_buffers"]

#: Bytes per block of the streaming CSV reader.
READ_BLOCK = 4 << 20



@njit(cache=True, nogil=True)
def scan(buf, delim):
    """One pass over the raw file: 1 if every quote is used as the csv module's strict mode
    accepts, the bytes are UTF-8 and there is no NUL, plus 2 if a quoted field holds a line
    break; -1 otherwise (then the stdlib reader decides, and names the problem)."""
    n = buf.shape[0]
    i = 3 if n >= 3 and buf[0] == 0xEF and buf[1] == 0xBB and buf[2] == 0xBF else 0
    state = 0  # 0 field start, 1 unquoted field, 2 quoted field, 3 quote seen inside a quoted field
    newline_in_quotes = False
    while i < n:
        c = buf[i]
        if c == 0:
            return -1
        if c >= 0x80:  # UTF-8 sequence: never a delimiter, quote or line break
            k = utf8_sequence_length(buf, i, n)
            if k == 0:
                return -1
            if state == 0:
                state = 1
            elif state == 3:
                return -1
            i += k
            continue
        if state == 2:
            if c == 0x22:
                state = 3
            elif c == 0x0A or c == 0x0D:
                newline_in_quotes = True
        elif state == 3:
            if c == 0x22:
                state = 2
            elif c == delim:
                state = 0
            elif c == 0x0A or c == 0x0D:
                state = 0
            else:
                return -1  # "abc"def: csv (strict) refuses it, pyarrow would read abcdef
        elif c == delim:
            state = 0
        elif c == 0x0A or c == 0x0D:
            state = 0
        elif state == 0:
            state = 2 if c == 0x22 else 1
        i += 1
    if state == 2:
        return -1  # an unterminated quote
    return 1 + (2 if newline_in_quotes else 0)


@functools.lru_cache(maxsize=1)
def _python_whitespace() -> str:
    """Every character ``str.strip()`` removes, so that pyarrow trims exactly as Python does."""
    return "".join(ch for ch in map(chr, range(sys.maxunicode + 1)) if ch.isspace())


def _normalize_arrow(arr, steps: list[str], pool=None):
    """NFC/trim/lower in bulk: pyarrow for ASCII values (where its rules are Python's), Python for the rest."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not steps:
        return arr
    out = arr
    if "trim" in steps:
        out = pc.utf8_trim(out, characters=_python_whitespace(), memory_pool=pool)
    if "lower" in steps:
        out = pc.ascii_lower(out, memory_pool=pool)
    if "nfc" in steps or "lower" in steps:
        non_ascii = pc.invert(pc.string_is_ascii(arr, memory_pool=pool), memory_pool=pool)
        if pc.any(non_ascii).as_py():
            # Unicode case mapping and NFC follow Python's tables on the values that need them.
            norm = normalizer(steps)
            idx = np.flatnonzero(non_ascii.to_numpy(zero_copy_only=False))
            fixed = pa.array([norm(v) for v in arr.take(pa.array(idx)).to_pylist()], type=arr.type)
            out = pc.replace_with_mask(out, non_ascii, fixed, memory_pool=pool)
    return out


def string_buffers(arr) -> tuple[np.ndarray, np.ndarray]:
    """``(data, offsets)`` views of a large_string array (no copy)."""
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64)[arr.offset:arr.offset + len(arr) + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, dtype=np.uint8)
    return data, offsets


def _header_stdlib(path: str, delimiter: str):
    with open_text(path) as fh:
        reader = csv.reader(fh, delimiter=delimiter, strict=True)
        try:
            return next((r for r in reader if r), None)
        except (UnicodeDecodeError, csv.Error):
            return None


def read_keys_arrow(path, key_columns, delimiter, normalize, payload_columns=(), progress=None) -> KeyTable | None:
    """The fast path, or ``None`` where the stdlib reader must decide."""
    if ord(delimiter) >= 0x80 or not os.path.isfile(path) or os.path.getsize(path) == 0:
        return None
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    try:
        buf = np.memmap(path, dtype=np.uint8, mode="r")
    except (OSError, ValueError):
        return None
    status = scan(buf, np.uint8(ord(delimiter)))
    del buf
    if status < 0:
        return None
    header = _header_stdlib(path, delimiter)
    if header is None:
        return None
    idx = [find_column(path, header, c) for c in key_columns]  # the same errors as the stdlib reader
    pnames = [header[find_column(path, header, c)] for c in payload_columns]
    names = [header[i] for i in idx]
    if any(header.count(nm) > 1 for nm in names + pnames):
        return None
    # Streamed in blocks: each block's keys are normalised and combined at once, so memory holds
    # the combined keys plus a few blocks (read_csv held every cell of the key columns as well:
    # 1.4 GB at 10^7 rows against 0.35 GB of keys), and the progress bar moves with the bytes read.
    size = max(1, os.path.getsize(path))
    parts = []
    try:
        with pa.OSFile(path) as f:
            reader = pa_csv.open_csv(
                f,
                read_options=pa_csv.ReadOptions(use_threads=True, block_size=READ_BLOCK),
                parse_options=pa_csv.ParseOptions(delimiter=delimiter, quote_char='"', double_quote=True,
                                                  escape_char=False, newlines_in_values=bool(status & 2),
                                                  ignore_empty_lines=True),
                convert_options=pa_csv.ConvertOptions(include_columns=list(dict.fromkeys(names + pnames)),
                                                      column_types={nm: pa.large_string() for nm in names + pnames},
                                                      strings_can_be_null=False, quoted_strings_can_be_null=False,
                                                      check_utf8=True),
                # The system allocator gives freed blocks back; mimalloc's pool kept ~100 MB at 10^6 rows.
                memory_pool=pa.system_memory_pool())
            for rb in reader:
                part = _table_from_arrow(path, header, key_columns, [rb.column(nm) for nm in names], normalize,
                                         skip_empty=False, engine="arrow",
                                         payload=(payload_columns, [rb.column(nm) for nm in pnames]))
                if part is None:
                    return None
                parts.append(part)
                if progress is not None:
                    progress.update(min(size, f.tell()), size)
    except (pa.ArrowException, OSError, ValueError):
        return None
    return _concat_tables(path, header, key_columns, payload_columns, parts)


def _concat_columns(parts, attr: str, count: int):
    """One ``(data, offsets)`` from the blocks' ``attr`` columns, each block's freed once copied (the
    fresh array's pages become resident only as they are written: the peak is the result plus a
    block, not twice the result)."""
    if not parts:
        return psikeys.combine_encoded([(np.zeros(0, dtype=np.uint8), np.zeros(1, dtype=np.int64))] * count)
    if len(parts) == 1:
        return getattr(parts[0], attr)
    total_rows = sum(getattr(p, attr)[1].shape[0] - 1 for p in parts)
    total_bytes = sum(int(getattr(p, attr)[1][-1]) for p in parts)
    data = np.empty(total_bytes, dtype=np.uint8)
    offsets = np.empty(total_rows + 1, dtype=np.int64)
    offsets[0] = 0
    r = b = 0
    for i, p in enumerate(parts):
        d, o = getattr(p, attr)
        k = o.shape[0] - 1
        data[b:b + d.shape[0]] = d
        offsets[r + 1:r + k + 1] = o[1:] + b
        r, b = r + k, b + d.shape[0]
        setattr(p, attr, None)
        del d, o
        if i % 8 == 7:
            _trim()
    _trim()
    return data, offsets


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    try:
        import ctypes

        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def _trim() -> None:
    """Hand freed heap pages back to the system: the blocks are a few MB each, below malloc's mmap
    threshold, so their memory would stay resident beside the one array they were copied into."""
    f = _malloc_trim()
    if f is not None:
        f(0)


def _concat_tables(path, header, key_columns, payload_columns, parts) -> KeyTable:
    n = sum(p.rows_read for p in parts)
    encoded = _concat_columns(parts, "encoded", len(key_columns))
    packed = _concat_columns(parts, "payload_packed", len(payload_columns)) if payload_columns else None
    parts.clear()
    return KeyTable(path=path, header=list(header), key_columns=list(key_columns), columns=None,
                    records=np.arange(n, dtype=np.int64), rows_read=n, engine="arrow", encoded=encoded,
                    payload_columns=list(payload_columns), payload_packed=packed)


def _table_from_arrow(path, header, key_columns, cols, normalize, skip_empty, engine, payload=((), ())):
    import pyarrow as pa
    import pyarrow.compute as pc

    pool = pa.system_memory_pool()  # gives freed blocks back (the default pool keeps them)
    n = len(cols[0]) if cols else 0
    arrays = []
    keep = None
    for col in cols:
        arr = col.combine_chunks(memory_pool=pool) if isinstance(col, pa.ChunkedArray) else col
        if not pa.types.is_large_string(arr.type):
            arr = pc.cast(arr, pa.large_string(), memory_pool=pool)
        arr = _normalize_arrow(arr, normalize or [], pool)
        empty = pc.coalesce(pc.equal(pc.binary_length(arr, memory_pool=pool), 0, memory_pool=pool), True,
                             memory_pool=pool)
        if pc.any(empty).as_py():
            if engine == "arrow":
                return None  # the stdlib reader names the line (or skips with the line numbers)
            e = empty.to_numpy(zero_copy_only=False)
            if not skip_empty:
                r = int(np.argmax(e))
                raise InputError(f"{path}: row {r + 1}: empty key in column {key_columns[len(arrays)]!r}; fill it "
                                 f"in or pass --skip-empty to skip such rows")
            keep = ~e if keep is None else keep & ~e
        arrays.append(arr)
    records = np.arange(n, dtype=np.int64) if keep is None else np.flatnonzero(keep)
    skipped_lines = [] if keep is None else (np.flatnonzero(~keep)[:20] + 1).tolist()
    pnames, parrays = payload
    parrays = [pc.cast(c.combine_chunks(memory_pool=pool) if isinstance(c, pa.ChunkedArray) else c,
                       pa.large_string(), memory_pool=pool) for c in parrays]
    parrays = [pc.coalesce(a, "", memory_pool=pool) for a in parrays]  # Parquet nulls: empty cells
    if keep is not None:
        take = pa.array(records)
        arrays = [pc.coalesce(pc.take(a, take, memory_pool=pool), "", memory_pool=pool) for a in arrays]
        parrays = [pc.take(a, take, memory_pool=pool) for a in parrays]
    # The combined encodings are built straight from pyarrow's buffers: one copy, owned by numpy,
    # so that everything pyarrow allocated can go back to the system (its pool keeps freed blocks
    # otherwise: ~200 MB more peak memory at 10^6 rows).
    encoded = psikeys.combine_encoded([string_buffers(a) for a in arrays]) if arrays else None
    packed = psikeys.combine_encoded([string_buffers(a) for a in parrays]) if parrays else None
    del arrays, cols, parrays
    pa.default_memory_pool().release_unused()
    pa.system_memory_pool().release_unused()
    return KeyTable(path=path, header=list(header), key_columns=list(key_columns), columns=None, records=records,
                    rows_read=n, skipped=n - records.shape[0], skipped_lines=skipped_lines, engine=engine,
                    encoded=encoded, payload_columns=list(pnames), payload_packed=packed)


def parquet_module(path: str):
    """``pyarrow.parquet``, once ``path`` is known to be a file: the checks every Parquet reader
    makes first, with the same messages."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(f"{path}: reading Parquet needs pyarrow (pip install 'pqmpc[arrow]')") from None
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, expected a Parquet file")
    return pq


def read_parquet(path, key_columns, normalize, skip_empty, payload_columns=()) -> KeyTable:
    pq = parquet_module(path)
    try:
        header = list(pq.read_schema(path).names)
        idx = [find_column(path, header, c) for c in key_columns]
        pidx = [find_column(path, header, c) for c in payload_columns]
        table = pq.read_table(path, columns=list(dict.fromkeys(header[i] for i in idx + pidx)))
    except InputError:
        raise
    except Exception as exc:  # pyarrow's own errors: a damaged or non-Parquet file
        raise InputError(f"{path}: cannot read as Parquet ({exc})") from None
    return _table_from_arrow(path, header, key_columns, [table.column(header[i]) for i in idx], normalize,
                             skip_empty, engine="parquet",
                             payload=(list(payload_columns), [table.column(header[i]) for i in pidx]))


def read_all_arrow(path: str, header: list[str], delimiter: str):
    """Every column as text (large_string), or ``None`` where the stdlib reader must decide."""
    if ord(delimiter) >= 0x80 or len(set(header)) != len(header) or not os.path.getsize(path):
        return None
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    status = scan(np.memmap(path, dtype=np.uint8, mode="r"), np.uint8(ord(delimiter)))
    if status < 0:
        return None
    try:
        return pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(use_threads=True, block_size=1 << 20),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, quote_char='"', double_quote=True,
                                              escape_char=False, newlines_in_values=bool(status & 2),
                                              ignore_empty_lines=True),
            convert_options=pa_csv.ConvertOptions(column_types={nm: pa.large_string() for nm in header},
                                                  strings_can_be_null=False, quoted_strings_can_be_null=False,
                                                  check_utf8=True))
    except (pa.ArrowException, OSError, ValueError):
        return None


def iter_all_arrow(path: str, header: list[str], delimiter: str):
    """:func:`read_all_arrow` in record batches of about :data:`READ_BLOCK` bytes (a generator), or
    ``None`` where the stdlib reader must decide."""
    if ord(delimiter) >= 0x80 or len(set(header)) != len(header) or not os.path.getsize(path):
        return None
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    buf = np.memmap(path, dtype=np.uint8, mode="r")
    status = scan(buf, np.uint8(ord(delimiter)))
    del buf
    if status < 0:
        return None
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(use_threads=True, block_size=READ_BLOCK),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, quote_char='"', double_quote=True,
                                              escape_char=False, newlines_in_values=bool(status & 2),
                                              ignore_empty_lines=True),
            convert_options=pa_csv.ConvertOptions(column_types={nm: pa.large_string() for nm in header},
                                                  strings_can_be_null=False, quoted_strings_can_be_null=False,
                                                  check_utf8=True),
            memory_pool=pa.system_memory_pool())
    except (pa.ArrowException, OSError, ValueError):
        return None

    def batches():
        try:
            yield from reader
        except (pa.ArrowException, OSError) as exc:  # the file changed after the scan
            raise InputError(f"{path}: the file changed while pqmpc was running ({exc})") from None

    return batches()
