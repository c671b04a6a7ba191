"""CSV (and Parquet) in and out for the PSI command line.

Reading keeps only the key columns in memory (one pass); writing the result
reads the file a second time and copies the matching records, so memory stays
proportional to the keys, not to the whole file. Errors name the file, the
line and the column, and are raised as :class:`~pqmpc.errors.InputError`.

Two readers give the same keys: pyarrow's multithreaded CSV reader (when
pyarrow is installed and ``PQMPC_NO_ARROW`` is not set), with key normalising
and combining in bulk, and the stdlib ``csv`` module. The fast one runs only on
files it reads exactly as ``csv`` would: anything it cannot vouch for — a
malformed quote, a record with another number of fields than the header, bad
UTF-8, a NUL byte, an empty key — sends the file to the stdlib reader, which
names the line and column of the problem (or skips the empty keys). A
``.parquet`` input needs pyarrow; its "lines" are rows (1 = the first row).
"""

from __future__ import annotations

import csv
import functools
import os
import sys
import unicodedata
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from ..errors import InputError
from ..psi import keys as psikeys
from ..util.atomic import atomic_open

NORMALIZERS = ("nfc", "trim", "lower")

# Real-world exports have long cells (notes, addresses); the csv module's 128 KiB cap is too small.
csv.field_size_limit(1 << 30)


def parse_normalize(text: str | None) -> list[str]:
    """``"trim,lower"`` → the steps in their fixed order of application (NFC, trim, lower)."""
    if not text or text == "none":
        return []
    steps = [s.strip().lower() for s in text.split(",") if s.strip()]
    bad = [s for s in steps if s not in NORMALIZERS]
    if bad:
        raise InputError(f"--normalize: unknown step(s) {', '.join(bad)}; choose from {', '.join(NORMALIZERS)} "
                         f"(comma-separated) or none")
    return [s for s in NORMALIZERS if s in steps]


def _normalizer(steps: list[str]):
    nfc, trim, lower = ("nfc" in steps), ("trim" in steps), ("lower" in steps)

    def norm(v: str) -> str:
        if nfc:
            v = unicodedata.normalize("NFC", v)
        if trim:
            v = v.strip()
        if lower:
            v = v.lower()
        return v

    return norm


def check_delimiter(d: str) -> str:
    if d == "\\t" or d == "tab":
        d = "\t"
    if len(d) != 1 or d in "\"\r\n":
        raise InputError(f"--delimiter must be one character (not a quote or newline), got {d!r}")
    return d


@dataclass
class KeyTable:
    """The key columns of one CSV file.

    ``items()`` is what PSI needs: the combined keys already encoded (in bulk on
    the fast path). ``columns`` (the normalised values as Python strings) is
    built on first use when the fast reader produced the table.
    """

    path: str
    header: list[str]
    key_columns: list[str]
    columns: list[list[str]] | None   # columns[c][k] for each kept row k (None: build from ``encoded``)
    records: np.ndarray               # record number (0-based, header excluded) of each kept row
    rows_read: int = 0
    skipped: int = 0
    skipped_lines: list[int] = field(default_factory=list)
    encoded: tuple | None = None      # (data, offsets) of the combined keys, as items() returns
    engine: str = "stdlib"            # which reader produced the table: "arrow", "parquet" or "stdlib"
    key_values: list | None = field(default=None, repr=False)  # fast path: per column (data, offsets)
    payload_columns: list[str] = field(default_factory=list)
    payload_values: list | None = field(default=None, repr=False)  # per payload column (data, offsets)

    def __post_init__(self):
        if self.columns is None and self.key_values is not None:
            self.columns = _LazyColumns(self)

    @property
    def keys_used(self) -> int:
        return len(self.records)

    def payloads(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(data, offsets)``: per kept record, its payload columns packed as
        :func:`pqmpc.psi.payload.pack_columns` does (u32 length + UTF-8 bytes each); None without any."""
        if not self.payload_columns:
            return None
        return psikeys.combine_encoded(self.payload_values)

    def items(self) -> tuple[np.ndarray, np.ndarray]:
        """``(data, offsets)`` of the combined keys (:func:`pqmpc.psi.keys.combine_columns` bytes, encoded)."""
        if self.encoded is None:
            if self.key_values is not None:
                self.encoded = psikeys.combine_encoded(self.key_values)
            else:
                self.encoded = psikeys.encode_items(psikeys.combine_columns(self.columns))
        return self.encoded


class _LazyColumns(list):
    """``columns`` of a fast-path table: the strings are decoded only if someone looks."""

    def __init__(self, table):
        super().__init__()
        self._table = table

    def _fill(self):
        if self._table is not None:
            import pyarrow as pa

            # The strings replace the buffers: the caller that wants strings frees them (CLI
            # code of 0.1 drops ``columns`` once encoded), so nothing stays twice.
            src, self._table.key_values, self._table = self._table.key_values, None, None
            for d, o in src:
                arr = pa.LargeStringArray.from_buffers(len(o) - 1, pa.py_buffer(o), pa.py_buffer(d))
                self.append(arr.to_pylist())

    def __len__(self):
        self._fill()
        return super().__len__()

    def __getitem__(self, i):
        self._fill()
        return super().__getitem__(i)

    def __iter__(self):
        self._fill()
        return super().__iter__()


def _open_text(path: str):
    try:
        return open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a CSV file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot open ({exc.strerror or exc})") from None


def _utf8_error(path: str) -> InputError:
    """Find the first line that is not UTF-8, for a message a person can act on."""
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = raw[exc.start:exc.start + 1].hex()
                return InputError(f"{path}: line {lineno}: not valid UTF-8 (byte 0x{bad} at column {exc.start + 1}); "
                                  f"save the file as UTF-8")
    return InputError(f"{path}: not valid UTF-8")


def _records(path: str, fh, delimiter: str):
    reader = csv.reader(fh, delimiter=delimiter, strict=True)
    try:
        for row in reader:
            if not row:
                continue  # blank lines (a trailing newline, an empty line) are not records
            yield reader.line_num, row
    except UnicodeDecodeError:
        raise _utf8_error(path) from None
    except csv.Error as exc:
        raise InputError(f"{path}: line {reader.line_num}: malformed CSV ({exc})") from None


def _find_column(path: str, header: list[str], name: str) -> int:
    stripped = [h.strip() for h in header]
    for names, want in ((header, name), (stripped, name.strip())):
        hits = [i for i, h in enumerate(names) if h == want]
        if len(hits) > 1:
            # Picking one silently could match on the wrong data.
            where = ", ".join(str(i + 1) for i in hits)
            raise InputError(f"{path}: column {name!r} appears {len(hits)} times in the header "
                             f"(columns {where}); rename the duplicates so the key is unambiguous")
        if hits:
            return hits[0]
    shown = ", ".join(repr(h) for h in header[:40]) + (" ..." if len(header) > 40 else "")
    raise InputError(f"{path}: no column {name!r} in the header; available columns: {shown}")


def read_keys(path: str, key_columns: list[str], delimiter: str = ",", normalize: list[str] | None = None,
              skip_empty: bool = False, progress=None, engine: str | None = None,
              payload_columns: list[str] | None = None) -> KeyTable:
    """Read the key columns of every record; header required.

    ``payload_columns``: also keep these columns' raw values (not normalised) for the
    kept records, as :meth:`KeyTable.payloads` (what ``psi_sender(..., payload=)`` takes).

    ``engine``: ``"auto"`` (pyarrow when available, see the module docstring),
    ``"arrow"`` (the fast path or, where it cannot vouch for the file, the
    stdlib reader) or ``"stdlib"``. ``None`` reads ``PQMPC_CSV_ENGINE`` and
    defaults to ``"stdlib"``: a caller that takes the fast path should use
    :meth:`KeyTable.items` rather than ``columns`` (building a million Python
    strings from the fast reader's buffers costs more memory than the stdlib
    reader does). ``PQMPC_NO_ARROW=1`` forces the stdlib reader always.
    """
    if engine is None:
        engine = os.environ.get("PQMPC_CSV_ENGINE", "") or "stdlib"
    if engine not in ("auto", "arrow", "stdlib"):
        raise InputError(f"CSV engine must be 'auto', 'arrow' or 'stdlib', not {engine!r}")
    payload_columns = list(payload_columns or [])
    if path.lower().endswith(".parquet"):
        return _read_parquet(path, key_columns, normalize, skip_empty, payload_columns)
    if engine != "stdlib" and arrow_enabled():
        table = _read_keys_arrow(path, key_columns, delimiter, normalize, payload_columns)
        if table is not None:
            return table
    return _read_keys_stdlib(path, key_columns, delimiter, normalize, skip_empty, progress, payload_columns)


def _read_keys_stdlib(path, key_columns, delimiter, normalize, skip_empty, progress, payload_columns) -> KeyTable:
    norm = _normalizer(normalize) if normalize else None
    size = max(1, os.path.getsize(path)) if os.path.isfile(path) else 1
    with _open_text(path) as fh:
        reader = csv.reader(fh, delimiter=delimiter, strict=True)
        try:
            header = next((r for r in reader if r), None)
            if header is None:
                raise InputError(f"{path}: the file is empty; a header line naming the columns is required")
            idx = [_find_column(path, header, c) for c in key_columns]
            pidx = [_find_column(path, header, c) for c in payload_columns]
            need = max(idx + pidx) + 1
            cols: list[list[str]] = [[] for _ in idx]
            pcols: list[list[str]] = [[] for _ in pidx]
            pairs = list(zip([c.append for c in pcols], pidx))
            appends = [c.append for c in cols]
            records = []
            add_record = records.append
            skipped_lines = []
            rec = -1
            single = idx[0] if len(idx) == 1 and not pidx else None
            for row in reader:
                if not row:
                    continue  # blank lines (a trailing newline, an empty line) are not records
                rec += 1
                if len(row) < need:
                    missing = max(i for i in idx + pidx if i >= len(row))
                    kind = "key" if missing in idx else "payload"
                    raise InputError(f"{path}: line {reader.line_num}: the record has {len(row)} field(s) but the "
                                     f"{kind} column {header[missing]!r} is field {missing + 1}")
                if single is not None:  # the common case, kept lean: one key column
                    v = row[single]
                    if norm is not None:
                        v = norm(v)
                    if v:
                        appends[0](v)
                        add_record(rec)
                        if progress is not None and not rec & 0xFFFF:
                            _report(progress, fh, size)
                        continue
                    vals = [v]
                else:
                    vals = [row[i] for i in idx] if norm is None else [norm(row[i]) for i in idx]
                    if all(vals):
                        for a, v in zip(appends, vals):
                            a(v)
                        for a, i in pairs:
                            a(row[i])
                        add_record(rec)
                        continue
                empty = key_columns[next(j for j, v in enumerate(vals) if not v)]
                if not skip_empty:
                    raise InputError(f"{path}: line {reader.line_num} (row {rec + 1}): empty key in column "
                                     f"{empty!r}; fill it in or pass --skip-empty to skip such rows")
                skipped_lines.append(reader.line_num)
        except UnicodeDecodeError:
            raise _utf8_error(path) from None
        except csv.Error as exc:
            raise InputError(f"{path}: line {reader.line_num}: malformed CSV ({exc})") from None
    return KeyTable(path=path, header=header, key_columns=key_columns, columns=cols,
                    records=np.asarray(records, dtype=np.int64), rows_read=rec + 1, skipped=len(skipped_lines),
                    skipped_lines=skipped_lines[:20], payload_columns=list(payload_columns),
                    payload_values=[psikeys.encode_items(c, "payload column") for c in pcols])


def _report(progress, fh, size: int) -> None:
    try:
        progress.update(fh.buffer.tell(), size)
    except (OSError, AttributeError, ValueError):
        pass


def write_matches(in_path: str, out_path: str, records: np.ndarray, delimiter: str = ",", progress=None) -> int:
    """Copy the header and the records numbered in ``records`` (0-based) to ``out_path``, atomically."""
    if in_path.lower().endswith(".parquet"):
        return write_parquet_matches(in_path, out_path, records, delimiter)
    wanted = np.zeros(0, dtype=bool)
    if records.size:
        wanted = np.zeros(int(records.max()) + 1, dtype=bool)
        wanted[records] = True
    written = 0
    with _open_text(in_path) as fh, atomic_open(out_path, "w", newline="") as out:
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
        it = _records(in_path, fh, delimiter)
        first = next(it, None)
        if first is None:
            raise InputError(f"{in_path}: the file changed while pqmpc was running (it is now empty)")
        writer.writerow(first[1])
        limit = wanted.size
        for rec, (_, row) in enumerate(it):
            if rec >= limit:
                break
            if wanted[rec]:
                writer.writerow(row)
                written += 1
        if written != records.size:  # inside the block: the temporary file is discarded
            raise InputError(f"{in_path}: the file changed while pqmpc was running; {out_path} was not written")
    return written


# --------------------------------------------------------------------------
# The fast path: pyarrow, on files it reads exactly as the csv module does
# --------------------------------------------------------------------------


def arrow_enabled() -> bool:
    """pyarrow is importable and ``PQMPC_NO_ARROW`` is unset (or empty, or 0)."""
    if os.environ.get("PQMPC_NO_ARROW", "") not in ("", "0"):
        return False
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


@njit(cache=True, nogil=True)
def _scan(buf, delim):
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
                return -1
            if i + k >= n:
                return -1
            if not lo <= buf[i + 1] <= hi:
                return -1
            for j in range(2, k + 1):
                if not 0x80 <= buf[i + j] <= 0xBF:
                    return -1
            if state == 0:
                state = 1
            elif state == 3:
                return -1
            i += k + 1
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
            norm = _normalizer(steps)
            idx = np.flatnonzero(non_ascii.to_numpy(zero_copy_only=False))
            fixed = pa.array([norm(v) for v in arr.take(pa.array(idx)).to_pylist()], type=arr.type)
            out = pc.replace_with_mask(out, non_ascii, fixed, memory_pool=pool)
    return out


def _string_buffers(arr) -> tuple[np.ndarray, np.ndarray]:
    """``(data, offsets)`` views of a large_string array (no copy)."""
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64)[arr.offset:arr.offset + len(arr) + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, dtype=np.uint8)
    return data, offsets


def _header_stdlib(path: str, delimiter: str):
    with _open_text(path) as fh:
        reader = csv.reader(fh, delimiter=delimiter, strict=True)
        try:
            return next((r for r in reader if r), None)
        except (UnicodeDecodeError, csv.Error):
            return None


def _read_keys_arrow(path, key_columns, delimiter, normalize, payload_columns=()) -> KeyTable | None:
    """The fast path, or ``None`` where the stdlib reader must decide."""
    if ord(delimiter) >= 0x80 or not os.path.isfile(path) or os.path.getsize(path) == 0:
        return None
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    try:
        buf = np.memmap(path, dtype=np.uint8, mode="r")
    except (OSError, ValueError):
        return None
    status = _scan(buf, np.uint8(ord(delimiter)))
    del buf
    if status < 0:
        return None
    header = _header_stdlib(path, delimiter)
    if header is None:
        return None
    idx = [_find_column(path, header, c) for c in key_columns]  # the same errors as the stdlib reader
    pnames = [header[_find_column(path, header, c)] for c in payload_columns]
    names = [header[i] for i in idx]
    if any(header.count(nm) > 1 for nm in names + pnames):
        return None
    try:
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(use_threads=True, block_size=1 << 20),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, quote_char='"', double_quote=True,
                                              escape_char=False, newlines_in_values=bool(status & 2),
                                              ignore_empty_lines=True),
            convert_options=pa_csv.ConvertOptions(include_columns=list(dict.fromkeys(names + pnames)),
                                                  column_types={nm: pa.large_string() for nm in names + pnames},
                                                  strings_can_be_null=False, quoted_strings_can_be_null=False,
                                                  check_utf8=True),
            # The system allocator gives freed blocks back; mimalloc's pool kept ~100 MB at 10^6 rows.
            memory_pool=pa.system_memory_pool())
    except (pa.ArrowException, OSError, ValueError):
        return None
    cols = [table.column(nm) for nm in names]
    pcols = [table.column(nm) for nm in pnames]
    del table
    return _table_from_arrow(path, header, key_columns, cols, normalize, skip_empty=False, engine="arrow",
                             payload=(payload_columns, pcols))


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
    # Own copies of the key bytes, so that everything pyarrow allocated can go back to the system
    # (its pool keeps freed blocks otherwise: ~200 MB more peak memory at 10^6 rows).
    values, pvalues = [], []
    for src, dst in ((arrays, values), (parrays, pvalues)):
        for a in src:
            d, o = _string_buffers(a)
            dst.append((d[o[0]:o[-1]].copy(), o - o[0]))
    del arrays, cols, parrays
    pa.default_memory_pool().release_unused()
    pa.system_memory_pool().release_unused()
    return KeyTable(path=path, header=list(header), key_columns=list(key_columns), columns=None, records=records,
                    rows_read=n, skipped=n - records.shape[0], skipped_lines=skipped_lines, engine=engine,
                    key_values=values, payload_columns=list(pnames), payload_values=pvalues)


def _read_parquet(path, key_columns, normalize, skip_empty, payload_columns=()) -> KeyTable:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(f"{path}: reading Parquet needs pyarrow (pip install 'pqmpc[arrow]')") from None
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, expected a Parquet file")
    try:
        header = list(pq.read_schema(path).names)
        idx = [_find_column(path, header, c) for c in key_columns]
        pidx = [_find_column(path, header, c) for c in payload_columns]
        table = pq.read_table(path, columns=list(dict.fromkeys(header[i] for i in idx + pidx)))
    except InputError:
        raise
    except Exception as exc:  # pyarrow's own errors: a damaged or non-Parquet file
        raise InputError(f"{path}: cannot read as Parquet ({exc})") from None
    return _table_from_arrow(path, header, key_columns, [table.column(header[i]) for i in idx], normalize,
                             skip_empty, engine="parquet",
                             payload=(list(payload_columns), [table.column(header[i]) for i in pidx]))


def write_parquet_matches(in_path: str, out_path: str, records: np.ndarray, delimiter: str = ",") -> int:
    """For a Parquet input: its rows numbered in ``records`` as CSV (pyarrow's writer), atomically."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    table = pq.read_table(in_path).take(pa.array(np.asarray(records, dtype=np.int64)))
    with atomic_open(out_path, "wb", encoding=None) as out:
        pa_csv.write_csv(table, out, write_options=pa_csv.WriteOptions(delimiter=delimiter))
    return table.num_rows
