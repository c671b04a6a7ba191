"""``pqmpc psi serve|connect``: private set intersection between two CSV files.

One party runs ``serve`` (listens), the other ``connect`` (dials). Each reads
its own CSV, builds one key per row from the ``--key`` columns, and the two
run PSI over TCP: RR22 (silent VOLE + OKVS; ``--malicious`` for its malicious
mode) by default, or KKRT with ``--protocol kkrt``; both post-quantum (lattice
base OTs, AES, LPN).
Each side that learns the result writes the rows of *its own* file whose key
is shared, with the header and the original row order. ``--learn`` says who
learns it: ``both`` (default), ``serve`` or ``connect``; a side that learns
nothing writes no file. Both sides must pass the same ``--learn``, the same
number of ``--key`` columns and the same ``--normalize`` steps: the handshake
checks and stops both with one line saying what differs.

Joins: ``--payload COL`` (each side) sends a column of yours to the learning
side, which writes its rows followed by ``peer_COL`` (``--join inner|left``,
SQL's rule: one row per pair). The CLI's own handshake (before the PSI's)
compares the flags and carries the payload column names and the padded width;
see docs/psi.md. Writers: :mod:`.joinio`; readers: :mod:`.csvio`, :mod:`.csvfast`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from ..errors import ChannelError, ChannelTimeout, HandshakeError, InputError, PeerStopped
from . import psi_bucketed, warmup
from . import psi_handshake as clihs
from .common import Progress, add_auth_args, load_auth, parse_hostport, secure

LEARN = ("both", "serve", "connect")
JOINS = ("inner", "left")
CLI_PROTOCOL, CLI_VERSION = clihs.CLI_PROTOCOL, clihs.CLI_VERSION  # the CLI's own handshake (psi_handshake)
MAX_PAYLOAD_COLUMNS = 64
OUTPUT_FORMATS = ("csv", "parquet", "jsonl")  # joinio.OUTPUT_FORMATS, without importing numba for --help
MAX_WIDTH = 1 << 16  # pqmpc.psi.payload.MAX_WIDTH
PROTOCOL_CHOICES = ("rr22", "kkrt")
DESCRIPTION = ("One party runs 'serve' (listens), the other 'connect' (dials). Each reads its own CSV, builds one key "
               "per row from the --key columns, and the two run PSI over TCP: RR22 (silent VOLE + OKVS) by default, "
               "or KKRT with --protocol kkrt; both post-quantum (lattice base OTs, AES, LPN). Each side that learns "
               "the result writes the rows of its own file whose key is shared, header and row order kept, followed by "
               "the other side's --payload columns (--join inner or left). --learn "
               "says who learns it (both, serve or connect); a side that learns nothing writes no file. Both sides "
               "must pass the same --learn, number of --key columns, --normalize, --kappa, --protocol and "
               "--malicious: the handshake stops both with one line saying what differs.")
#: Seconds of receive timeout per million rows on top of the base (the peer may
#: be reading and hashing a large file while this side waits).
TIMEOUT_PER_MILLION = 120.0
TIMEOUT_BASE = 60.0

HELP = "private set intersection between two CSV files over the network"


def add_parser(sub) -> None:
    p = sub.add_parser("psi", help=HELP, description=DESCRIPTION, formatter_class=_Fmt)
    modes = p.add_subparsers(dest="psi_mode", metavar="MODE")
    serve = modes.add_parser("serve", help="listen for the other party", formatter_class=_Fmt,
                             description="Listen on HOST:PORT, wait for the other party, run PSI.")
    serve.add_argument("--listen", required=True, metavar="HOST:PORT",
                       help="address to listen on, e.g. 127.0.0.1:9000 (port 0 picks a free port)")
    serve.add_argument("--wait", type=float, default=300.0, metavar="SECONDS",
                       help="how long to wait for the other party to connect")
    connect = modes.add_parser("connect", help="dial the listening party", formatter_class=_Fmt,
                               description="Connect to the party running 'pqmpc psi serve', run PSI.")
    connect.add_argument("--connect", required=True, metavar="HOST:PORT", help="address of the serving party")
    connect.add_argument("--connect-retry", type=float, default=60.0, metavar="SECONDS",
                         help="keep retrying a refused connection for this long (the server may start later)")
    for q in (serve, connect):
        q.add_argument("--input", required=True, metavar="FILE.csv",
                       help="your CSV file (UTF-8, header line required) or a .parquet file")
        q.add_argument("--key", required=True, action="append", metavar="COL",
                       help="key column (repeat for a composite key; values are combined unambiguously)")
        q.add_argument("--output", metavar="OUT.csv",
                       help="where to write your rows whose key is in the intersection, followed by the peer's "
                            "payload columns ('-': stdout; required on a side that learns the result; an existing "
                            "file is kept unless --force)")
        q.add_argument("--output-format", choices=OUTPUT_FORMATS, default=None,
                       help="csv, parquet or jsonl (default: from the --output extension, else csv)")
        q.add_argument("--force", action="store_true", help="overwrite an existing --output file")
        q.add_argument("--payload", action="append", metavar="COL",
                       help="a column of yours the other side learns for its matching rows (repeatable; the "
                            "other side writes it as peer_COL); either protocol, --malicious too")
        q.add_argument("--payload-width", type=int, default=None, metavar="BYTES",
                       help="bytes each row's payload is padded to (default: your longest, rounded up to 16; "
                            "the larger side's value is used, and both sides learn it)")
        q.add_argument("--join", choices=JOINS, default="inner",
                       help="inner: your matching rows (one per peer row with the key); left: every row of yours, "
                            "empty peer columns where nothing matched")
        q.add_argument("--peer-prefix", default="peer_", metavar="TEXT",
                       help="prefix of the peer's payload columns in your output")
        q.add_argument("--learn", choices=LEARN, default="both",
                       help="who learns the intersection; must match the other side")
        q.add_argument("--normalize", default="", metavar="STEPS",
                       help="key normalization before matching, comma-separated from nfc,trim,lower "
                            "(default: none; must match the other side)")
        q.add_argument("--skip-empty", action="store_true",
                       help="skip rows with an empty key cell (counted) instead of stopping with an error")
        q.add_argument("--delimiter", default=",", metavar="CHAR", help="field delimiter ('tab' or '\\t' for tabs)")
        q.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                       help="give up when the peer is silent this long (default: 60 s + 120 s per million rows)")
        q.add_argument("--kappa", type=int, choices=(128, 256), default=128,
                       help="security level: 128, or 256 (ML-KEM-1024, 1024-bit code; doubled symmetric margin)")
        q.add_argument("--protocol", choices=PROTOCOL_CHOICES, default=None,
                       help="PSI protocol: rr22 (silent VOLE + OKVS, less traffic; the default) or kkrt; must "
                            "match the other side")
        q.add_argument("--malicious", action="store_true",
                       help="rr22's malicious mode (secure against a cheating peer); must match the other side")
        q.add_argument("--json", action="store_true", help="print one JSON summary line on stdout")
        q.add_argument("--quiet", action="store_true",
                       help="no progress on stderr (the summary on stdout stays; --json makes it one line)")
        q.add_argument("--stats-json", metavar="FILE", help="also write the JSON summary (with seconds per phase) "
                                                            "to FILE")
        add_auth_args(q)
        psi_bucketed.add_arguments(q)
        q.set_defaults(func=run)
    p.set_defaults(func=lambda args: _usage(p))


class _Fmt(argparse.HelpFormatter):
    """Shows a default only where there is a meaningful one."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default not in (None, False, "", argparse.SUPPRESS) and "default" not in text:
            text += " (default: %(default)s)"
        return text


def _usage(p) -> int:
    p.print_help(sys.stderr)
    return 2


def _learns(mode: str, learn: str) -> bool:
    return learn == "both" or learn == mode


def _timeout_for(rows: int) -> float:
    return TIMEOUT_BASE + TIMEOUT_PER_MILLION * rows / 1e6


def _prepare(args):
    """Every check that needs no peer: flags, output paths, keys; before any network activity."""
    from . import csvio, joinio

    mode = args.psi_mode
    learns = _learns(mode, args.learn)
    peer_learns = _learns(_other(mode), args.learn)
    if learns and not args.output:
        raise InputError(f"--output is required: this side ({mode}) learns the intersection with --learn {args.learn}")
    fmt = joinio.output_format(args.output if learns else None, args.output_format)
    if args.output and learns:
        # A resumed bucketed run writes the output its first run would have (it may exist: the side
        # that finished first wrote it).
        joinio.check_output(args.output, fmt, args.force or args.resume, args.input)
    if args.stats_json:
        joinio.check_output(args.stats_json, "json", True, args.input, flag="--stats-json")
    if len(set(args.key)) != len(args.key):
        raise InputError("--key: a column is named twice")
    payload = list(dict.fromkeys(args.payload or []))
    if len(payload) != len(args.payload or []):
        raise InputError("--payload: a column is named twice")
    if payload and not peer_learns:
        raise InputError(f"--payload: with --learn {args.learn} the other side ({_other(mode)}) learns nothing, "
                         f"so your payload columns would go nowhere; drop --payload or change --learn")
    if len(payload) > MAX_PAYLOAD_COLUMNS:
        raise InputError(f"--payload: at most {MAX_PAYLOAD_COLUMNS} columns")
    if args.malicious and args.protocol not in (None, "rr22"):
        raise InputError(f"--malicious runs on --protocol rr22 only (KKRT is semi-honest), not {args.protocol}")
    if args.kappa != 128 and args.protocol != "kkrt":
        raise InputError(f"--kappa {args.kappa} needs --protocol kkrt (rr22 runs at kappa 128)")
    if args.payload_width is not None and not 1 <= args.payload_width <= MAX_WIDTH:
        raise InputError(f"--payload-width must be in [1, {MAX_WIDTH}] bytes")
    return {"mode": mode, "learns": learns, "peer_learns": peer_learns, "format": fmt, "payload": payload,
            "delimiter": csvio.check_delimiter(args.delimiter), "normalize": csvio.parse_normalize(args.normalize)}


def run(args) -> int:
    from ..net import TcpChannel, TcpListener, send_abort

    t_start = time.perf_counter()
    plan = _prepare(args)
    mode = plan["mode"]
    request = psi_bucketed.request(args, plan)
    progress = Progress(quiet=args.quiet)
    host, port = (parse_hostport(args.listen, "--listen") if mode == "serve"
                  else parse_hostport(args.connect, "--connect"))
    auth = load_auth(args)
    cli_seconds = {}
    if args.output and plan["learns"] and args.output != "-":
        from .joinio import remove_stale_temps

        remove_stale_temps(args.output)  # a run killed while writing left them; none is in use now
    listener = None
    if mode == "serve":
        # Listen before reading the file so the peer's connection waits in the backlog, not in retries.
        listener = TcpListener(host, port)
        if request != "off":
            listener.sock.listen(64)  # a bucketed run's workers of the peer dial the same port
        progress.info(f"listening on {listener.host}:{listener.port}")
    failed = table = None
    rows_estimate = 0
    try:
        t0 = time.perf_counter()
        try:
            # The header and the columns are checked before any network activity. A small input is
            # read whole now (as the in-memory path needs it; the peer's connection waits meanwhile);
            # a big one is read once both sides chose the path (bucketed: streamed).
            rows_estimate = psi_bucketed.check_input(args.input, args.key, plan["payload"], plan["delimiter"])
            if request == "off" or (request == "auto" and clihs.size_class(rows_estimate) <= clihs.AUTO_CLASSES):
                table = _read_table(args, plan, progress)
                rows_estimate = table[0].rows_read
                cli_seconds["read"] = time.perf_counter() - t0
        except InputError as exc:
            # Still reach the peer (it would wait for us until a timeout) and tell it why, without data.
            failed = exc
            progress.done()
            wait = args.wait if mode == "serve" else args.connect_retry
            print(f"pqmpc: error: {exc}\npqmpc: telling the other side that this side stopped (waiting up to "
                  f"{wait:g} s for it; Ctrl-C to stop now)", file=sys.stderr, flush=True)
        timeout = args.timeout if args.timeout is not None else _timeout_for(rows_estimate)
        t0 = time.perf_counter()
        try:
            if mode == "serve":
                progress.info("waiting for the other party ...")
                ch = listener.accept(timeout=args.wait)
                ch.set_timeout(timeout)
            else:
                progress.info(f"connecting to {host}:{port} ...")
                ch = TcpChannel.connect(host, port, timeout=timeout, retry_for=args.connect_retry)
        except (ChannelError, OSError):
            if failed is not None:
                raise failed from None  # the peer never came: our own error is the one to show
            raise
        cli_seconds["connect"] = time.perf_counter() - t0
        psi_role = "receiver" if (args.learn == "both" and mode == "connect") or args.learn == mode else "sender"
        try:
            with ch, secure(ch, auth, "responder" if mode == "serve" else "initiator", progress) as sch:
                if failed is not None:
                    send_abort(sch, f"{abort_reason(failed)} (it runs {mode})")
                    raise failed
                clihs.agree_flags(sch, _params(args, plan), mode)
                decision = clihs.agree_plan(sch, mode, rows_estimate, request)
                if args.timeout is None:
                    timeout = _timeout_for(max(rows_estimate, decision["peer_rows"]))
                    ch.set_timeout(timeout)
                if decision["bucketed"]:
                    table = None  # the peer's input is the big one: stream ours too
                    got = psi_bucketed.session(args, plan, ch, sch, listener, (host, port), auth, progress,
                                               decision["buckets"], psi_role, t_start)
                else:
                    if listener is not None:
                        listener.close()
                        listener = None
                    got = _in_memory(args, plan, sch, psi_role, progress, cli_seconds, table)
        except PeerStopped as exc:
            raise PeerStopped(f"{exc} (this side, {mode}, stops too)") from None
        except HandshakeError as exc:
            raise HandshakeError(clihs.flag_hint(str(exc), mode)) from None
        except ChannelTimeout as exc:
            raise ChannelTimeout(f"{exc}; if the other side's input is much larger, raise --timeout "
                                 f"(now {timeout:g} s)") from None
    finally:
        if listener is not None:
            listener.close()
    progress.done()
    if decision["bucketed"]:
        return psi_bucketed.finish(args, plan, got, progress, auth, t_start)
    return _finish_in_memory(args, plan, got, progress, auth, psi_role, t_start, cli_seconds)


def _read_table(args, plan, progress):
    """The whole input's keys (and payloads) in memory: ``(table, items, payloads)``."""
    from . import csvio

    progress.phase(f"reading {os.path.basename(args.input)}", unit="B")
    table = csvio.read_keys(args.input, args.key, plan["delimiter"], plan["normalize"], args.skip_empty,
                            progress, engine=os.environ.get("PQMPC_CSV_ENGINE") or "auto",
                            payload_columns=plan["payload"])
    items = table.items()
    mine = _my_payloads(table, args)
    progress.done(f"read {_n(table.rows_read, 'row')}, {_n(table.keys_used, 'key')}"
                  + (f", skipped {_n(table.skipped, 'row')} with an empty key" if table.skipped else ""))
    return table, items, mine


def _in_memory(args, plan, sch, psi_role, progress, cli_seconds, got=None):
    """Read the whole input (unless it was read before connecting), agree the payloads, run one PSI session."""
    from ..net import send_abort
    from ..psi.protocols import run_protocol

    mode = plan["mode"]
    if got is None:
        t0 = time.perf_counter()
        try:
            got = _read_table(args, plan, progress)
        except InputError as exc:
            progress.done()
            send_abort(sch, f"{abort_reason(exc)} (it runs {mode})")
            clihs.drain_payload_message(sch)
            raise
        cli_seconds["read"] = time.perf_counter() - t0
    table, items, mine = got
    session = clihs.agree_payload(sch, args, plan, mine["width"] if mine else 0, args.peer_prefix)
    if mine and session["kw"]:
        session["kw"]["payload"] = (mine["data"], mine["offsets"])
    t0 = time.perf_counter()
    _warn_cold(session["protocol"], progress)
    res = run_protocol(session["protocol"], psi_role, sch, items, reveal_to_sender=(args.learn == "both"),
                       malicious=args.malicious, kappa=args.kappa, progress=progress,
                       extra_params={"key_columns": len(args.key), "learn": args.learn,
                                     "normalize": ",".join(plan["normalize"]) or "none"},
                       **session["kw"])
    cli_seconds["protocol"] = time.perf_counter() - t0
    return table, res, session


def _finish_in_memory(args, plan, got, progress, auth, psi_role, t_start, cli_seconds) -> int:
    table, res, session = got
    mode = plan["mode"]
    rows_written = None
    t0 = time.perf_counter()
    if plan["learns"]:
        from . import joinio

        pairs = None
        if session["kw"].get("peer_payload"):
            from ..psi.payload import PayloadJoin

            pj = res.pairs
            pairs = PayloadJoin(rows=table.records[pj.rows], payload_index=pj.payload_index, data=pj.data,
                                offsets=pj.offsets)
        join = joinio.build_join(table.rows_read, table.header, args.join,
                                 None if pairs is not None else table.records[res.indices], pairs,
                                 len(session["peer_columns"]), session["peer_names"])
        progress.phase(f"writing {'stdout' if args.output == '-' else os.path.basename(args.output)}", unit="row")
        rows_written = joinio.write_result(table, args.output, plan["format"], join, plan["delimiter"], progress)
        progress.done()
    cli_seconds["write"] = time.perf_counter() - t0
    seconds = time.perf_counter() - t_start
    summary = {
        "role": mode, "psi_role": psi_role, "input": args.input, "rows_read": table.rows_read,
        "keys_used": table.keys_used, "distinct_keys": res.distinct, "duplicate_keys": res.duplicates,
        "skipped_empty": table.skipped, "peer_distinct_keys": res.peer_distinct,
        "intersection": res.intersection if plan["learns"] else None, "rows_written": rows_written,
        "output": args.output if plan["learns"] else None, "output_format": plan["format"] if plan["learns"] else None,
        "join": args.join if plan["learns"] else None, "payload_columns": plan["payload"],
        "peer_columns": session["peer_names"], "learn": args.learn, "seconds": round(seconds, 3),
        "cli_seconds": {k: round(v, 4) for k, v in cli_seconds.items()},
        "phase_seconds": {k: round(v, 4) for k, v in res.seconds.items()}, "bytes_sent": res.bytes_sent,
        "bytes_received": res.bytes_received, "protocol": session["protocol"],
        "mode": "malicious" if args.malicious else "semi-honest", "kappa": args.kappa, "params": res.params,
        "reader": table.engine, "channel": auth.mode, "bucketed": False,
        "peer_fingerprint": auth.peer.fingerprint if auth.peer is not None else None,
    }
    emit_summary(args, plan, summary, _human(summary))
    return 0


def emit_summary(args, plan, summary: dict, human: str) -> None:
    """The summary on stdout (stderr when the rows own stdout), and in ``--stats-json``."""
    if args.stats_json:
        from ..util.atomic import atomic_write_text

        atomic_write_text(args.stats_json, json.dumps(summary, ensure_ascii=False) + "\n")
    # With --output - the rows own stdout; the summary goes to stderr then.
    dest = sys.stderr if args.output == "-" and plan["learns"] else sys.stdout
    if args.json:
        print(json.dumps(summary, ensure_ascii=False), file=dest, flush=True)
    else:
        print(human, file=dest, flush=True)


def _other(mode: str) -> str:
    return "connect" if mode == "serve" else "serve"


def _n(k: int, word: str) -> str:
    """``1 key``, ``2 keys``."""
    return f"{k} {word}" + ("" if k == 1 else "s")


#: What a side that stops before the session tells its peer: the kind of problem, never data.
_REASONS = (("no such file", "its --input file does not exist"),
            ("is a directory", "its --input is a directory"),
            ("cannot open", "its --input file cannot be opened"),
            ("the file is empty", "its --input file is empty"),
            ("times in the header", "a --key/--payload column name appears twice in its header"),
            ("no column", "a --key/--payload column is missing from its input"),
            ("empty key", "its input has an empty key cell (it can pass --skip-empty)"),
            ("UTF-8", "its input is not valid UTF-8"),
            ("malformed CSV", "its input is not well-formed CSV"),
            ("field(s) but the", "a record of its input has too few fields"),
            ("Parquet", "its input cannot be read as Parquet"),
            ("payload", "its payload columns do not fit the payload width"))


def abort_reason(exc: Exception) -> str:
    text = str(exc)
    return next((why for key, why in _REASONS if key in text), "its input could not be read")


def _my_payloads(table, args):
    """This side's packed payload columns and the width it announces (None without ``--payload``)."""
    if not table.payload_columns:
        return None
    import numpy as np

    data, offsets = table.payloads()
    longest = int(np.diff(offsets).max()) if offsets.shape[0] > 1 else 0
    if args.payload_width is not None and longest > args.payload_width:
        raise InputError(f"--payload: a row's payload columns take {longest} bytes (4 per column + the UTF-8 "
                         f"text), more than --payload-width {args.payload_width}")
    width = args.payload_width or max(16, -(-longest // 16) * 16)  # whole blocks: less of the longest leaks
    return {"data": data, "offsets": offsets, "width": width}


def _params(args, plan) -> dict:
    """What both sides must pass alike; the handshake names the flag of any difference."""
    return {"--learn": args.learn, "--key (number of columns)": len(args.key),
            "--normalize": ",".join(plan["normalize"]) or "none", "--kappa": args.kappa,
            "--malicious": bool(args.malicious)}


def _warn_cold(protocol: str, progress) -> None:
    if progress.quiet:
        return
    try:
        cold = warmup.kernels_cold((protocol,))
    except Exception:  # a diagnosis only: never stop a run for it
        return
    if cold:
        progress.info("compiling kernels, first run only (run `pqmpc warmup` ahead to skip this)")


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _human(s: dict) -> str:
    lines = [f"{s['role']}: {_n(s['rows_read'], 'row')}, {_n(s['distinct_keys'], 'distinct key')}"
             + (f" ({_n(s['duplicate_keys'], 'duplicate')})" if s["duplicate_keys"] else "")
             + (f", {_n(s['skipped_empty'], 'row')} skipped (empty key)" if s["skipped_empty"] else "")
             + f"; peer has {_n(s['peer_distinct_keys'], 'distinct key')}"]
    if s["output"]:
        where = "stdout" if s["output"] == "-" else s["output"]
        extra = f" ({s['join']} join with {', '.join(s['peer_columns'])})" if s["peer_columns"] else ""
        lines.append(f"intersection: {_n(s['intersection'], 'key')}; wrote {_n(s['rows_written'], 'row')}{extra} "
                     f"to {where}")
    else:
        lines.append(f"this side learns nothing (--learn {s['learn']}): no output file written")
    lines.append(f"{s['seconds']:.2f} s, sent {_mb(s['bytes_sent'])}, received {_mb(s['bytes_received'])} "
                 f"({s['protocol']} {s['mode']}, kappa {s['kappa']}, base OT {s['params']['base_ot']})")
    return "\n".join(lines)
