"""Writing the PSI result: this side's rows, joined to the peer's payload columns, as CSV, Parquet or JSONL.

Every output row is one of this side's input records (in input order; a
record appears once per peer row it joins with) followed by the peer's
payload columns. Files are written to a temporary file in the target folder
and renamed at the end (:func:`pqmpc.util.atomic.atomic_open`: mode 0600, so
only the owner can read the result); ``-`` writes to stdout instead.

CSV from a CSV input copies each record's bytes exactly as they are in the
input (quoting, spacing, a byte-order mark at the start of the file) and ends
every line as the input's header line ends (``\\r\\n``, ``\\n`` or ``\\r``); the peer
columns follow, quoted only where a value holds the delimiter, a quote or a
line break (quotes doubled). Where a byte-exact copy is impossible (a NUL byte
in the input, or a Parquet input) the rows are written as the stdlib ``csv``
module writes them (minimal quoting, ``\\n``). Everything runs in bulk on byte
columns (:mod:`.bytecols`), in chunks of rows, never per row in Python.
"""

from __future__ import annotations

import contextlib
import csv
import os
import sys
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, ProtocolError
from ..psi import keys as psikeys
from ..util.atomic import atomic_open
from . import bytecols
from .csvio import KeyTable, arrow_enabled, is_parquet, open_text, records_of

__all__ = ["OUTPUT_FORMATS", "Join", "build_join", "remove_stale_temps", "output_format", "check_output",
           "write_result", "write_matches"]

OUTPUT_FORMATS = ("csv", "parquet", "jsonl")
#: Output rows per chunk: bounds the temporary buffers at a few tens of MB.
CHUNK = 1 << 17
_EXT = {".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@dataclass
class Join:
    """What to write: input records ``rows`` (0-based, header excluded, ascending), and per row
    the index of its peer payload (``pidx``; -1: none, a LEFT JOIN's unmatched row)."""

    rows: np.ndarray
    pidx: np.ndarray | None = None
    peer: list = field(default_factory=list)        # per peer column: (data, offsets) of the distinct payloads
    peer_names: list = field(default_factory=list)  # their output names (``peer_<column>``)


def build_join(rows_read: int, header: list[str], how: str, rows: np.ndarray, pairs=None, peer_columns=0,
               peer_names=()) -> Join:
    """What to write, from the records that matched (``rows``, ascending record numbers) or, with the
    peer's payload columns, from ``pairs`` (a :class:`~pqmpc.psi.payload.PayloadJoin` whose ``rows``
    are record numbers); ``how`` = "left" adds every other record with empty peer columns."""
    if pairs is not None:
        from ..psi.payload import unpack_columns

        rows, pidx = np.asarray(pairs.rows, dtype=np.int64), pairs.payload_index
        peer = unpack_columns(pairs.data, pairs.offsets, peer_columns)
        names = _unclash(list(peer_names), header)
    else:
        rows, pidx, peer, names = np.asarray(rows, dtype=np.int64), None, [], []
    if how == "left":
        # Every record once per pair, or once alone; ``rows`` is ascending, so a count per record
        # places both without a sort (at 10^7 rows: ~250 MB of temporaries instead of ~400 MB).
        per = np.bincount(rows, minlength=rows_read) if rows.size else np.zeros(rows_read, dtype=np.int64)
        lone = per == 0
        per[lone] = 1
        all_rows = np.repeat(np.arange(rows_read, dtype=np.int64), per)
        del per
        if pidx is not None:
            paired = ~lone[all_rows]
            out = np.full(all_rows.shape[0], -1, dtype=np.int64)
            out[paired] = pidx
            pidx = out
        rows = all_rows
    return Join(rows=rows, pidx=pidx, peer=peer, peer_names=names)


def _unclash(names, header) -> list[str]:
    """A peer column named like one of ours gets a suffix (``peer_id_2``): every output name is distinct."""
    taken, out = set(header), []
    for nm in names:
        cand, k = nm, 2
        while cand in taken:
            cand, k = f"{nm}_{k}", k + 1
        taken.add(cand)
        out.append(cand)
    return out


def output_format(path: str | None, fmt: str | None) -> str:
    """``fmt``, or the format ``path``'s extension names (.parquet, .jsonl/.ndjson; otherwise CSV)."""
    if fmt:
        return fmt
    if not path or path == "-":
        return "csv"
    return _EXT.get(os.path.splitext(path)[1].lower(), "csv")


def check_output(path: str, fmt: str, force: bool, input_path: str, flag: str = "--output") -> None:
    """Everything that would make the write fail, checked before any network activity."""
    if fmt == "parquet":
        try:
            import pyarrow.parquet  # noqa: F401
        except ImportError:
            raise InputError(f"{flag}: --output-format parquet needs pyarrow (pip install 'pqmpc[arrow]')") from None
    if path == "-":
        return
    full = os.path.abspath(path)
    if os.path.exists(input_path) and os.path.exists(full) and os.path.samefile(full, input_path):
        raise InputError(f"{flag} must not be the --input file")
    if os.path.isdir(full):
        raise InputError(f"{flag} {path}: is a directory; name a file inside it")
    folder = os.path.dirname(full)
    if not os.path.isdir(folder):
        raise InputError(f"{flag} {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{flag} {path}: folder {folder} is not writable")
    if os.path.lexists(full) and not force:
        raise InputError(f"{flag} {path}: the file exists; pass --force to overwrite it")


@contextlib.contextmanager
def _open_out(path: str):
    if path == "-":
        out = sys.stdout.buffer
        yield out
        out.flush()
        return
    with atomic_open(path, "wb") as fh:
        # Held until the file is closed (a killed process included): a temporary file nobody holds
        # locked is a dead run's, which remove_stale_temps may delete.
        _try_lock(fh.fileno())
        yield fh


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # not POSIX: no stale-file cleanup either
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def remove_stale_temps(path: str) -> list[str]:
    """Delete the temporary files a killed run left beside ``path`` (``.tmp-<name>.`` and eight random
    letters, as
    :func:`pqmpc.util.atomic.atomic_open` names them): only regular files of this user that no live
    writer holds locked (every writer here locks its temporary file while it writes). Returns them."""
    import re
    import stat

    try:
        import fcntl  # noqa: F401
    except ImportError:
        return []
    folder = os.path.dirname(os.path.abspath(path)) or "."
    pattern = re.compile(r"\.tmp-" + re.escape(os.path.basename(path)) + r"\.[A-Za-z0-9_]{8}")
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    for name in names:
        if not pattern.fullmatch(name):
            continue
        full = os.path.join(folder, name)
        try:
            fd = os.open(full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and _try_lock(fd):
                os.unlink(full)
                removed.append(full)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


def _changed(path: str) -> InputError:
    return InputError(f"{path}: the file changed while pqmpc was running; the output was not written")


def write_result(table: KeyTable, out_path: str, fmt: str, join: Join, delimiter: str = ",",
                 progress=None) -> int:
    """Write ``join`` (see :class:`Join`) in ``fmt``; returns the number of rows written."""
    for c, col in enumerate(join.peer):
        bad = bytecols.utf8_first_bad(col)
        if bad >= 0:
            raise ProtocolError(f"the peer's payload column {join.peer_names[c]!r} holds a value that is not UTF-8")
    if join.rows.size and int(join.rows.max()) >= table.rows_read:
        raise _changed(table.path)
    if fmt == "csv" and not is_parquet(table.path):
        if os.path.getsize(table.path):
            with _Mapped(table.path) as m:
                records = _count_exact(m, delimiter)
                if records is not None:
                    if records != table.rows_read + 1:
                        raise _changed(table.path)
                    return _write_csv_copy(m, table.path, out_path, join, delimiter, progress)
        return _write_csv_stdlib(table, out_path, join, delimiter)
    header, blocks = _own_blocks(table, delimiter, fmt == "parquet")
    if fmt == "parquet":
        return _write_parquet(blocks, out_path, join, progress)
    if fmt == "jsonl":
        return _write_jsonl(header, blocks, out_path, join, progress)
    return _write_csv_columns(header, blocks, out_path, join, delimiter, progress)


def _chunks(n: int, progress):
    for a in range(0, n, CHUNK):
        yield a, min(n, a + CHUNK)
        if progress is not None:
            progress.update(min(n, a + CHUNK), n)


def _peer_parts(join: Join, sel: slice, escaped, sep: bytes):
    parts = []
    for col in escaped:
        parts += [sep, bytecols.gather(col, join.pidx[sel])]
    return parts


class _Mapped:
    """The input file mapped read-only; pages behind the writer's position are dropped from this
    process's memory as it goes (they stay in the page cache), so a 10^8-row input costs a window,
    not the file, of resident memory."""

    WINDOW = 32 << 20

    def __init__(self, path: str):
        import mmap

        self._mmap_mod = mmap
        with open(path, "rb") as fh:
            self.mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        self.buf = np.frombuffer(self.mm, dtype=np.uint8)
        self.page = mmap.PAGESIZE

    def release(self, upto: int) -> None:
        upto = upto // self.page * self.page
        if upto > 0 and hasattr(self.mm, "madvise") and hasattr(self._mmap_mod, "MADV_DONTNEED"):
            self.mm.madvise(self._mmap_mod.MADV_DONTNEED, 0, upto)

    def windows(self, delimiter: str, fill: bool = True):
        return bytecols.record_windows(self.buf, delimiter, self.WINDOW, fill, self.release)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.buf = None
        with contextlib.suppress(BufferError):
            self.mm.close()


def _count_exact(m: _Mapped, delimiter: str) -> int | None:
    """Records in the file (header included), or None where a byte copy would not be exact."""
    total = 0
    for w in m.windows(delimiter, fill=False):
        if w is None:
            return None
        total = w[0] + w[1]
    return total


def _write_csv_copy(m: _Mapped, in_path: str, out_path: str, join: Join, delimiter: str, progress) -> int:
    buf = m.buf
    d = delimiter.encode()
    escaped = [bytecols.csv_escape(col, delimiter) for col in join.peer]
    names = bytecols.csv_escape(psikeys.encode_items(join.peer_names, "column name"), delimiter) \
        if join.peer_names else None
    rows = join.rows
    n = rows.shape[0]
    done = 0
    term = b"\n"
    with _open_out(out_path) as fh:
        for w in m.windows(delimiter):
            if w is None:  # counted as exact a moment ago: the file changed under us
                raise _changed(in_path)
            first, _, starts, ends = w
            if first == 0 and starts.shape[0]:
                head = bytes(buf[starts[0]:ends[0]])
                bom = b"\xef\xbb\xbf" if bytes(buf[:3]) == b"\xef\xbb\xbf" else b""
                after = bytes(buf[ends[0]:ends[0] + 2])
                term = b"\r\n" if after == b"\r\n" else after[:1] if after[:1] in (b"\r", b"\n") else b"\n"
                fh.write(bom + head)
                for c in range(len(join.peer_names)):
                    fh.write(d + names[0][names[1][c]:names[1][c + 1]].tobytes())
                fh.write(term)
            # Output rows whose record (row r is record r + 1) lies in this window.
            lo = int(np.searchsorted(rows, first - 1, side="left")) if first else 0
            hi = int(np.searchsorted(rows, first - 1 + starts.shape[0], side="left"))
            lo = max(lo, done)
            for a in range(lo, hi, CHUNK):
                b = min(hi, a + CHUNK)
                parts = [bytecols.gather_spans(buf, starts, ends, rows[a:b] + 1 - first)]
                if escaped:
                    parts += _peer_parts(join, slice(a, b), escaped, d)
                parts.append(term)
                fh.write(memoryview(bytecols.concat_rows(parts, b - a)))
                if progress is not None:
                    progress.update(b, n)
            done = max(done, hi)
        if done != n:  # inside the block: the temporary file is discarded
            raise _changed(in_path)
    return n


def _write_csv_stdlib(table: KeyTable, out_path: str, join: Join, delimiter: str) -> int:
    """The fallback where a byte copy is not exact (a NUL byte): rows as the csv module writes them."""
    import io

    peer = [_decoded(col) for col in join.peer]
    counts = np.bincount(join.rows, minlength=table.rows_read) if join.rows.size else np.zeros(0, dtype=np.int64)
    written = 0
    with open_text(table.path) as fh, _open_out(out_path) as raw:
        out = io.TextIOWrapper(raw, encoding="utf-8", newline="", write_through=True)
        try:
            writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
            it = records_of(table.path, fh, delimiter)
            first = next(it, None)
            if first is None:
                raise _changed(table.path)
            writer.writerow(first[1] + list(join.peer_names))
            for rec, (_, row) in enumerate(it):
                if rec >= counts.shape[0]:
                    break
                for _ in range(counts[rec]):
                    pi = -1 if join.pidx is None else int(join.pidx[written])
                    writer.writerow(row + [col[pi] if pi >= 0 else "" for col in peer])
                    written += 1
            if written != join.rows.shape[0]:
                raise _changed(table.path)
        finally:
            out.detach()
    return written


def _decoded(col) -> list[str]:
    d, o = col
    blob = d.tobytes()
    return [blob[a:b].decode("utf-8") for a, b in zip(o[:-1].tolist(), o[1:].tolist())]


#: Rows per block of a Parquet input read by the column writers.
BLOCK_ROWS = 1 << 20


def _own_blocks(table: KeyTable, delimiter: str, want_arrow: bool):
    """All of this side's columns, a block of rows at a time: ``(header, blocks)``; ``blocks`` yields
    ``(first row, rows, block)``, a block being a pyarrow table (``want_arrow``) or text columns
    ``[(data, offsets, null)]``, and raises (inside the writer's block) if the file no longer holds
    ``table.rows_read`` records. Memory: a block of the input, not the whole file."""
    if is_parquet(table.path):
        import pyarrow as pa
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(table.path)
        if pf.metadata.num_rows != table.rows_read:
            raise _changed(table.path)
        batches = (pa.Table.from_batches([rb]) for rb in pf.iter_batches(batch_size=BLOCK_ROWS))
        return list(pf.schema_arrow.names), _blocks(table, batches, want_arrow, pf.schema_arrow)
    if arrow_enabled():
        import pyarrow as pa

        from . import csvfast

        it = csvfast.iter_all_arrow(table.path, table.header, delimiter)
        if it is not None:
            schema = pa.schema([(nm, pa.large_string()) for nm in table.header])
            tables = (pa.Table.from_batches([rb]) for rb in it)
            return list(table.header), _blocks(table, tables, want_arrow, schema)
    header, cols = _read_all_stdlib(table, delimiter)
    if want_arrow:
        import pyarrow as pa

        arrays = [pa.LargeStringArray.from_buffers(len(o) - 1, pa.py_buffer(o), pa.py_buffer(d))
                  for d, o, _ in cols]
        whole = pa.Table.from_arrays(arrays, names=_unique(header))
        return header, _blocks(table, iter([whole]), True, whole.schema)
    return header, iter([(0, table.rows_read, cols)])


def _blocks(table, tables, want_arrow, schema):
    first = 0
    for t in tables:
        k = t.num_rows
        yield first, k, (t if want_arrow else _arrow_text_columns(table.path, t))
        first += k
    if first != table.rows_read:
        raise _changed(table.path)
    if want_arrow and first == 0:
        yield 0, 0, schema.empty_table()


def _block_rows(rows: np.ndarray, first: int, k: int) -> tuple[int, int]:
    """The output rows (indices into ``rows``, ascending records) whose record is in ``[first, first + k)``."""
    return int(np.searchsorted(rows, first, side="left")), int(np.searchsorted(rows, first + k, side="left"))


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for nm in names:
        k = seen.get(nm, 0)
        seen[nm] = k + 1
        out.append(nm if not k else f"{nm}_{k + 1}")
    return out


def _arrow_text_columns(path, t):
    import pyarrow as pa
    import pyarrow.compute as pc

    from .csvfast import string_buffers

    cols = []
    for name, col in zip(t.column_names, t.columns):
        arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        if not pa.types.is_large_string(arr.type):
            try:
                arr = pc.cast(arr, pa.large_string())
            except (pa.ArrowException, NotImplementedError):
                raise InputError(f"{path}: column {name!r} of type {arr.type} cannot be written as text; "
                                 f"use --output-format parquet") from None
        null = arr.is_null().to_numpy(zero_copy_only=False) if arr.null_count else None
        d, o = string_buffers(arr)
        cols.append((d, o, null))
    return cols


def _read_all_stdlib(table: KeyTable, delimiter: str):
    """Every column as text with the csv module (the fallback; short records get empty cells)."""
    with open_text(table.path) as fh:
        it = records_of(table.path, fh, delimiter)
        first = next(it, None)
        if first is None:
            raise _changed(table.path)
        header = first[1]
        cols: list[list[str]] = [[] for _ in header]
        w = len(header)
        for _, row in it:
            row = row[:w] + [""] * (w - len(row))
            for c, v in zip(cols, row):
                c.append(v)
    if len(cols[0]) != table.rows_read:
        raise _changed(table.path)
    return header, [(*psikeys.encode_items(c, "cell"), None) for c in cols]


def _take_own(cols, rows):
    out = []
    for d, o, null in cols:
        g = bytecols.gather((d, o), rows)
        out.append((g, None if null is None else null[rows]))
    return out


def _write_csv_columns(header, blocks, out_path: str, join: Join, delimiter: str, progress) -> int:
    d = delimiter.encode()
    names = header + list(join.peer_names)
    hrow = bytecols.concat_rows(_interleave([bytecols.csv_escape(psikeys.encode_items([nm], "column name"),
                                                                 delimiter) for nm in names], d) + [b"\n"], 1)
    escaped = [bytecols.csv_escape(col, delimiter) for col in join.peer]
    n = join.rows.shape[0]
    with _open_out(out_path) as fh:
        fh.write(hrow.tobytes())
        for first, k, cols in blocks:
            lo, hi = _block_rows(join.rows, first, k)
            for a in range(lo, hi, CHUNK):
                b = min(hi, a + CHUNK)
                own = [bytecols.csv_escape(g, delimiter) for g, _ in _take_own(cols, join.rows[a:b] - first)]
                parts = _interleave(own, d)
                if escaped:
                    parts += _peer_parts(join, slice(a, b), escaped, d)
                parts.append(b"\n")
                fh.write(memoryview(bytecols.concat_rows(parts, b - a)))
                if progress is not None:
                    progress.update(b, n)
    return n


def _interleave(cols, sep: bytes):
    parts = []
    for i, c in enumerate(cols):
        if i:
            parts.append(sep)
        parts.append(c)
    return parts


def _json_key(name: str, first: bool) -> bytes:
    import json

    return (b"{" if first else b",") + json.dumps(name, ensure_ascii=False).encode() + b":"


def _write_jsonl(header, blocks, out_path: str, join: Join, progress) -> int:
    n = join.rows.shape[0]
    with _open_out(out_path) as fh:
        for first, k, cols in blocks:
            lo, hi = _block_rows(join.rows, first, k)
            for a in range(lo, hi, CHUNK):
                b = min(hi, a + CHUNK)
                parts = []
                for i, (g, null) in enumerate(_take_own(cols, join.rows[a:b] - first)):
                    parts += [_json_key(header[i], i == 0), bytecols.json_escape(g, null)]
                for c, col in enumerate(join.peer):
                    pidx = join.pidx[a:b]
                    parts += [_json_key(join.peer_names[c], not parts),
                              bytecols.json_escape(bytecols.gather(col, pidx), pidx < 0)]
                parts.append(b"}\n")
                fh.write(memoryview(bytecols.concat_rows(parts, b - a)))
                if progress is not None:
                    progress.update(b, n)
    return n


def _write_parquet(blocks, out_path: str, join: Join, progress) -> int:
    """One row group per input block (the content equals one table's)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    peer = []
    for d, o in join.peer:
        o = np.ascontiguousarray(o, dtype=np.int64)
        data = pa.py_buffer(np.ascontiguousarray(d))
        peer.append(pa.LargeStringArray.from_buffers(len(o) - 1, pa.py_buffer(o), data))
    n = join.rows.shape[0]
    writer = None
    with _open_out(out_path) as fh:
        try:
            for first, k, t in blocks:
                lo, hi = _block_rows(join.rows, first, k)
                part = t.take(pa.array(join.rows[lo:hi] - first, type=pa.int64()))
                if join.peer:
                    pidx = pa.array(join.pidx[lo:hi], type=pa.int64(), mask=join.pidx[lo:hi] < 0)
                    for name, arr in zip(join.peer_names, peer):
                        part = part.append_column(name, arr.take(pidx))
                if writer is None:
                    writer = pq.ParquetWriter(fh, part.schema)
                if part.num_rows or not first:
                    writer.write_table(part)
                if progress is not None:
                    progress.update(hi, n)
        finally:
            if writer is not None:
                writer.close()
    return n


def write_matches(in_path: str, out_path: str, records: np.ndarray, delimiter: str = ",", progress=None) -> int:
    """The header and the records numbered in ``records`` (0-based), as CSV, atomically (no peer columns)."""
    table = KeyTable(path=in_path, header=[], key_columns=[], columns=[], records=np.zeros(0, dtype=np.int64),
                     rows_read=_count_records(in_path, delimiter))
    return write_result(table, out_path, "csv", Join(rows=np.sort(np.asarray(records, dtype=np.int64))), delimiter,
                        progress)


def _count_records(path: str, delimiter: str) -> int:
    if is_parquet(path):
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    if os.path.isfile(path) and os.path.getsize(path):
        spans = bytecols.record_spans(np.memmap(path, dtype=np.uint8, mode="r"), delimiter)
        if spans is not None:
            return max(0, spans[0].shape[0] - 1)
    with open_text(path) as fh:
        return max(0, sum(1 for _ in records_of(path, fh, delimiter)) - 1)
