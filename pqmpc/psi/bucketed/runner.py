"""A bucketed PSI run from start to finish: handshake, partition, bucket sessions, merge.

``run_bucketed(role, ch, source, dials=..., open_channel=...)`` is the whole
run as one party; ``ch`` is the control connection (the handshake and two
barriers travel on it), ``open_channel()`` opens one more connection to the
peer for a worker (dialing, or accepting on the listening side). The run
directory keeps the partition and every finished bucket, so a run killed at any
point is taken up by the same call with ``resume=True``: it checks (with the
peer) that neither input nor parameter changed, skips the partition if it was
complete, runs only the buckets not finished on both sides, and merges. The
merged result is the same as an uninterrupted run's: every bucket's output is
a deterministic function of the two inputs and the salt.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from ...errors import InputError, ParameterError, PeerStopped, PqmpcError, ProtocolError
from .. import keys
from ..payload import PayloadJoin
from ..protocols import resolve_protocol
from .handshake import LOST, MAX_BUCKETS, agree
from .manifest import Manifest, file_digest, load_output, pause_for_tests
from .partition import Batch, distinct_counts, pad_target, partition
from .sessions import Context

__all__ = ["ItemsSource", "BucketedResult", "run_bucketed", "merge_outputs", "BATCH_ROWS"]

BATCH_ROWS = 1 << 20
BARRIER_STEP = "bucketed PSI (barrier)"


class ItemsSource:
    """In-memory keys (and this side's payloads) as the batches a run partitions."""

    def __init__(self, items, payload=None, batch_rows: int = BATCH_ROWS):
        self.data, self.offsets = items if keys.is_encoded(items) else keys.encode_items(items)
        self.payload = None
        if payload is not None:
            self.payload = payload if keys.is_encoded(payload) else keys.encode_items(payload, "payload")
            if self.payload[1].shape[0] != self.offsets.shape[0]:
                raise ParameterError("give exactly one payload per item")
        self.rows = int(self.offsets.shape[0] - 1)
        self.batch_rows = batch_rows

    def digest(self) -> str:
        h = hashlib.sha256(b"items\x00")
        for a in (self.data, self.offsets) + (self.payload or ()):
            h.update(np.ascontiguousarray(a).tobytes())
            h.update(b"\x00")
        return h.hexdigest()

    def batches(self):
        for s in range(0, max(self.rows, 1), self.batch_rows):
            e = min(self.rows, s + self.batch_rows)
            o = self.offsets[s:e + 1]
            pd = po = None
            if self.payload is not None:
                po = self.payload[1][s:e + 1]
                pd, po = self.payload[0][po[0]:po[-1]], po - po[0]
            yield Batch(np.arange(s, e, dtype=np.int64), self.data[o[0]:o[-1]], o - o[0], pd, po)


@dataclass
class BucketedResult:
    """What one party got: ``indices`` (sorted global rows) or None, ``pairs`` (a PayloadJoin) or None."""

    indices: np.ndarray | None
    pairs: PayloadJoin | None
    buckets: int
    workers: int
    rows: int
    distinct: int
    #: The peer's distinct keys *with its padding dummies* (every bucket padded alike): an upper bound.
    peer_distinct: int
    intersection: int | None
    resumed_buckets: int
    run_id: str
    work_dir: str
    seconds: dict = field(default_factory=dict)
    bytes_sent: int = 0
    bytes_received: int = 0
    #: Records of the source (rows, skipped ones included) and rows skipped for an empty key.
    records: int | None = None
    skipped: int = 0


def _params(role, protocol, malicious, reveal, sends_payload, wants_payload, psi_kw, extra) -> dict:
    to_receiver = sends_payload if role == "sender" else wants_payload
    to_sender = wants_payload if role == "sender" else sends_payload
    p = {"protocol": protocol, "malicious": bool(malicious), "reveal_to_sender": bool(reveal),
         "payload_to_receiver": bool(to_receiver), "payload_to_sender": bool(to_sender),
         "payload_width": psi_kw.get("payload_width") if (to_receiver or to_sender) else None,
         "kappa": psi_kw.get("kappa", 128), "bucket_padding": "random dummies to mean+8sd+16"}
    for k, v in (extra or {}).items():
        p[f"x_{k}"] = v
    return p


def run_bucketed(role: str, ch, source, *, dials: bool, open_channel, work_dir: str | None = None,
                 resume: bool = False, buckets: int | None = None, workers: int | None = None,
                 protocol: str | None = None, malicious: bool = False, reveal_to_sender: bool = False,
                 peer_payload: bool = False, payload_width: int | None = None, engine=None, progress=None,
                 extra_params: dict | None = None, after_handshake=None, **psi_kw) -> BucketedResult:
    """One party's bucketed PSI; see the module docstring.

    ``role``: "sender"/"receiver" as in :func:`pqmpc.psi.psi_sender`; ``dials``: this party opened the
    control connection and opens the workers' connections. ``source``: an :class:`ItemsSource` or any
    object with ``rows`` (a size hint), ``digest()`` and ``batches()`` (:class:`~.partition.Batch`).
    Payloads: a source with payloads sends them; ``peer_payload=True`` asks for the peer's.
    ``engine(ctx, dials, open_channel, workers, on_result, control=ch)`` runs the buckets
    (default: :func:`.local.run_local`; :func:`.ray_engine.ray_engine` makes a Ray one).
    ``progress``: an object with ``phase(name)`` and ``buckets(done, total, rows_done)`` (both optional).
    ``after_handshake()``: called once the handshake is through (e.g. to lift the control connection's
    receive timeout, which then spans the peer's partitioning and all buckets).
    """
    if role not in ("sender", "receiver"):
        raise ParameterError(f"role must be 'sender' or 'receiver', not {role!r}")
    if buckets is not None and not 1 <= int(buckets) <= MAX_BUCKETS:
        raise ParameterError(f"buckets must be in [1, {MAX_BUCKETS}], not {buckets}")
    workers = int(workers or os.cpu_count() or 1)
    sends_payload = getattr(source, "payload", None) is not None or getattr(source, "has_payload", False)
    if sends_payload or peer_payload:
        from ..payload import DEFAULT_WIDTH, check_width

        payload_width = check_width(DEFAULT_WIDTH if payload_width is None else payload_width)
        psi_kw["payload_width"] = payload_width
    if peer_payload:
        psi_kw["peer_payload"] = True
    protocol = resolve_protocol(protocol, {"payload": True if sends_payload else None, "peer_payload": peer_payload})
    params = _params(role, protocol, malicious, reveal_to_sender, sends_payload, peer_payload, psi_kw, extra_params)
    timings = {}
    t = time.perf_counter()
    owns_dir = work_dir is None
    if owns_dir:
        work_dir = tempfile.mkdtemp(prefix="pqmpc-bucketed-")
    os.makedirs(work_dir, exist_ok=True)
    try:
        return _run(role, ch, source, dials, open_channel, work_dir, resume, buckets, workers, protocol, malicious,
                    reveal_to_sender, sends_payload, params, psi_kw, engine, progress, timings, t, after_handshake)
    finally:
        if owns_dir:
            shutil.rmtree(work_dir, ignore_errors=True)


def _tell(progress, what, *args):
    f = getattr(progress, what, None) if progress is not None else None
    if f is not None:
        f(*args)


def _run(role, ch, source, dials, open_channel, work_dir, resume, buckets, workers, protocol, malicious, reveal,
         sends_payload, params, psi_kw, engine, progress, timings, t0, after_handshake=None):
    digest = source.digest()
    manifest = None
    if Manifest.exists(work_dir):
        if not resume:
            raise InputError(f"{work_dir} holds an earlier run (manifest.json): pass --resume to finish it, or "
                             f"use an empty --work-dir")
        manifest = Manifest.load(work_dir)
        if manifest.data["role"] != role or manifest.data["dials"] != dials:
            raise InputError(f"{work_dir}: the run there was begun in another role; use the same command")
        if buckets is not None and buckets != manifest.data["buckets"]:
            raise InputError(f"--buckets {buckets}: the run in {work_dir} has {manifest.data['buckets']} buckets; "
                             f"a resumed run keeps them (drop --buckets or pass the same number)")
    m = manifest.data if manifest is not None else None
    resume_info = None if m is None else {"run": m["run"], "peer_input": m["peer_input"], "params": m["params"],
                                          "salt": m["salt"], "buckets": m["buckets"]}
    if resume and m is None:
        resume_info = LOST  # killed before the handshake saved the manifest: the peer may hold one
    _tell(progress, "phase", "handshake")
    # A changed input is found by the peer (our digest differs from its record) and by us (the peer
    # echoes our recorded digest), so both stop with the reason.
    ag = agree(ch, dials, params, source.rows, buckets, workers, digest, resume_info)
    timings["handshake"] = time.perf_counter() - t0
    if after_handshake is not None:
        after_handshake()
    if ag.restarted:  # the peer lost the run: nothing of ours can be reused (no bucket finished on both)
        manifest = None
    if manifest is None:
        pause_for_tests(work_dir, "handshake")
        manifest = Manifest(work_dir, {"version": 1, "run": ag.run_id, "salt": ag.salt.hex(), "params": params,
                                       "role": role, "dials": dials, "buckets": ag.buckets, "input": digest,
                                       "peer_input": ag.peer_input, "rows_hint": source.rows, "partition": None,
                                       "finished": {}})
        manifest.save()
    m = manifest.data
    t = time.perf_counter()
    if m["partition"] is None:
        _tell(progress, "phase", f"bucketing into {ag.buckets} buckets")
        rows_cb = getattr(progress, "rows", None)

        def on_rows(done):
            if rows_cb is not None:
                rows_cb(done)
            pause_for_tests(work_dir, "partition")

        try:
            counts = partition(source.batches(), work_dir, ag.salt, ag.buckets, sends_payload,
                               psi_kw.get("payload_width"), progress=on_rows)
        except PqmpcError as exc:  # a bad row deep in the file: tell the peer waiting at the barrier why
            _send_abort(ch, f"{type(exc).__name__}: {exc}")
            raise
        m["partition"] = {"counts": counts, "rows": int(sum(counts)),
                          "distinct": distinct_counts(work_dir, counts),
                          # what a resumed run's writer needs and cannot read from the buckets
                          "records": int(getattr(source, "rows_read", sum(counts))),
                          "skipped": int(getattr(source, "skipped", 0))}
        manifest.save()
    timings["partition"] = time.perf_counter() - t
    done = manifest.done()
    peer_done = _barrier(ch, done, ag.buckets)
    todo = frozenset(np.flatnonzero(~(done & peer_done)).tolist())
    resumed = int(ag.buckets - len(todo))
    ctx = Context(work_dir=work_dir, role=role, run_id=ag.run_id, buckets=ag.buckets, counts=m["partition"]["counts"],
                  todo=todo, protocol=protocol, reveal_to_sender=reveal, malicious=malicious,
                  sends_payload=sends_payload, psi_kw=dict(psi_kw), distinct=m["partition"]["distinct"],
                  pad_to=pad_target(sum(m["partition"]["distinct"]), ag.buckets, m["partition"]["distinct"]))
    state = {"done": ag.buckets - len(todo), "rows": 0}
    _tell(progress, "phase", f"PSI on {len(todo)} of {ag.buckets} buckets, {ag.workers} worker(s)")
    _tell(progress, "buckets", state["done"], ag.buckets, 0)

    def on_result(b, sha, stats):
        manifest.finish(b, sha, stats)
        state["done"] += 1
        state["rows"] += stats["rows"]
        _tell(progress, "buckets", state["done"], ag.buckets, state["rows"])

    t = time.perf_counter()
    if engine is None:
        from .local import run_local as engine
    engine(ctx, dials, open_channel, ag.workers, on_result, control=ch)
    timings["buckets"] = time.perf_counter() - t
    done = manifest.done()
    peer_done = _barrier(ch, done, ag.buckets)
    if not (done.all() and peer_done.all()):
        missing = int((~(done & peer_done)).sum())
        raise ProtocolError(f"bucketed PSI: {missing} bucket(s) did not finish; run again with --resume")
    t = time.perf_counter()
    pause_for_tests(work_dir, "merge")
    _tell(progress, "phase", "merging bucket outputs")
    learns = role == "receiver" or reveal
    merged = merge_outputs([manifest.output_path(b) for b in range(ag.buckets)]) if learns else None
    timings["merge"] = time.perf_counter() - t
    fin = m["finished"]
    pairs = merged if isinstance(merged, PayloadJoin) else None
    indices = (pairs.indices if pairs is not None else merged) if learns else None
    inter = [v.get("intersection") for v in fin.values()]
    return BucketedResult(
        indices=indices, pairs=pairs, buckets=ag.buckets, workers=ag.workers, rows=m["partition"]["rows"],
        distinct=sum(v["distinct"] for v in fin.values()), peer_distinct=sum(v["peer_distinct"] for v in fin.values()),
        intersection=None if any(i is None for i in inter) else int(sum(inter)), resumed_buckets=resumed,
        run_id=ag.run_id, work_dir=work_dir, seconds={k: round(v, 4) for k, v in timings.items()},
        bytes_sent=sum(v["bytes_sent"] for v in fin.values()),
        bytes_received=sum(v["bytes_received"] for v in fin.values()),
        records=m["partition"].get("records"), skipped=int(m["partition"].get("skipped", 0)))


def _send_abort(ch, reason: str) -> None:
    """Tell the peer why this side stops, then take in its barrier messages: closing with them unread
    would reset the connection, and the peer could lose the reason with it."""
    try:
        ch.send_json({"abort": reason[:300]})
        ch.recv_json(BARRIER_STEP, max_bytes=512)
        ch.recv(max_bytes=MAX_BUCKETS // 8 + 16, step=BARRIER_STEP)
    except PqmpcError:
        pass


def _barrier(ch, done: np.ndarray, buckets: int) -> np.ndarray:
    """Exchange which buckets each side has finished (a bit per bucket); returns the peer's.

    Each side first says it is still in the run (``{"abort": null}``) or why it stopped."""
    ch.send_json({"abort": None})
    ch.send_bits(done.astype(np.uint8))
    msg = ch.recv_json(BARRIER_STEP, max_bytes=512)
    if not isinstance(msg, dict) or set(msg) != {"abort"} or not isinstance(msg["abort"], (str, type(None))):
        raise ProtocolError(f"{BARRIER_STEP}: malformed status")
    if msg["abort"] is not None:
        raise PeerStopped(f"the peer stopped: {msg['abort']}")
    return ch.recv_bits(buckets, BARRIER_STEP).astype(bool)


def merge_outputs(paths: list[str]):
    """The per-bucket outputs merged in input order: sorted row numbers, or one :class:`PayloadJoin`."""
    parts = [load_output(p) for p in paths]
    if parts and isinstance(parts[0], PayloadJoin):
        rows = np.concatenate([p.rows for p in parts])
        shift = np.cumsum([0] + [p.offsets.shape[0] - 1 for p in parts])
        pidx = np.concatenate([p.payload_index + s for p, s in zip(parts, shift)])
        base = np.cumsum([0] + [int(p.offsets[-1]) for p in parts])
        offsets = np.concatenate([[0]] + [p.offsets[1:] + b for p, b in zip(parts, base)]).astype(np.int64)
        data = np.concatenate([p.data for p in parts]) if parts else np.zeros(0, dtype=np.uint8)
        # A row lives in one bucket, so a stable sort on rows keeps each row's pairs in payload order.
        order = np.argsort(rows, kind="stable")
        return PayloadJoin(rows=rows[order], payload_index=pidx[order], data=data, offsets=offsets)
    rows = np.concatenate([np.asarray(p, dtype=np.int64) for p in parts]) if parts else np.zeros(0, np.int64)
    rows.sort(kind="stable")
    return rows


def input_file_digest(path: str, description: dict) -> str:
    """Digest of an input file and how it is read (columns, normalisation): what a resume compares."""
    h = hashlib.sha256(file_digest(path).encode())
    h.update(repr(sorted(description.items())).encode())
    return h.hexdigest()
