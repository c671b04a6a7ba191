"""``pqmpc 2pc``: run a Bristol circuit or a named function between two processes.

One side listens, the other connects; by default the listener garbles and the
connecting side evaluates (``--role`` overrides). Each side passes only its own
inputs. Results go to stdout (one line per output, or one JSON line with
``--json``); progress and phases go to stderr.
"""

from __future__ import annotations

import json
import sys
import time

from ..errors import InputError, ParameterError
from ..util.text import plural
from .common import Progress, add_auth_args, load_auth, parse_hostport, secure

EXAMPLES = """examples:
  pqmpc 2pc --listen 127.0.0.1:9100 --function millionaires --input 1000000
  pqmpc 2pc --connect 127.0.0.1:9100 --function millionaires --input 2500000

  pqmpc 2pc --listen 127.0.0.1:9100 --circuit adder64.txt --input 0xff
  pqmpc 2pc --connect 127.0.0.1:9100 --circuit adder64.txt --input 1

  pqmpc 2pc --listen 127.0.0.1:9100 --function aes128 --input 0x000102030405060708090a0b0c0d0e0f
  pqmpc 2pc --connect 127.0.0.1:9100 --function aes128 --input 0x00112233445566778899aabbccddeeff

Bit order: an integer input (decimal or 0x-hex, negative = two's complement)
sets wire start+i of its circuit input to bit i, least significant first
(docs/garbling.md); a 16-byte AES key or block in hex is the FIPS-197 byte string."""

HELP = "Yao two-party computation of a Bristol circuit or a named function"


def add_parser(sub) -> None:
    import argparse

    from ..twopc.functions import FUNCTIONS

    p = sub.add_parser(
        "2pc", help=HELP,
        description="Semi-honest Yao garbled circuits over post-quantum OT between two processes. "
                    "Each side gives its own inputs; both (by default) learn the outputs.",
        epilog=EXAMPLES + "\n\nfunctions: " + ", ".join(f"{k} ({v.summary})" for k, v in FUNCTIONS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--listen", metavar="HOST:PORT", help="wait for the peer on this address")
    where.add_argument("--connect", metavar="HOST:PORT", help="connect to a listening peer")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--circuit", metavar="FILE", help="Bristol Fashion circuit file (both sides: the same file)")
    what.add_argument("--function", metavar="NAME", choices=sorted(FUNCTIONS),
                      help="a ready-made function: " + ", ".join(sorted(FUNCTIONS)))
    p.add_argument("--input", metavar="VALUE", action="append", default=[],
                   help="this party's input, decimal or 0x-hex; once per circuit input this party owns")
    p.add_argument("--role", choices=["garbler", "evaluator"],
                   help="default: the listener garbles, the connecting side evaluates")
    p.add_argument("--garbler-inputs", metavar="I,J", help="circuit inputs the garbler owns (default 0)")
    p.add_argument("--evaluator-inputs", metavar="I,J", help="circuit inputs the evaluator owns (default: the rest)")
    p.add_argument("--bits", type=int, help="width of the integer functions (default 64)")
    p.add_argument("--signed", action="store_true", help="integer functions: two's complement inputs")
    p.add_argument("--reveal", choices=["both", "garbler", "evaluator"], default="both",
                   help="who learns the output (default both)")
    p.add_argument("--ot", choices=["iknp", "softspoken", "ferret", "base"], default="iknp",
                   help="correlated OT for the evaluator's input labels (default iknp over ML-KEM base OTs; "
                        "softspoken: k = 4, a quarter of the traffic per input bit)")
    p.add_argument("--scheme", choices=["halfgates", "threehalves"], default="halfgates",
                   help="garbling scheme: half-gates (32 B/AND) or three-halves (197 bits/AND, "
                        "less traffic, more AES); both sides must agree")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S",
                   help="seconds to wait for the peer (connect/accept and every message; default 60)")
    p.add_argument("--connect-retry", type=float, default=None, metavar="S",
                   help="with --connect: keep retrying a refused connection this long (default: --timeout)")
    p.add_argument("--json", action="store_true", help="print one JSON summary line on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_auth_args(p)
    p.set_defaults(func=run)


def _index_list(text: str | None, flag: str):
    if text is None:
        return None
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise InputError(f"{flag} expects comma-separated input numbers, e.g. 0,2; got {text!r}") from None


def _parse_circuit_input(text: str, n: int, j: int):
    from ..gc.circuit import int_to_bits
    from ..twopc.functions import parse_int

    try:
        v = parse_int(text)
    except ParameterError as exc:
        raise InputError(f"input for circuit input {j}: {exc}") from None
    if not -(1 << (n - 1) if n else 0) <= v < (1 << n):
        raise InputError(f"input {text!r} does not fit circuit input {j} ({n} bits)")
    return int_to_bits(v, n)


def _precheck_function(args, role: str, value) -> None:
    """The checks the function would make after connecting, made before it."""
    from ..twopc.functions import encode_int

    name = args.function
    if args.signed and name not in ("millionaires", "sum", "max"):
        raise InputError(f"--signed does not apply to {name}")
    if name in ("millionaires", "equality", "sum", "max"):
        bits = 64 if args.bits is None else args.bits
        if not 1 <= bits <= 1 << 16:
            raise InputError(f"--bits must be in 1..65536, got {bits}")
        try:
            encode_int(value, bits, args.signed, "--input")
        except ParameterError as exc:
            raise InputError(str(exc)) from None
    elif name == "hamming" and not value:
        raise InputError("--input for hamming must not be empty")
    elif name == "aes128":
        if role == "garbler" and len(value) != 16:
            raise InputError(f"the garbler's --input is the 16-byte AES key, got {len(value)} bytes")
        if role == "evaluator" and len(value) % 16:
            raise InputError(f"the evaluator's --input is 16·n bytes of plaintext, got {len(value)}")


def _connect(args):
    from ..net import TcpChannel

    if args.listen:
        host, port = parse_hostport(args.listen, "--listen")
        return TcpChannel.accept(host, port, timeout=args.timeout)
    host, port = parse_hostport(args.connect, "--connect")
    # the listener may still be starting: keep trying for the timeout
    retry = args.timeout if args.connect_retry is None else args.connect_retry
    return TcpChannel.connect(host, port, timeout=args.timeout, retry_for=retry)


def _format_outputs(outputs, sizes):
    from ..gc.circuit import bits_to_int

    res = []
    for o, m in zip(outputs, sizes):
        v = bits_to_int(o)
        res.append({"bits": m, "int": v, "hex": f"0x{v:0{max(1, (m + 3) // 4)}x}"})
    return res


def run(args) -> int:
    progress = Progress(quiet=args.quiet)
    circuit = None
    if args.circuit:
        from ..gc.circuit import Circuit

        try:
            circuit = Circuit.from_bristol(args.circuit)
        except OSError as exc:
            raise InputError(f"cannot read circuit {args.circuit}: {exc.strerror or exc}") from None
    else:
        from ..twopc.functions import FUNCTIONS

        fn = FUNCTIONS[args.function]
        if len(args.input) != 1:
            raise InputError(f"--function {args.function} takes exactly one --input (this party's value)")
        value = fn.parse(args.input[0])

    role = args.role or ("garbler" if args.listen else "evaluator")
    if circuit is not None:
        # check every input before touching the network: a typo should not cost a connection
        from ..twopc.yao import input_ownership

        g, e = input_ownership(circuit, _index_list(args.garbler_inputs, "--garbler-inputs"),
                          _index_list(args.evaluator_inputs, "--evaluator-inputs"))
        owned = g if role == "garbler" else e
        if len(args.input) != len(owned):
            raise InputError(f"the {role} owns circuit inputs {list(owned)} and needs "
                             f"{plural(len(owned), '--input value')}, got {len(args.input)}")
        bits = [_parse_circuit_input(t, circuit.input_sizes[j], j) for t, j in zip(args.input, owned)]
    else:
        _precheck_function(args, role, value)
    auth = load_auth(args)
    # Load this run's kernels and build its circuit while no peer waits on us: the protocol's
    # own time is then the protocol's (docs/garbling.md, "The first call").
    from ..twopc import prepare
    from ..twopc.functions import function_circuit

    prepare(circuit if circuit is not None else function_circuit(args.function, value, args.bits, args.signed),
            ot=args.ot, scheme=args.scheme)

    progress.phase(f"{'listening on ' + args.listen if args.listen else 'connecting to ' + args.connect}")
    ch = _connect(args)
    info: dict = {}
    t0 = time.perf_counter()
    with ch, secure(ch, auth, "responder" if args.listen else "initiator", progress) as sch:
        progress.phase(f"2pc as {role}: OT and garbled circuit")
        kw = dict(reveal=args.reveal, ot=args.ot, scheme=args.scheme, info=info,
                  progress=lambda done, total: progress.update(done, total))
        if circuit is not None:
            from ..twopc.functions import run_circuit

            out = run_circuit(sch, role, circuit, bits, garbler_inputs=list(g), evaluator_inputs=list(e), **kw)
            result = None if out is None else _format_outputs(out, circuit.output_sizes)
            and_count = circuit.and_count
        else:
            extra = {}
            if args.bits is not None:
                extra["bits"] = args.bits
            if args.signed:
                extra["signed"] = True
            out = fn.call(sch, role, value, **extra, **kw)
            result = out.hex() if isinstance(out, bytes) else (int(out) if isinstance(out, bool) else out)
            and_count = info.get("and_count")
    seconds = time.perf_counter() - t0
    ands = info.get("ands_garbled", and_count)
    progress.done(f"done in {seconds:.3f} s: {plural(info.get('bytes_sent', 0), 'byte')} sent, "
                  f"{info.get('bytes_received', 0):,} received, "
                  + (plural(ands, "AND gate") if ands is not None else "AND gates: unknown"))
    if args.json:
        # Milliseconds are what a person can act on; more digits are timer noise.
        summary = {"role": role, "circuit": args.circuit, "function": args.function, "seconds": round(seconds, 3),
                   "bytes_sent": info.get("bytes_sent"), "bytes_received": info.get("bytes_received"),
                   "and_count": and_count, "ands_garbled": info.get("ands_garbled"), "reveal": args.reveal,
                   "ot": args.ot, "scheme": args.scheme, "outputs": result,
                   "phases": {k: round(v["seconds"], 4) for k, v in info.get("phases", {}).items()}}
        print(json.dumps(summary, sort_keys=True), flush=True)
    elif result is None:
        print(f"(the output goes to the {'garbler' if args.reveal == 'garbler' else 'evaluator'} only)")
    elif isinstance(result, list):
        for j, r in enumerate(result):
            print(f"output {j}: {r['hex']} ({r['int']})")
    else:
        shown = result if not isinstance(result, str) else f"0x{result}"
        # Name what was computed: a bare "0" on stdout says nothing to a person.
        print(f"{args.function}: {shown}  ({fn.summary})" if args.function else shown)
    sys.stdout.flush()
    return 0
