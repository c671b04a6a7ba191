"""One PSI session per bucket pair, and the loops a worker runs over its connection.

Each worker holds one secure connection (opened in the worker, so each has
its own keys and sockets). On it, the dialing side asks for one bucket at a
time: ``{"run": run id, "bucket": b}`` (or ``{"run": ..., "bucket": null}`` to end);
the listening side checks that the run id is this run's and that ``b`` is a
bucket still to do, then both run the PSI session for bucket ``b``, whose own
handshake names the run and the bucket again (``extra_params``), so two
sessions of different buckets can never be paired. The result, in global row
numbers, is saved atomically in the run directory before it is reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ...errors import PqmpcError, ProtocolError
from ..payload import PayloadJoin
from ..protocols import run_protocol
from .manifest import pause_for_tests, save_output
from .partition import load_bucket

__all__ = ["Context", "run_bucket", "bucket_session", "check_request", "dial_loop", "listen_loop", "REQUEST_MAX",
           "REQUEST_STEP"]

REQUEST_MAX = 256
REQUEST_STEP = "bucketed PSI (bucket request)"


def check_request(ctx, msg):
    """The bucket a ``{"run", "bucket"}`` request names (None: no more), or ProtocolError."""
    if not isinstance(msg, dict) or set(msg) != {"run", "bucket"}:
        raise ProtocolError(f"{REQUEST_STEP}: malformed request")
    if msg["run"] != ctx.run_id:
        raise ProtocolError(f"{REQUEST_STEP}: the connection belongs to another run")
    b = msg["bucket"]
    if b is not None and (not isinstance(b, int) or isinstance(b, bool) or b not in ctx.todo):
        raise ProtocolError(f"{REQUEST_STEP}: bucket {str(b)[:20]} is not one this run still has to do")
    return b


@dataclass
class Context:
    """What a worker needs to run any bucket of this run (inherited by forked workers, or shipped to Ray)."""

    work_dir: str
    role: str
    run_id: str
    buckets: int
    counts: list
    todo: frozenset
    protocol: str | None
    reveal_to_sender: bool
    malicious: bool
    sends_payload: bool
    psi_kw: dict = field(default_factory=dict)
    #: Distinct keys of every bucket, and the number every bucket's set is padded to with dummies.
    distinct: list = field(default_factory=list)
    pad_to: int = 0

    def output_path(self, b: int) -> str:
        import os

        return os.path.join(self.work_dir, "out", f"b{b:06d}.npz")


def run_bucket(ctx: Context, b: int, ch) -> tuple[str, dict]:
    """The PSI session of bucket ``b`` on ``ch``; saves its output, returns its SHA-256 and counts."""
    t0 = time.perf_counter()
    bucket = load_bucket(ctx.work_dir, b, ctx.counts[b], ctx.sends_payload)
    out, stats = bucket_session(ctx, b, bucket, ch)
    if b == max(ctx.todo) and len(ctx.todo) > 1:
        pause_for_tests(ctx.work_dir, "bucket")  # the session is over, its output not yet saved
    sha = save_output(ctx.output_path(b), out)
    stats["seconds"] = round(time.perf_counter() - t0, 4)
    return sha, stats


def bucket_session(ctx: Context, b: int, bucket, ch):
    """The PSI session of bucket ``b`` (a :class:`~.partition.Bucket`) on ``ch``: its output in global
    row numbers (a :class:`PayloadJoin` with peer payloads) and its counts; nothing is written."""
    t0 = time.perf_counter()
    kw = dict(ctx.psi_kw)
    n = int(bucket.rows.shape[0])
    # Random dummies bring every bucket to the same number of distinct items, which is what the session
    # announces (and what its traffic and timing follow): the peer learns the total, not the buckets.
    dummies = max(0, ctx.pad_to - ctx.distinct[b]) if ctx.distinct else 0
    if ctx.sends_payload:
        d, o = bucket.payload
        kw["payload"] = (d, np.concatenate([o, np.full(dummies, o[-1], dtype=np.int64)]))
    extra = dict(kw.pop("extra_params", None) or {})
    extra.update({"bucketed_run": ctx.run_id[:32], "bucket": f"{b}/{ctx.buckets}"})
    s0, r0 = _counters(ch)
    res = run_protocol(ctx.protocol, ctx.role, ch, bucket.items(dummies), reveal_to_sender=ctx.reveal_to_sender,
                       malicious=ctx.malicious, extra_params=extra, **kw)
    s1, r1 = _counters(ch)
    if res.pairs is not None and kw.get("peer_payload"):
        pj = res.pairs
        real = pj.rows < n  # a dummy matches only by a 2^-128 accident; never report one
        out = PayloadJoin(rows=bucket.rows[pj.rows[real]], payload_index=pj.payload_index[real], data=pj.data,
                          offsets=pj.offsets)
    elif res.indices is not None:
        idx = np.asarray(res.indices, dtype=np.int64)
        out = bucket.rows[idx[idx < n]]
    else:
        out = np.zeros(0, dtype=np.int64)
    stats = {"rows": n, "distinct": int(res.distinct) - dummies, "peer_distinct": int(res.peer_distinct),
             "intersection": None if res.intersection is None else int(res.intersection),
             "bytes_sent": s1 - s0 or int(res.bytes_sent), "bytes_received": r1 - r0 or int(res.bytes_received),
             "seconds": round(time.perf_counter() - t0, 4)}
    return out, stats


def _counters(ch) -> tuple[int, int]:
    st = getattr(ch, "stats", None)
    return (int(getattr(st, "bytes_sent", 0)), int(getattr(st, "bytes_received", 0))) if st is not None else (0, 0)


def dial_loop(ctx: Context, open_channel, next_bucket, report) -> None:
    """Dialing side's worker: ``next_bucket()`` gives a bucket or None; ``report(b, sha, stats)`` after each."""
    with open_channel() as ch:
        while True:
            b = next_bucket()
            ch.send_json({"run": ctx.run_id, "bucket": b})
            if b is None:
                return
            sha, stats = run_bucket(ctx, b, ch)
            report(b, sha, stats)


def listen_loop(ctx: Context, open_channel, report) -> None:
    """Listening side's worker: serve the buckets the dialing side asks for until it says ``null``."""
    with open_channel() as ch:
        served = set()
        while True:
            try:
                msg = ch.recv_json(REQUEST_STEP, max_bytes=REQUEST_MAX)
            except PqmpcError:
                raise
            except (RecursionError, ValueError) as exc:
                raise ProtocolError(f"{REQUEST_STEP}: cannot parse ({type(exc).__name__})") from None
            b = check_request(ctx, msg)
            if b is None:
                return
            if b in served:
                raise ProtocolError(f"{REQUEST_STEP}: bucket {b} was asked for twice")
            served.add(b)
            sha, stats = run_bucket(ctx, b, ch)
            report(b, sha, stats)
