"""CSV (and Parquet) input for the PSI command line: the stdlib reader, its errors, key normalisation.

Reading keeps only the key (and payload) columns in memory (one pass); the
writers (:mod:`.joinio`) read the file a second time and copy the matching
records, so memory stays proportional to the keys, not to the whole file.
Errors name the file, the line and the column, and are raised as
:class:`~pqmpc.errors.InputError`.

Two readers give the same keys: pyarrow's multithreaded CSV reader
(:mod:`.csvfast`, when pyarrow is installed and ``PQMPC_NO_ARROW`` is not
set), with key normalising and combining in bulk, and the stdlib ``csv``
module here. The fast one runs only on files it reads exactly as ``csv``
would: anything it cannot vouch for — a malformed quote, a record with another
number of fields than the header, bad UTF-8, a NUL byte, an empty key — sends
the file to the stdlib reader, which names the line and column of the problem
(or skips the empty keys). A ``.parquet`` input needs pyarrow; its "lines"
are rows (1 = the first row).
"""

from __future__ import annotations

import csv
import os
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..psi import keys as psikeys
from ..util.atomic import atomic_open

__all__ = ["NORMALIZERS", "KeyTable", "parse_normalize", "normalizer", "check_delimiter", "is_parquet",
           "write_matches_streaming", "arrow_enabled", "open_text", "utf8_error", "records_of", "find_column",
           "read_keys", "write_matches"]

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


def normalizer(steps: list[str]):
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
    payload_packed: tuple | None = field(default=None, repr=False)  # fast path: what payloads() returns

    def __post_init__(self):
        if self.columns is None and (self.key_values is not None or self.encoded is not None):
            self.columns = _LazyColumns(self)

    @property
    def keys_used(self) -> int:
        return len(self.records)

    def payloads(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(data, offsets)``: per kept record, its payload columns packed as
        :func:`pqmpc.psi.payload.pack_columns` does (u32 length + UTF-8 bytes each); None without any."""
        if not self.payload_columns:
            return None
        if self.payload_packed is not None:
            return self.payload_packed
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

            from ..psi.payload import unpack_columns

            # The strings replace the buffers: the caller that wants strings frees them (CLI
            # code of 0.1 drops ``columns`` once encoded), so nothing stays twice.
            src, self._table.key_values = self._table.key_values, None
            if src is None:  # only the combined encoding is kept: split it again
                src = unpack_columns(*self._table.encoded, len(self._table.key_columns))
            self._table = None
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


def is_parquet(path: str) -> bool:
    return path.lower().endswith(".parquet")


def arrow_enabled() -> bool:
    """pyarrow is importable and ``PQMPC_NO_ARROW`` is unset (or empty, or 0)."""
    if os.environ.get("PQMPC_NO_ARROW", "") not in ("", "0"):
        return False
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def write_matches(in_path: str, out_path: str, records: np.ndarray, delimiter: str = ",", progress=None) -> int:
    """Copy the header and the records numbered in ``records`` (0-based) to ``out_path``, atomically
    (:func:`pqmpc.cli.joinio.write_matches`)."""
    from . import joinio

    return joinio.write_matches(in_path, out_path, records, delimiter, progress)


def open_text(path: str):
    try:
        return open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a CSV file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot open ({exc.strerror or exc})") from None


def utf8_error(path: str) -> InputError:
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


def records_of(path: str, fh, delimiter: str):
    reader = csv.reader(fh, delimiter=delimiter, strict=True)
    try:
        for row in reader:
            if not row:
                continue  # blank lines (a trailing newline, an empty line) are not records
            yield reader.line_num, row
    except UnicodeDecodeError:
        raise utf8_error(path) from None
    except csv.Error as exc:
        raise InputError(f"{path}: line {reader.line_num}: malformed CSV ({exc})") from None


def write_matches_streaming(in_path: str, out_path: str, records: np.ndarray, delimiter: str = ",") -> int:
    """The header and the records numbered in ``records`` (0-based), record by record, atomically.

    Memory stays flat whatever the input size (the bucketed runs' writer at 10^8 rows; the byte-copy
    writer of :mod:`pqmpc.cli.joinio` maps the whole input). Rows are re-written by the csv module:
    minimal quoting and the input's line ending, not byte copies; the BOM is dropped.
    """
    if is_parquet(in_path):
        from . import joinio

        return joinio.write_matches(in_path, out_path, records, delimiter)
    with open(in_path, "rb") as raw:
        first = raw.readline()
    ending = "\r\n" if first.endswith(b"\r\n") else "\n"
    wanted = np.zeros(0, dtype=bool)
    if records.size:
        wanted = np.zeros(int(records.max()) + 1, dtype=bool)
        wanted[records] = True
    written = 0
    with open_text(in_path) as fh, atomic_open(out_path, "w", newline="") as out:
        writer = csv.writer(out, delimiter=delimiter, lineterminator=ending)
        it = records_of(in_path, fh, delimiter)
        head = next(it, None)
        if head is None:
            raise InputError(f"{in_path}: the file changed while pqmpc was running (it is now empty)")
        writer.writerow(head[1])
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


def find_column(path: str, header: list[str], name: str) -> int:
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
    raise InputError(f"{path}: no column {name!r} in the header; available columns: {shown}"
                     + delimiter_hint(header, name))


def delimiter_hint(header: list[str], name: str) -> str:
    """The usual cause of a missing column in a real file is another delimiter (';' from
    spreadsheets in many locales, tabs): name the flag when the column is in a header cell that way."""
    for sep, flag in ((";", "';'"), ("\t", "tab"), ("|", "'|'"), (",", "','")):
        if any(sep in h and name.strip() in (p.strip() for p in h.split(sep)) for h in header):
            return f" (the header looks {flag}-separated: try --delimiter {flag})"
    return ""


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
    if is_parquet(path):
        from . import csvfast

        return csvfast.read_parquet(path, key_columns, normalize, skip_empty, payload_columns)
    if engine != "stdlib" and arrow_enabled():
        from . import csvfast

        table = csvfast.read_keys_arrow(path, key_columns, delimiter, normalize, payload_columns, progress)
        if table is not None:
            return table
    return _read_keys_stdlib(path, key_columns, delimiter, normalize, skip_empty, progress, payload_columns)


def _read_keys_stdlib(path, key_columns, delimiter, normalize, skip_empty, progress, payload_columns) -> KeyTable:
    norm = normalizer(normalize) if normalize else None
    size = max(1, os.path.getsize(path)) if os.path.isfile(path) else 1
    with open_text(path) as fh:
        reader = csv.reader(fh, delimiter=delimiter, strict=True)
        try:
            header = next((r for r in reader if r), None)
            if header is None:
                raise InputError(f"{path}: the file is empty; a header line naming the columns is required")
            idx = [find_column(path, header, c) for c in key_columns]
            pidx = [find_column(path, header, c) for c in payload_columns]
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
            raise utf8_error(path) from None
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
