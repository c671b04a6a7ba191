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
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from ..errors import ChannelTimeout, HandshakeError, InputError
from .common import Progress, add_auth_args, load_auth, parse_hostport, secure

LEARN = ("both", "serve", "connect")
PROTOCOL_CHOICES = ("rr22", "kkrt")
DESCRIPTION = ("One party runs 'serve' (listens), the other 'connect' (dials). Each reads its own CSV, builds one key "
               "per row from the --key columns, and the two run PSI over TCP: RR22 (silent VOLE + OKVS) by default, "
               "or KKRT with --protocol kkrt; both post-quantum (lattice base OTs, AES, LPN). Each side that learns "
               "the result writes the rows of its own file whose key is shared, header and row order kept. --learn "
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
        q.add_argument("--input", required=True, metavar="FILE.csv", help="your CSV file (UTF-8, header line required)")
        q.add_argument("--key", required=True, action="append", metavar="COL",
                       help="key column (repeat for a composite key; values are combined unambiguously)")
        q.add_argument("--output", metavar="OUT.csv",
                       help="where to write your rows whose key is in the intersection "
                            "(required on a side that learns the result)")
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
        q.add_argument("--protocol", choices=PROTOCOL_CHOICES, default="rr22",
                       help="PSI protocol: rr22 (silent VOLE + OKVS, less traffic) or kkrt; must match the other side")
        q.add_argument("--malicious", action="store_true",
                       help="rr22's malicious mode (secure against a cheating peer); must match the other side")
        q.add_argument("--json", action="store_true", help="print one JSON summary line on stdout")
        q.add_argument("--quiet", action="store_true", help="no progress on stderr")
        add_auth_args(q)
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


def run(args) -> int:
    from ..net import TcpChannel, TcpListener
    from ..psi import keys as psikeys
    from ..psi import run_protocol
    from . import csvio

    t_start = time.perf_counter()
    mode = args.psi_mode
    progress = Progress(quiet=args.quiet)
    delimiter = csvio.check_delimiter(args.delimiter)
    normalize = csvio.parse_normalize(args.normalize)
    learns = _learns(mode, args.learn)
    if learns and not args.output:
        raise InputError(f"--output is required: this side ({mode}) learns the intersection with --learn {args.learn}")
    if args.output and os.path.abspath(args.output) == os.path.abspath(args.input):
        raise InputError("--output must not be the --input file")
    if args.output and learns:
        folder = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(folder):
            raise InputError(f"--output: folder {folder} does not exist")
    if len(set(args.key)) != len(args.key):
        raise InputError("--key: a column is named twice")
    if args.malicious and args.protocol != "rr22":
        raise InputError(f"--malicious runs on --protocol rr22 only (KKRT is semi-honest), not {args.protocol}")
    if args.protocol == "rr22" and args.kappa != 128:
        raise InputError(f"--kappa {args.kappa} needs --protocol kkrt (rr22 runs at kappa 128)")
    host, port = (parse_hostport(args.listen, "--listen") if mode == "serve"
                  else parse_hostport(args.connect, "--connect"))
    auth = load_auth(args)

    listener = None
    if mode == "serve":
        # Listen before reading the file so the peer's connection waits in the backlog, not in retries.
        listener = TcpListener(host, port)
        progress.info(f"listening on {listener.host}:{listener.port}")
    try:
        progress.phase(f"reading {os.path.basename(args.input)}")
        table = csvio.read_keys(args.input, args.key, delimiter, normalize, args.skip_empty, progress)
        progress.done(f"read {table.rows_read} rows, {table.keys_used} keys"
                      + (f", skipped {table.skipped} with an empty key" if table.skipped else ""))
        items = psikeys.encode_items(psikeys.combine_columns(table.columns))
        table.columns = []  # the encoded buffer is all the protocol needs; free the strings
        timeout = args.timeout if args.timeout is not None else _timeout_for(table.rows_read)
        if mode == "serve":
            progress.info("waiting for the other party ...")
            ch = listener.accept(timeout=args.wait)
            ch.set_timeout(timeout)
        else:
            progress.info(f"connecting to {host}:{port} ...")
            ch = TcpChannel.connect(host, port, timeout=timeout, retry_for=args.connect_retry)
    finally:
        if listener is not None:
            listener.close()

    psi_role = "receiver" if (args.learn == "both" and mode == "connect") or args.learn == mode else "sender"
    extra = {"key_columns": len(args.key), "normalize": ",".join(normalize) or "none", "learn": args.learn}
    try:
        with ch, secure(ch, auth, "responder" if mode == "serve" else "initiator", progress) as sch:
            res = run_protocol(args.protocol, psi_role, sch, items, reveal_to_sender=(args.learn == "both"),
                               malicious=args.malicious, kappa=args.kappa, progress=progress, extra_params=extra)
    except HandshakeError as exc:
        raise HandshakeError(_flag_hint(str(exc))) from None
    except ChannelTimeout as exc:
        raise ChannelTimeout(f"{exc}; if the other side's input is much larger, raise --timeout "
                             f"(now {timeout:g} s)") from None
    progress.done()

    rows_written = None
    if learns:
        progress.phase(f"writing {os.path.basename(args.output)}")
        rows_written = csvio.write_matches(args.input, args.output, table.records[res.indices], delimiter)
        progress.done()
    seconds = time.perf_counter() - t_start
    summary = {
        "role": mode, "psi_role": psi_role, "input": args.input, "rows_read": table.rows_read,
        "keys_used": table.keys_used, "distinct_keys": res.distinct, "duplicate_keys": res.duplicates,
        "skipped_empty": table.skipped, "peer_distinct_keys": res.peer_distinct,
        "intersection": res.intersection if learns else None, "rows_written": rows_written,
        "output": args.output if learns else None, "learn": args.learn, "seconds": round(seconds, 3),
        "phase_seconds": {k: round(v, 4) for k, v in res.seconds.items()}, "bytes_sent": res.bytes_sent,
        "bytes_received": res.bytes_received, "protocol": args.protocol,
        "mode": "malicious" if args.malicious else "semi-honest", "kappa": args.kappa, "params": res.params,
        "channel": auth.mode, "peer_fingerprint": auth.peer.fingerprint if auth.peer is not None else None,
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False), flush=True)
    elif not args.quiet:
        print(_human(summary), flush=True)
    return 0


def _flag_hint(msg: str) -> str:
    # The handshake names the wire protocol and mode; the user set them with flags.
    if "protocol: ours" in msg:
        return f"--protocol differs from the other side's: {msg}"
    if "mode: ours" in msg:
        return f"--malicious differs from the other side's: {msg}"
    return msg


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _human(s: dict) -> str:
    lines = [f"{s['role']}: {s['rows_read']} rows, {s['distinct_keys']} distinct keys"
             + (f" ({s['duplicate_keys']} duplicates)" if s["duplicate_keys"] else "")
             + (f", {s['skipped_empty']} skipped (empty key)" if s["skipped_empty"] else "")
             + f"; peer has {s['peer_distinct_keys']} distinct keys"]
    if s["output"]:
        lines.append(f"intersection: {s['intersection']} keys; wrote {s['rows_written']} rows to {s['output']}")
    else:
        lines.append(f"this side learns nothing (--learn {s['learn']}): no output file written")
    lines.append(f"{s['seconds']:.2f} s, sent {_mb(s['bytes_sent'])}, received {_mb(s['bytes_received'])} "
                 f"({s['protocol']} {s['mode']}, kappa {s['kappa']}, base OT {s['params']['base_ot']})")
    return "\n".join(lines)
