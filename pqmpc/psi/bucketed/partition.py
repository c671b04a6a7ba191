"""Streaming an input once into B bucket files keyed by a salted hash of each key.

Every key becomes a 128-bit identifier under a key derived from the coin-tossed
salt (:func:`pqmpc.psi.keys.item_ids`: a length-prefixed AES CBC-MAC, in bulk);
its first eight bytes pick the bucket. The bucket files hold only these
identifiers and the row numbers (plus the raw payloads of a side that sends
some), so their contents and sizes say nothing about the keys to anyone without
the salt, and the two parties' buckets with the same index hold every pair of
equal keys. The identifiers are also what the per-bucket PSI runs on: equal keys
give equal identifiers, distinct keys collide with probability about 2^-128
per pair (the salt is fixed after both inputs are, as :mod:`pqmpc.psi.keys`
explains for its per-session key).

Files of bucket ``b`` (all little-endian, appended batch by batch):
``b.ids`` 16 bytes per row, ``b.rows`` int64 row numbers (ascending),
and with payloads ``b.plen`` (uint32 length per row) and ``b.pdat`` (the bytes).
Partitioning writes into ``parts.tmp/`` and renames it to ``parts/`` when every
batch is in, so a killed run leaves either no partition or a whole one.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
from dataclasses import dataclass

import numpy as np

from ...errors import InputError, ParameterError
from .. import keys

__all__ = ["Batch", "Bucket", "id_key", "bucket_of", "partition", "load_bucket", "distinct_counts", "pad_target",
           "PARTS"]

PARTS = "parts"


@dataclass
class Batch:
    """Consecutive input rows: ``records`` (row numbers, ascending), the encoded keys and optional payloads."""

    records: np.ndarray
    data: np.ndarray
    offsets: np.ndarray
    pdata: np.ndarray | None = None
    poffsets: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.records.shape[0])


@dataclass
class Bucket:
    """One bucket read back: identifiers ``(n, 16)``, row numbers, payloads as ``(data, offsets)`` or None."""

    ids: np.ndarray
    rows: np.ndarray
    payload: tuple[np.ndarray, np.ndarray] | None

    def items(self, dummies: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The identifiers as the ``(data, offsets)`` the PSI protocols take (16 bytes each), followed by
        ``dummies`` random ones (which match nothing but with probability about 2^-128 each)."""
        ids = np.ascontiguousarray(self.ids).reshape(-1)
        if dummies:
            ids = np.concatenate([ids, np.frombuffer(os.urandom(16 * dummies), dtype=np.uint8)])
        n = ids.shape[0] // 16
        return ids, np.arange(0, 16 * n + 1, 16, dtype=np.int64)


def id_key(salt: bytes) -> bytes:
    """The 16-byte key of the identifiers, derived from the agreed salt (domain-separated)."""
    return hashlib.sha256(b"pqmpc/bucketed-psi/ids\x00" + salt).digest()[:16]


def bucket_of(ids: np.ndarray, buckets: int) -> np.ndarray:
    """Bucket index of each identifier: its first eight bytes (uint64, little-endian) modulo ``buckets``."""
    first = np.ascontiguousarray(ids[:, :8]).view("<u8").reshape(-1)
    return (first % np.uint64(buckets)).astype(np.int64)


def _paths(folder: str, b: int) -> dict[str, str]:
    stem = os.path.join(folder, f"b{b:06d}")
    return {k: f"{stem}.{k}" for k in ("ids", "rows", "plen", "pdat")}


def _gather(data: np.ndarray, offsets: np.ndarray, order: np.ndarray):
    """Variable-length items ``order`` of ``(data, offsets)``, concatenated, and their lengths (no Python loop)."""
    lens = np.diff(offsets)[order]
    total = int(lens.sum())
    if not total:
        return np.zeros(0, dtype=np.uint8), lens
    starts = offsets[:-1][order]
    ends = np.cumsum(lens)
    pos = np.repeat(starts - (ends - lens), lens) + np.arange(total, dtype=np.int64)
    return data[pos], lens


def partition(batches, folder: str, salt: bytes, buckets: int, with_payload: bool, payload_width: int | None = None,
              progress=None) -> list[int]:
    """Stream ``batches`` into ``folder/parts``; returns the row count of every bucket.

    ``progress(rows_done)`` is called after each batch. An earlier incomplete
    ``parts.tmp`` is discarded; a complete ``parts`` is replaced only by a complete one.
    """
    if not 1 <= buckets:
        raise ParameterError(f"buckets must be at least 1, not {buckets}")
    tmp = os.path.join(folder, PARTS + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    key = id_key(salt)
    counts = np.zeros(buckets, dtype=np.int64)
    done = 0
    last = -1
    for batch in batches:
        n = len(batch)
        if n and int(batch.records[0]) <= last:
            raise ParameterError("batches must number their rows in ascending order")
        if n:
            last = int(batch.records[-1])
        if with_payload and batch.pdata is None:
            raise ParameterError("this side sends payloads: every batch needs them")
        ids = keys.item_ids(batch.data, batch.offsets, key)
        which = bucket_of(ids, buckets)
        order = np.argsort(which, kind="stable")  # keeps the row order inside each bucket
        per = np.bincount(which, minlength=buckets)
        bounds = np.concatenate([[0], np.cumsum(per)])
        ids, rows = ids[order], np.asarray(batch.records, dtype="<i8")[order]
        if with_payload:
            pdat, plen = _gather(batch.pdata, batch.poffsets, order)
            if payload_width is not None and plen.size and int(plen.max()) > payload_width:
                r = int(rows[int(np.argmax(plen > payload_width))])
                raise InputError(f"row {r + 1}: payload of {int(plen.max())} bytes is longer than the agreed "
                                 f"payload width of {payload_width} bytes")
            pbounds = np.concatenate([[0], np.cumsum(plen)])
        for b in np.flatnonzero(per).tolist():
            s, e = int(bounds[b]), int(bounds[b + 1])
            p = _paths(tmp, b)
            with open(p["ids"], "ab") as fh:
                fh.write(ids[s:e].tobytes())
            with open(p["rows"], "ab") as fh:
                fh.write(rows[s:e].tobytes())
            if with_payload:
                with open(p["plen"], "ab") as fh:
                    fh.write(plen[s:e].astype("<u4").tobytes())
                with open(p["pdat"], "ab") as fh:
                    fh.write(pdat[int(pbounds[s]):int(pbounds[e])].tobytes())
        counts += per
        done += n
        if progress is not None:
            progress(done)
    _fsync_dir_files(tmp)
    final = os.path.join(folder, PARTS)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return counts.tolist()


def distinct_counts(folder: str, counts: list[int]) -> list[int]:
    """Distinct keys of every bucket (equal keys share a bucket, so these add up to the input's)."""
    out = []
    for b, n in enumerate(counts):
        ids = load_bucket(folder, b, n, False).ids
        out.append(int(keys.dedup_ids(ids)[0].shape[0]))
    return out


def pad_target(distinct_total: int, buckets: int, distinct: list[int]) -> int:
    """Distinct items every bucket is padded to: a bound on the largest bucket computed from the total
    alone (the mean plus 8 standard deviations plus 16), so the peer learns the total, as unbucketed PSI
    tells it, and nothing about which bucket holds how many. A bucket past the bound (probability about
    2^-40 for distinct keys) raises the target to that bucket's size."""
    mean = distinct_total / buckets
    cap = math.ceil(mean + 8 * math.sqrt(mean) + 16)
    return max([cap, *distinct])


def _fsync_dir_files(folder: str) -> None:
    # The rename publishes the partition; its bytes must be on disk first (a power cut, not only a kill).
    for name in os.listdir(folder):
        fd = os.open(os.path.join(folder, name), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def load_bucket(folder: str, b: int, expect_rows: int, with_payload: bool) -> Bucket:
    """Bucket ``b`` of ``folder/parts``, checked against the row count the manifest recorded."""
    p = _paths(os.path.join(folder, PARTS), b)

    def read(name, dtype):
        return np.fromfile(p[name], dtype=dtype) if os.path.exists(p[name]) else np.zeros(0, dtype=dtype)

    ids = read("ids", np.uint8).reshape(-1, 16)
    rows = read("rows", "<i8").astype(np.int64, copy=False)
    payload = None
    if with_payload:
        plen = read("plen", "<u4").astype(np.int64)
        offsets = np.zeros(plen.shape[0] + 1, dtype=np.int64)
        np.cumsum(plen, out=offsets[1:])
        payload = (read("pdat", np.uint8), offsets)
        if plen.shape[0] != expect_rows or payload[0].shape[0] != int(offsets[-1]):
            raise InputError(f"bucket {b}: payload files do not match the manifest (work directory damaged)")
    if ids.shape[0] != expect_rows or rows.shape[0] != expect_rows:
        raise InputError(f"bucket {b}: {rows.shape[0]} rows on disk, the manifest says {expect_rows} "
                         f"(work directory damaged; start a fresh run)")
    return Bucket(ids=ids, rows=rows, payload=payload)
