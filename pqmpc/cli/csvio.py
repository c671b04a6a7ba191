"""CSV in and out for the PSI command line.

Reading keeps only the key columns in memory (one pass); writing the result
reads the file a second time and copies the matching records, so memory stays
proportional to the keys, not to the whole file. Errors name the file, the
line and the column, and are raised as :class:`~pqmpc.errors.InputError`.
"""

from __future__ import annotations

import csv
import os
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
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
    """The key columns of one CSV file."""

    path: str
    header: list[str]
    key_columns: list[str]
    columns: list[list[str]]          # columns[c][k] for each kept row k
    records: np.ndarray               # record number (0-based, header excluded) of each kept row
    rows_read: int = 0
    skipped: int = 0
    skipped_lines: list[int] = field(default_factory=list)

    @property
    def keys_used(self) -> int:
        return len(self.records)


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
              skip_empty: bool = False, progress=None) -> KeyTable:
    """Read the key columns of every record; header required."""
    norm = _normalizer(normalize) if normalize else None
    size = max(1, os.path.getsize(path)) if os.path.isfile(path) else 1
    with _open_text(path) as fh:
        reader = csv.reader(fh, delimiter=delimiter, strict=True)
        try:
            header = next((r for r in reader if r), None)
            if header is None:
                raise InputError(f"{path}: the file is empty; a header line naming the columns is required")
            idx = [_find_column(path, header, c) for c in key_columns]
            need = max(idx) + 1
            cols: list[list[str]] = [[] for _ in idx]
            appends = [c.append for c in cols]
            records = []
            add_record = records.append
            skipped_lines = []
            rec = -1
            single = idx[0] if len(idx) == 1 else None
            for row in reader:
                if not row:
                    continue  # blank lines (a trailing newline, an empty line) are not records
                rec += 1
                if len(row) < need:
                    missing = max(i for i in idx if i >= len(row))
                    raise InputError(f"{path}: line {reader.line_num}: the record has {len(row)} field(s) but the "
                                     f"key column {header[missing]!r} is field {missing + 1}")
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
                    skipped_lines=skipped_lines[:20])


def _report(progress, fh, size: int) -> None:
    try:
        progress.update(fh.buffer.tell(), size)
    except (OSError, AttributeError, ValueError):
        pass


def write_matches(in_path: str, out_path: str, records: np.ndarray, delimiter: str = ",", progress=None) -> int:
    """Copy the header and the records numbered in ``records`` (0-based) to ``out_path``, atomically."""
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
