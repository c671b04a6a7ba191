"""``pqmpc psi serve|connect --buckets/--workers/--work-dir/--resume/--engine``: bucketed PSI on big files.

The hook :mod:`pqmpc.cli.psi` calls: :func:`add_arguments` adds the flags to
``serve`` and ``connect``, :func:`wanted` says whether a run asked for the
bucketed path, :func:`run` runs it. The input is streamed once (pyarrow's
streaming CSV reader, batch by batch) into bucket files in the run directory,
so memory is bounded by a bucket, not by the file; the buckets run as separate
PSI sessions, ``--workers`` at a time, each on its own secure connection to the
same port (the listening side keeps listening; each connection names the run
and then one bucket at a time). The output is the same file the plain command
writes: the rows of this side's input whose key is shared, header and order kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time

import numpy as np

from ..errors import ChannelTimeout, HandshakeError, InputError

__all__ = ["add_arguments", "wanted", "run", "CsvSource", "RayChannels"]

ENGINES = ("local", "ray")
# pyarrow reads a few blocks ahead of the consumer: 4 MiB blocks keep that near 100 MB.
BATCH_BYTES = 4 << 20


def add_arguments(parser) -> None:
    g = parser.add_argument_group(
        "bucketed runs (large inputs)",
        "any of these runs the PSI in buckets: both inputs are hashed into B buckets under a coin-tossed salt "
        "and each bucket pair is one PSI session; both sides must pass the bucketed flags")
    g.add_argument("--buckets", type=int, default=None, metavar="B",
                   help="number of buckets (default: automatic, about 2^20 rows each; both sides' choice must agree)")
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="bucket sessions at once, each in its own process and connection (default: CPU cores; "
                        "the run uses the smaller of the two sides' counts)")
    g.add_argument("--work-dir", default=None, metavar="DIR",
                   help="run directory (bucket files, finished buckets, manifest); keep it to --resume a run "
                        "(default: a temporary directory removed at the end)")
    g.add_argument("--resume", action="store_true",
                   help="finish the run in --work-dir: only unfinished buckets run again; refused if an input "
                        "or parameter changed")
    g.add_argument("--engine", choices=ENGINES, default="local",
                   help="local: worker processes on this machine; ray: Ray actors on this party's Ray cluster")
    g.add_argument("--ray-address", default="auto", metavar="auto|HOST:PORT|local",
                   help="the Ray cluster of this party (--engine ray); local: a private instance for this run")


def wanted(args) -> bool:
    """Whether the run asked for the bucketed path (any bucketed flag given)."""
    return (args.buckets is not None or args.workers is not None or args.work_dir is not None or args.resume
            or args.engine != "local")


def _check(args) -> None:
    if args.buckets is not None and not 1 <= args.buckets <= 65536:
        raise InputError(f"--buckets must be in [1, 65536], not {args.buckets}")
    if args.workers is not None and not 1 <= args.workers <= 1024:
        raise InputError(f"--workers must be in [1, 1024], not {args.workers}")
    if args.resume and not args.work_dir:
        raise InputError("--resume needs the --work-dir of the run to finish")
    if getattr(args, "join", "inner") != "inner":
        raise InputError("--join left is not available in bucketed runs yet; drop the bucketed flags or use the "
                         "library (pqmpc.psi.bucketed)")
    if getattr(args, "output_format", None) not in (None, "csv") or getattr(args, "output", None) == "-":
        raise InputError("bucketed runs write a CSV file: --output-format parquet/jsonl and --output - are not "
                         "available with the bucketed flags yet")
    for flag in ("payload", "payload_columns"):
        if getattr(args, flag, None):
            raise InputError(f"--{flag.replace('_', '-')} is not available in bucketed runs yet; drop the "
                             f"bucketed flags or use the library (pqmpc.psi.bucketed) for payloads")
    if args.input.lower().endswith(".parquet"):
        raise InputError("bucketed runs read CSV; convert the Parquet file or drop the bucketed flags")


class CsvSource:
    """A CSV file read once in batches by pyarrow's streaming reader, keys normalised and combined in bulk."""

    def __init__(self, path: str, key_columns: list[str], delimiter: str, normalize: list[str], skip_empty: bool):
        if not os.path.isfile(path):
            raise InputError(f"{path}: no such file")
        self.path, self.key_columns, self.delimiter = path, list(key_columns), delimiter
        self.normalize, self.skip_empty = normalize, skip_empty
        self.header = self._header()
        self.names = [self._column(c) for c in key_columns]
        self.rows = self._estimate_rows()
        self.rows_read = 0
        self.skipped = 0

    def _header(self) -> list[str]:
        import csv

        try:
            with open(self.path, encoding="utf-8-sig", newline="") as fh:
                header = next((r for r in csv.reader(fh, delimiter=self.delimiter) if r), None)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise InputError(f"{self.path}: cannot read the header line ({exc})") from None
        if header is None:
            raise InputError(f"{self.path}: the file is empty; a header line naming the columns is required")
        return header

    def _column(self, name: str) -> str:
        hits = [h for h in self.header if h == name] or [h for h in self.header if h.strip() == name.strip()]
        if len(hits) != 1 or self.header.count(hits[0]) != 1:
            shown = ", ".join(repr(h) for h in self.header[:40])
            what = "appears more than once in" if hits else "is not in"
            raise InputError(f"{self.path}: column {name!r} {what} the header; columns: {shown}")
        return hits[0]

    def _estimate_rows(self) -> int:
        size = os.path.getsize(self.path)
        with open(self.path, "rb") as fh:
            sample = fh.read(1 << 20)
        lines = max(1, sample.count(b"\n"))
        return max(0, int(size * lines / max(1, len(sample))) - 1)

    def digest(self) -> str:
        from ..psi.bucketed import input_file_digest

        return input_file_digest(self.path, {"keys": self.names, "normalize": ",".join(self.normalize),
                                             "delimiter": self.delimiter, "skip_empty": self.skip_empty})

    def batches(self):
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        from ..psi import keys as psikeys
        from ..psi.bucketed import Batch

        try:
            reader = pa_csv.open_csv(
                self.path,
                read_options=pa_csv.ReadOptions(use_threads=True, block_size=BATCH_BYTES),
                parse_options=pa_csv.ParseOptions(delimiter=self.delimiter, quote_char='"', double_quote=True,
                                                  escape_char=False, newlines_in_values=True,
                                                  ignore_empty_lines=True),
                convert_options=pa_csv.ConvertOptions(include_columns=list(dict.fromkeys(self.names)),
                                                      column_types={n: pa.large_string() for n in self.names},
                                                      strings_can_be_null=False, quoted_strings_can_be_null=False,
                                                      check_utf8=True))
            start = 0
            for rb in reader:
                n = rb.num_rows
                cols = [_normalize(rb.column(nm), self.normalize) for nm in self.names]
                keep = None
                for c, col in zip(self.key_columns, cols):
                    empty = np.diff(_buffers(col)[1]) == 0
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
                    records = records[keep]
                    self.skipped += int(n - keep.sum())
                data, offsets = psikeys.combine_encoded([_own(_buffers(c)) for c in cols])
                start += n
                self.rows_read = start
                yield Batch(records, data, offsets)
        except pa.ArrowInvalid as exc:
            raise InputError(f"{self.path}: malformed CSV ({exc})") from None
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read ({exc})") from None


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


def run(args, role: str) -> int:
    """Run the bucketed PSI as ``role`` ("serve" or "connect"); the exit code."""
    from ..net import TcpChannel, TcpListener
    from ..psi.bucketed import run_bucketed
    from . import csvio
    from .common import Progress, load_auth, parse_hostport, secure

    t_start = time.perf_counter()
    _check(args)
    progress = Progress(quiet=args.quiet)
    delimiter = csvio.check_delimiter(args.delimiter)
    normalize = csvio.parse_normalize(args.normalize)
    learns = args.learn in ("both", role)
    if learns and not args.output:
        raise InputError(f"--output is required: this side ({role}) learns the intersection with --learn {args.learn}")
    host, port = (parse_hostport(args.listen, "--listen") if role == "serve"
                  else parse_hostport(args.connect, "--connect"))
    auth = load_auth(args)
    source = CsvSource(args.input, args.key, delimiter, normalize, args.skip_empty)
    timeout = args.timeout if args.timeout is not None else 60.0 + 240.0 * max(1, source.rows) / 1e6
    session_timeout = args.timeout if args.timeout is not None else 300.0
    psi_role = "receiver" if (args.learn == "both" and role == "connect") or args.learn == role else "sender"
    listener = None
    if role == "serve":
        listener = TcpListener(host, port)
        listener.sock.listen(64)  # every worker of the peer dials the same port
        progress.info(f"listening on {listener.host}:{listener.port}")
        progress.info("waiting for the other party ...")
        raw = listener.accept(timeout=args.wait)
    else:
        progress.info(f"connecting to {host}:{port} ...")
        raw = TcpChannel.connect(host, port, timeout=timeout, retry_for=getattr(args, "connect_retry", 60.0))
    raw.set_timeout(timeout)
    _keepalive(raw.sock)
    engine = None
    if args.engine == "ray":
        from ..psi.bucketed.ray_engine import ray_engine

        engine = ray_engine(args.ray_address, RayChannels(args), host, 0 if port == 0 else port, session_timeout)
    extra = {"key_columns": len(args.key), "normalize": ",".join(normalize) or "none", "learn": args.learn}
    bar = _Progress(progress, args.quiet)
    try:
        with raw, secure(raw, auth, "responder" if role == "serve" else "initiator", progress) as sch:
            res = run_bucketed(psi_role, sch, source, dials=role == "connect",
                               open_channel=_opener(role, host, port, listener, auth, session_timeout,
                                                    getattr(args, "connect_retry", 60.0)),
                               work_dir=args.work_dir, resume=args.resume, buckets=args.buckets,
                               workers=args.workers, protocol=args.protocol, malicious=args.malicious,
                               reveal_to_sender=args.learn == "both", kappa=args.kappa, extra_params=extra,
                               engine=engine, progress=bar,
                               # After the handshake the control connection waits while the peer
                               # partitions and the buckets run, however long that takes; a peer that
                               # vanishes without closing is found by TCP keepalive instead.
                               after_handshake=lambda: raw.set_timeout(args.timeout))
    except HandshakeError as exc:
        raise HandshakeError(str(exc)) from None
    except ChannelTimeout as exc:
        raise ChannelTimeout(f"{exc}; if the other side's input is much larger, raise --timeout") from None
    finally:
        bar.close()
        if listener is not None:
            listener.close()
    rows_written = None
    if learns:
        progress.info(f"writing {os.path.basename(args.output)}")
        rows_written = csvio.write_matches_streaming(args.input, args.output, res.indices, delimiter)
    summary = {
        "role": role, "psi_role": psi_role, "input": args.input, "rows_read": res.rows + source.skipped,
        "keys_used": res.rows, "skipped_empty": source.skipped, "distinct_keys": res.distinct,
        "peer_distinct_keys": res.peer_distinct, "intersection": res.intersection if learns else None,
        "rows_written": rows_written, "output": args.output if learns else None, "learn": args.learn,
        "buckets": res.buckets, "workers": res.workers, "engine": args.engine,
        "buckets_reused": res.resumed_buckets, "run_id": res.run_id[:16],
        "seconds": round(time.perf_counter() - t_start, 3), "phase_seconds": res.seconds,
        "bytes_sent": res.bytes_sent, "bytes_received": res.bytes_received, "protocol": args.protocol,
        "mode": "malicious" if args.malicious else "semi-honest", "channel": auth.mode,
        "output_sha256": _sha(args.output) if learns else None, "peak_rss_mb": _peak_rss(),
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False), flush=True)
    elif not args.quiet:
        print(f"{role}: {summary['keys_used']} keys in {res.buckets} buckets ({res.workers} workers"
              + (f", {res.resumed_buckets} reused from the run directory" if res.resumed_buckets else "") + "); "
              + (f"intersection {res.intersection}; wrote {rows_written} rows to {args.output}" if learns
                 else f"this side learns nothing (--learn {args.learn})")
              + f"; {summary['seconds']:.2f} s", flush=True)
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
