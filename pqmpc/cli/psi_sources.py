"""The inputs of a bucketed ``pqmpc psi`` run, read once in batches: CSV (pyarrow's streaming reader) or
Parquet (row-group batches); keys normalised and combined in bulk, as the in-memory readers do.

Each source has ``rows`` (an estimate before reading), ``digest()`` (what a resume compares),
``batches()`` (:class:`pqmpc.psi.bucketed.Batch`, with the packed payload columns) and, after
reading, ``rows_read`` (records, skipped ones included) and ``skipped``; ``progress.update(done, total)``
is told the bytes (CSV) or rows (Parquet) read.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from ..errors import InputError

__all__ = ["CsvSource", "ParquetSource", "BATCH_BYTES"]

# pyarrow reads a few blocks ahead of the consumer: 4 MiB blocks keep that near 100 MB.
BATCH_BYTES = 4 << 20
PARQUET_BATCH_ROWS = 1 << 20


class _Source:
    """What both sources share: the digest a resume compares, and the batches' key handling."""

    def digest(self) -> str:
        from ..psi.bucketed import input_file_digest

        return input_file_digest(self.path, {"keys": self.names, "normalize": ",".join(self.normalize),
                                             "delimiter": self.delimiter, "skip_empty": self.skip_empty,
                                             "payload": self.pnames})

    @property
    def has_payload(self) -> bool:
        return bool(self.pnames)

    def _batch(self, rb, start):
        import pyarrow as pa
        import pyarrow.compute as pc

        from ..psi import keys as psikeys
        from ..psi.bucketed import Batch

        n = rb.num_rows
        cols = [_normalize(_text(rb.column(rb.schema.get_field_index(nm))), self.normalize) for nm in self.names]
        pcols = [pc.coalesce(_text(rb.column(rb.schema.get_field_index(nm))), "") for nm in self.pnames]
        keep = None
        for c, col in zip(self.key_columns, cols):
            empty = np.diff(_buffers(col)[1]) == 0
            if col.null_count:
                empty |= col.is_null().to_numpy(zero_copy_only=False)
            if empty.any():
                if not self.skip_empty:
                    r = start + int(np.argmax(empty))
                    raise InputError(f"{self.path}: row {r + 1}: empty key in column {c!r}; fill it in "
                                     f"or pass --skip-empty to skip such rows")
                keep = ~empty if keep is None else keep & ~empty
        records = np.arange(start, start + n, dtype=np.int64)
        if keep is not None:
            take = pa.array(np.flatnonzero(keep))
            cols = [c.take(take) for c in cols]
            pcols = [c.take(take) for c in pcols]
            records = records[keep]
            self.skipped += int(n - keep.sum())
        data, offsets = psikeys.combine_encoded([_own(_buffers(c)) for c in cols])
        pd = po = None
        if pcols:
            pd, po = psikeys.combine_encoded([_own(_buffers(c)) for c in pcols])
        self.rows_read = start + n
        return Batch(records, data, offsets, pd, po)

    def longest_payload(self) -> int:
        """Bytes of the longest packed payload of a kept row (a pass over the file, keys included)."""
        longest = 0
        for b in self.batches():
            if b.poffsets is not None and b.poffsets.shape[0] > 1:
                longest = max(longest, int(np.diff(b.poffsets).max()))
        self.rows_read = self.skipped = 0
        return longest


class CsvSource(_Source):
    """A CSV file read once in batches by pyarrow's streaming reader, keys normalised and combined in bulk."""

    def __init__(self, path: str, key_columns: list[str], delimiter: str, normalize: list[str], skip_empty: bool,
                 payload_columns=(), progress=None):
        from . import csvio

        if not os.path.exists(path):
            raise InputError(f"{path}: no such file")
        if os.path.isdir(path):
            raise InputError(f"{path}: is a directory, expected a CSV file")
        self.path, self.key_columns, self.delimiter = path, list(key_columns), delimiter
        self.normalize, self.skip_empty, self.progress = normalize, skip_empty, progress
        self.header = self._header()
        self.names = [self.header[csvio.find_column(path, self.header, c)] for c in key_columns]
        self.pnames = [self.header[csvio.find_column(path, self.header, c)] for c in payload_columns]
        dup = [nm for nm in self.names + self.pnames if self.header.count(nm) > 1]
        if dup:
            raise InputError(f"{path}: column {dup[0]!r} appears more than once in the header; rename the "
                             f"duplicates so the key is unambiguous")
        self.rows = self._estimate_rows()
        self.rows_read = 0
        self.skipped = 0

    def _header(self) -> list[str]:
        import csv

        from . import csvio

        with csvio.open_text(self.path) as fh:
            try:
                header = next((r for r in csv.reader(fh, delimiter=self.delimiter, strict=True) if r), None)
            except UnicodeDecodeError:
                raise csvio.utf8_error(self.path) from None
            except csv.Error as exc:
                raise InputError(f"{self.path}: line 1: malformed CSV ({exc})") from None
        if header is None:
            raise InputError(f"{self.path}: the file is empty; a header line naming the columns is required")
        return header

    def _estimate_rows(self) -> int:
        size = os.path.getsize(self.path)
        with open(self.path, "rb") as fh:
            sample = fh.read(1 << 20)
        lines = max(1, sample.count(b"\n"))
        return max(0, int(size * lines / max(1, len(sample))) - 1)

    def batches(self):
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        size = max(1, os.path.getsize(self.path))
        try:
            with pa.OSFile(self.path) as f:
                names = list(dict.fromkeys(self.names + self.pnames))
                reader = pa_csv.open_csv(
                    f,
                    read_options=pa_csv.ReadOptions(use_threads=True, block_size=BATCH_BYTES),
                    parse_options=pa_csv.ParseOptions(delimiter=self.delimiter, quote_char='"', double_quote=True,
                                                      escape_char=False, newlines_in_values=True,
                                                      ignore_empty_lines=True),
                    convert_options=pa_csv.ConvertOptions(include_columns=names,
                                                          column_types={n: pa.large_string() for n in names},
                                                          strings_can_be_null=False, quoted_strings_can_be_null=False,
                                                          check_utf8=True),
                    memory_pool=pa.system_memory_pool())
                start = 0
                for rb in reader:
                    batch = self._batch(rb, start)
                    start += rb.num_rows
                    if self.progress is not None:
                        self.progress.update(min(size, f.tell()), size)
                    yield batch
        except pa.ArrowInvalid as exc:
            raise InputError(f"{self.path}: malformed CSV ({exc})") from None
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read ({exc})") from None


class ParquetSource(_Source):
    """A Parquet file read batch by batch (its columns as text, nulls as empty cells)."""

    def __init__(self, path: str, key_columns: list[str], normalize: list[str], skip_empty: bool,
                 payload_columns=(), progress=None):
        from . import csvfast, csvio

        pq = csvfast.parquet_module(path)
        self.path, self.key_columns, self.delimiter = path, list(key_columns), ","
        self.normalize, self.skip_empty, self.progress = normalize, skip_empty, progress
        try:
            meta = pq.ParquetFile(path)
            self.header = list(meta.schema_arrow.names)
            self.rows = int(meta.metadata.num_rows)
        except Exception as exc:  # pyarrow's own errors: a damaged or non-Parquet file
            raise InputError(f"{path}: cannot read as Parquet ({exc})") from None
        self.names = [self.header[csvio.find_column(path, self.header, c)] for c in key_columns]
        self.pnames = [self.header[csvio.find_column(path, self.header, c)] for c in payload_columns]
        self.rows_read = 0
        self.skipped = 0

    def batches(self):
        import pyarrow.parquet as pq

        try:
            f = pq.ParquetFile(self.path)
            start = 0
            for rb in f.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=list(dict.fromkeys(self.names
                                                                                                + self.pnames))):
                batch = self._batch(rb, start)
                start += rb.num_rows
                if self.progress is not None:
                    self.progress.update(start, max(1, self.rows))
                yield batch
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"{self.path}: cannot read as Parquet ({exc})") from None


def _text(arr):
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_large_string(arr.type):
        arr = pc.cast(arr, pa.large_string())
    return arr


def _buffers(arr):
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64)[arr.offset:arr.offset + len(arr) + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, dtype=np.uint8)
    return data, offsets


def _own(buffers):
    d, o = buffers
    return d[o[0]:o[-1]], o - o[0]


_WHITESPACE = None


def _normalize(arr, steps):
    """NFC/trim/lower as the plain command applies them: pyarrow for ASCII, Python's rules for other values."""
    global _WHITESPACE
    import pyarrow as pa
    import pyarrow.compute as pc

    if not steps:
        return arr
    out = arr
    if "trim" in steps:
        if _WHITESPACE is None:
            _WHITESPACE = "".join(ch for ch in map(chr, range(sys.maxunicode + 1)) if ch.isspace())
        out = pc.utf8_trim(out, characters=_WHITESPACE)
    if "lower" in steps:
        out = pc.ascii_lower(out)
    if "nfc" in steps or "lower" in steps:
        non_ascii = pc.invert(pc.string_is_ascii(arr))
        if pc.any(non_ascii).as_py():
            import unicodedata

            def norm(v):
                if "nfc" in steps:
                    v = unicodedata.normalize("NFC", v)
                if "trim" in steps:
                    v = v.strip()
                return v.lower() if "lower" in steps else v

            idx = np.flatnonzero(non_ascii.to_numpy(zero_copy_only=False))
            fixed = pa.array([norm(v) for v in arr.take(pa.array(idx)).to_pylist()], type=arr.type)
            out = pc.replace_with_mask(out, non_ascii, fixed)
    return out
