"""The run directory of a bucketed PSI: a manifest JSON and the per-bucket outputs, all written atomically.

``manifest.json`` holds what a resume must check and what it may skip:
parameters, salt, handshake digest, both input digests, the partition's
per-bucket row counts, and per bucket its status and output checksum. It is
rewritten (temporary file, fsync, rename) after every finished bucket, so a
killed run leaves the manifest of the last finished bucket. Outputs of finished
buckets live in ``out/`` (one ``.npz`` per bucket, also renamed into place), so
a resumed run reuses them and the merged result equals an uninterrupted run's.

The salt is stored here in the clear: the run directory is the party's own
private state, like its input file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile

import numpy as np

from ...errors import InputError
from ..payload import PayloadJoin

__all__ = ["Manifest", "MANIFEST", "atomic_bytes", "save_output", "load_output", "file_digest",
           "pause_for_tests"]

MANIFEST = "manifest.json"
VERSION = 1


def atomic_bytes(path: str, data: bytes) -> None:
    """``path`` holds ``data`` entirely or keeps its old content (temporary file, fsync, rename).

    Not :func:`pqmpc.util.atomic.atomic_open`: that one removes what it wrote when the
    command line is interrupted, and a finished bucket must survive an interrupted run."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(path) + ".", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def file_digest(path: str) -> str:
    """SHA-256 of a file, read in 8 MiB pieces."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 23):
            h.update(chunk)
    return h.hexdigest()


class Manifest:
    """``work_dir/manifest.json`` as a dict, saved atomically on every change."""

    def __init__(self, work_dir: str, data: dict):
        self.work_dir = work_dir
        self.data = data

    @property
    def path(self) -> str:
        return os.path.join(self.work_dir, MANIFEST)

    @classmethod
    def exists(cls, work_dir: str) -> bool:
        return os.path.exists(os.path.join(work_dir, MANIFEST))

    @classmethod
    def load(cls, work_dir: str) -> "Manifest":
        path = os.path.join(work_dir, MANIFEST)
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot read the run manifest ({exc}); start a fresh run in an empty "
                             f"--work-dir") from None
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise InputError(f"{path}: not a bucketed-PSI manifest of version {VERSION}")
        return cls(work_dir, data)

    def save(self) -> None:
        atomic_bytes(self.path, json.dumps(self.data, indent=1, sort_keys=True).encode())

    # -- per-bucket state ---------------------------------------------------
    @property
    def buckets(self) -> int:
        return int(self.data["buckets"])

    def done(self) -> np.ndarray:
        """Boolean per bucket: output on disk with the recorded checksum."""
        out = np.zeros(self.buckets, dtype=bool)
        for k, v in self.data.get("finished", {}).items():
            out[int(k)] = os.path.exists(self.output_path(int(k))) and v["sha256"] == _cached_digest(self, int(k))
        return out

    def finish(self, b: int, sha256: str, stats: dict) -> None:
        self.data.setdefault("finished", {})[str(b)] = {"sha256": sha256, **stats}
        self.save()

    def output_path(self, b: int) -> str:
        return os.path.join(self.work_dir, "out", f"b{b:06d}.npz")


def pause_for_tests(work_dir: str, phase: str) -> None:
    """Test hook: with ``PQMPC_BUCKETED_PAUSE=phase`` set, mark ``work_dir/.paused-phase`` and sleep, so a
    test can kill the process at a known point (partition, bucket, merge). Nothing happens otherwise."""
    if os.environ.get("PQMPC_BUCKETED_PAUSE") != phase:
        return
    import time

    with open(os.path.join(work_dir, f".paused-{phase}"), "w"):
        pass
    time.sleep(120)


def _cached_digest(m: Manifest, b: int) -> str:
    return file_digest(m.output_path(b))


def save_output(path: str, result) -> str:
    """One bucket's result (global row numbers, or a :class:`PayloadJoin` with global rows); its SHA-256."""
    buf = io.BytesIO()
    if isinstance(result, PayloadJoin):
        np.savez(buf, rows=result.rows, payload_index=result.payload_index, data=result.data, offsets=result.offsets)
    else:
        np.savez(buf, rows=np.asarray(result, dtype=np.int64))
    raw = buf.getvalue()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic_bytes(path, raw)
    return hashlib.sha256(raw).hexdigest()


def load_output(path: str):
    with np.load(path, allow_pickle=False) as z:
        if "payload_index" in z.files:
            return PayloadJoin(rows=z["rows"], payload_index=z["payload_index"], data=z["data"], offsets=z["offsets"])
        return z["rows"]
