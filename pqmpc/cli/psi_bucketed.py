"""``pqmpc psi serve|connect`` in buckets: the path for big files (``--buckets``, ``--workers``, ``--work-dir``,
``--resume``, ``--engine``).

The hook :mod:`pqmpc.cli.psi` calls: :func:`add_arguments` adds the flags, :func:`request` turns them
into this side's ``--buckets`` request (``auto`` by default: both sides choose the bucketed path when the
larger input is big, see :mod:`.psi_handshake`), :func:`check_input` checks the input's header before
any network activity, :func:`session` runs the bucketed PSI on the connection the plain command opened
and :func:`finish` writes the result with the plain command's writers (:mod:`.joinio`), so a bucketed
run writes the same bytes as an in-memory one. The input is streamed (pyarrow's streaming CSV reader or
Parquet's row groups, batch by batch) into bucket files in the run directory, so memory is bounded by a
bucket, not by the file; the buckets run as separate PSI sessions, ``--workers`` at a time, each on its
own secure connection to the same port (the listening side keeps listening; each connection names the
run and then one bucket at a time).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time

import numpy as np

from ..errors import InputError

__all__ = ["add_arguments", "wanted", "request", "check_input", "session", "finish", "RayChannels"]

ENGINES = ("local", "ray")


def _buckets_arg(text: str):
    t = text.strip().lower()
    if t in ("auto", "off"):
        return t
    try:
        v = int(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto, off or a number of buckets, not {text!r}") from None
    return "off" if v == 1 else v


def add_arguments(parser) -> None:
    g = parser.add_argument_group(
        "bucketed runs (large inputs)",
        "a bucketed run hashes both inputs into B buckets under a coin-tossed salt and runs each bucket pair "
        "as its own PSI session, so memory is bounded by a bucket; by default (--buckets auto) both sides run "
        "bucketed when the larger input has more than about 4.2 million rows")
    g.add_argument("--buckets", type=_buckets_arg, default="auto", metavar="auto|off|B",
                   help="auto: bucketed when the larger input is big, B chosen from the sizes (about 2^20 rows "
                        "per bucket); off (or 1): one in-memory session; B: bucketed in B buckets (both sides' "
                        "explicit choices must agree)")
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="bucket sessions at once, each in its own process and connection (default: CPU cores; "
                        "the run uses the smaller of the two sides' counts); implies a bucketed run")
    g.add_argument("--work-dir", default=None, metavar="DIR",
                   help="run directory (bucket files, finished buckets, manifest); keep it to --resume a run "
                        "(default: a temporary directory removed at the end); implies a bucketed run")
    g.add_argument("--resume", action="store_true",
                   help="finish the run in --work-dir: only unfinished buckets run again; refused if an input "
                        "or parameter changed")
    g.add_argument("--engine", choices=ENGINES, default="local",
                   help="local: worker processes on this machine; ray: Ray actors on this party's Ray cluster")
    g.add_argument("--ray-address", default="auto", metavar="auto|HOST:PORT|local",
                   help="the Ray cluster of this party (--engine ray); local: a private instance for this run")


def wanted(args) -> bool:
    """Whether a flag asks for the bucketed path whatever the sizes."""
    return (isinstance(args.buckets, int) or args.workers is not None or args.work_dir is not None or args.resume
            or args.engine != "local")


def request(args, plan=None):
    """This side's ``--buckets`` request for the plan message: "auto", "off", "on" or B (≥ 2); checks the flags."""
    b = args.buckets
    if isinstance(b, int) and not 2 <= b <= 65536:
        raise InputError(f"--buckets must be auto, off or in [1, 65536], not {b}")
    if args.workers is not None and not 1 <= args.workers <= 1024:
        raise InputError(f"--workers must be in [1, 1024], not {args.workers}")
    if args.resume and not args.work_dir:
        raise InputError("--resume needs the --work-dir of the run to finish")
    forced = [f for f, on in (("--workers", args.workers is not None), ("--work-dir", args.work_dir is not None),
                              ("--resume", args.resume), ("--engine ray", args.engine != "local")) if on]
    if b == "off":
        if forced:
            raise InputError(f"--buckets off runs in memory: drop {', '.join(forced)} (bucketed runs only)")
        return "off"
    if isinstance(b, int):
        return b
    return "on" if forced else "auto"


def check_input(path: str, key_columns, payload_columns, delimiter: str) -> int:
    """The header names every column (the errors the readers give); returns an estimate of the rows."""
    from . import csvio
    from .psi_sources import CsvSource, ParquetSource

    if csvio.is_parquet(path):
        src = ParquetSource(path, key_columns, [], False, payload_columns)
    else:
        src = CsvSource(path, key_columns, delimiter, [], False, payload_columns)
    return src.rows


class _Progress:
    """Phase lines, and a tqdm bar over buckets (done/total, rows/s, ETA) on stderr."""

    def __init__(self, base, quiet: bool):
        self.base, self.quiet, self.bar, self.t0, self.done0 = base, quiet, None, time.perf_counter(), None

    def phase(self, name):
        self.close()
        self.base.info(name)

    def buckets(self, done, total, rows):
        if self.quiet:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, unit="bucket", file=sys.stderr, dynamic_ncols=True,
                            desc="[pqmpc] buckets", smoothing=0.1)
            self.done0 = done
        self.bar.update(done - self.bar.n)
        secs = max(1e-9, time.perf_counter() - self.t0)
        self.bar.set_postfix_str(f"{rows / secs:,.0f} rows/s", refresh=True)

    def rows(self, done):
        """Partition progress: nothing to draw (the phase line says it started)."""

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
            self.t0 = time.perf_counter()


def _opener(mode, host, port, listener, auth, timeout, retry_for):
    from ..net import TcpChannel
    from .common import Progress, secure

    quiet = Progress(quiet=True)

    def open_channel():
        if mode == "serve":
            ch = listener.accept(timeout=timeout)
            return secure(ch, auth, "responder", quiet)
        ch = TcpChannel.connect(host, port, timeout=timeout, retry_for=retry_for)
        return secure(ch, auth, "initiator", quiet)

    return open_channel


class RayChannels:
    """What a Ray actor needs to open its secure connection on its own node: the key file paths, not
    the loaded keys (the actor reads them where it runs; each node needs the files at the same path)."""

    def __init__(self, args):
        self.paths = {k: getattr(args, k) for k in ("identity", "peer", "psk", "insecure")}

    def _auth(self):
        import argparse

        from .common import load_auth

        return load_auth(argparse.Namespace(**self.paths))

    def listen(self, host, port):
        from ..net import TcpListener

        return TcpListener(host, port)

    def accept(self, listener, timeout):
        from .common import Progress, secure

        return secure(listener.accept(timeout=timeout), self._auth(), "responder", Progress(quiet=True))

    def dial(self, host, port, timeout):
        from ..net import TcpChannel
        from .common import Progress, secure

        return secure(TcpChannel.connect(host, port, timeout=timeout, retry_for=timeout or 60.0), self._auth(),
                      "initiator", Progress(quiet=True))


def session(args, plan, raw, sch, listener, address, auth, progress, buckets, psi_role, t_start):
    """The bucketed run on the control connection ``sch`` (the CLI handshake's steps 1 and 2 done)."""
    from ..net import send_abort
    from ..psi.bucketed import run_bucketed
    from . import csvio
    from . import psi_handshake as clihs
    from .psi_sources import CsvSource, ParquetSource

    role = plan["mode"]
    host, port = address
    pq = csvio.is_parquet(args.input)
    try:
        if pq:
            source = ParquetSource(args.input, args.key, plan["normalize"], args.skip_empty, plan["payload"])
        else:
            source = CsvSource(args.input, args.key, plan["delimiter"], plan["normalize"], args.skip_empty,
                               plan["payload"])
        width = 0
        if plan["payload"]:
            progress.phase(f"measuring payloads in {os.path.basename(args.input)}", unit="B")
            source.progress = progress
            longest = source.longest_payload()
            progress.done()
            if args.payload_width is not None and longest > args.payload_width:
                raise InputError(f"--payload: a row's payload columns take {longest} bytes (4 per column + the "
                                 f"UTF-8 text), more than --payload-width {args.payload_width}")
            width = args.payload_width or max(16, -(-longest // 16) * 16)
    except InputError as exc:
        progress.done()
        from .psi import abort_reason

        send_abort(sch, f"{abort_reason(exc)} (it runs {role})")
        clihs.drain_payload_message(sch)
        raise
    agreed = clihs.agree_payload(sch, args, plan, width, args.peer_prefix)
    source.progress = _ReadProgress(progress, args.input)
    timeout = args.timeout if args.timeout is not None else 60.0 + 240.0 * max(1, source.rows) / 1e6
    session_timeout = args.timeout if args.timeout is not None else 300.0
    _keepalive(raw.sock)
    engine = None
    if args.engine == "ray":
        from ..psi.bucketed.ray_engine import ray_engine

        engine = ray_engine(args.ray_address, RayChannels(args), host, 0 if port == 0 else port, session_timeout)
    raw.set_timeout(timeout)
    extra = {"key_columns": len(args.key), "normalize": ",".join(plan["normalize"]) or "none", "learn": args.learn}
    bar = _Progress(progress, args.quiet)
    try:
        res = run_bucketed(psi_role, sch, source, dials=role == "connect",
                           open_channel=_opener(role, host, port, listener, auth, session_timeout,
                                                getattr(args, "connect_retry", 60.0)),
                           work_dir=args.work_dir, resume=args.resume, buckets=buckets,
                           workers=args.workers, protocol=agreed["protocol"], malicious=args.malicious,
                           reveal_to_sender=args.learn == "both", kappa=args.kappa, extra_params=extra,
                           engine=engine, progress=bar, **agreed["kw"],
                           # After the handshake the control connection waits while the peer
                           # partitions and the buckets run, however long that takes; a peer that
                           # vanishes without closing is found by TCP keepalive instead.
                           after_handshake=lambda: raw.set_timeout(args.timeout))
    finally:
        bar.close()
    return res, source, agreed


class _ReadProgress:
    """The partition's reading progress (bytes of the input) as one bar."""

    def __init__(self, base, path):
        self.base, self.path, self.started = base, path, False

    def update(self, done, total):
        if not self.started:
            self.base.phase(f"reading and bucketing {os.path.basename(self.path)}", unit="B")
            self.started = True
        self.base.update(done, total)


def finish(args, plan, got, progress, auth, t_start) -> int:
    """Write the result with the plain command's writers; print the summary."""
    from . import csvio, joinio
    from .csvio import KeyTable
    from .psi import emit_summary

    res, source, agreed = got
    if res.records is not None:  # a resumed run may not have read the input this time
        source.rows_read, source.skipped = res.records, res.skipped
    role = plan["mode"]
    learns = plan["learns"]
    rows_written = None
    t0 = time.perf_counter()
    if learns:
        table = KeyTable(path=args.input, header=list(source.header), key_columns=list(args.key), columns=[],
                         records=np.zeros(0, dtype=np.int64), rows_read=source.rows_read,
                         engine="parquet" if csvio.is_parquet(args.input) else "arrow")
        peer_payload = agreed["kw"].get("peer_payload")
        join = joinio.build_join(source.rows_read, table.header, args.join, None if peer_payload else res.indices,
                                 res.pairs if peer_payload else None, len(agreed["peer_columns"]),
                                 agreed["peer_names"])
        progress.phase(f"writing {'stdout' if args.output == '-' else os.path.basename(args.output)}", unit="row")
        rows_written = joinio.write_result(table, args.output, plan["format"], join, plan["delimiter"], progress)
        progress.done()
    seconds = dict(res.seconds, write=round(time.perf_counter() - t0, 4))
    summary = {
        "role": role, "psi_role": "receiver" if (args.learn == "both" and role == "connect") or args.learn == role
        else "sender", "input": args.input, "rows_read": source.rows_read,
        "keys_used": res.rows, "skipped_empty": source.skipped, "distinct_keys": res.distinct,
        "peer_distinct_keys": res.peer_distinct, "intersection": res.intersection if learns else None,
        "rows_written": rows_written, "output": args.output if learns else None,
        "output_format": plan["format"] if learns else None, "join": args.join if learns else None,
        "payload_columns": plan["payload"], "peer_columns": agreed["peer_names"], "learn": args.learn,
        "bucketed": True, "buckets": res.buckets, "workers": res.workers, "engine": args.engine,
        "buckets_reused": res.resumed_buckets, "run_id": res.run_id[:16],
        "seconds": round(time.perf_counter() - t_start, 3), "phase_seconds": seconds,
        "bytes_sent": res.bytes_sent, "bytes_received": res.bytes_received, "protocol": agreed["protocol"],
        "mode": "malicious" if args.malicious else "semi-honest", "kappa": args.kappa, "channel": auth.mode,
        "peer_fingerprint": auth.peer.fingerprint if auth.peer is not None else None,
        "output_sha256": _sha(args.output) if learns and args.output != "-" else None, "peak_rss_mb": _peak_rss(),
    }
    where = "stdout" if args.output == "-" else args.output
    human = (f"{role}: {res.rows} keys in {res.buckets} bucket{'s' if res.buckets != 1 else ''} "
             f"({res.workers} worker{'s' if res.workers != 1 else ''}"
             + (f", {res.resumed_buckets} reused from the run directory" if res.resumed_buckets else "") + "); "
             + (f"intersection: {res.intersection} keys; wrote {rows_written} rows to {where}" if learns
                else f"this side learns nothing (--learn {args.learn}): no output file written")
             + f"; {summary['seconds']:.2f} s")
    emit_summary(args, plan, summary, human)
    return 0


def _keepalive(sock) -> None:
    import socket

    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 6)):
        if hasattr(socket, name):  # Linux; elsewhere the system's keepalive timing applies
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


def _peak_rss() -> dict | None:
    """Peak resident memory of this process and of its largest finished worker process, in MB."""
    try:
        import resource
    except ImportError:
        return None
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / 2**20  # ru_maxrss: KiB on Linux, bytes on macOS
    return {"process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale, 1),
            "workers": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale, 1)}


def _sha(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()
