"""``pqmpc`` command line: parse arguments, call the library, report errors in one line."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .. import __version__
from ..errors import ChannelError, PqmpcError

#: subcommand -> module with ``add_parser(subparsers)`` (sets ``func`` on its parser).
COMMANDS = {
    "demo": "pqmpc.cli.demo",
    "psi": "pqmpc.cli.psi",
    "2pc": "pqmpc.cli.twopc",
    "bench": "pqmpc.cli.bench",
    "info": "pqmpc.cli.info",
    "keygen": "pqmpc.cli.keygen",
    "warmup": "pqmpc.cli.warmup",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or with ``command`` only that subcommand's options (the others by name).

    Building every subcommand costs a second (``2pc`` lists its functions, which loads the
    circuit library and numba); a run of ``psi`` should not pay for it.
    """
    parser = argparse.ArgumentParser(
        prog="pqmpc",
        description="Post-quantum secure two-party computation: PSI between CSV files, Yao 2PC, benchmarks.",
    )
    parser.add_argument("--version", action="version", version=f"pqmpc {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        mod = importlib.import_module(module)
        if command in (None, name):
            mod.add_parser(sub)
        else:
            sub.add_parser(name, help=mod.HELP)
    return parser


def _command(argv: list[str]) -> str | None:
    # The top-level options take no value, so the first other word is the subcommand.
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in COMMANDS else None


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:  # an in-process call; the console script never raises it (entry())
        print("pqmpc: interrupted", file=sys.stderr)
        return 130
    except (PqmpcError, OSError) as exc:
        if args.debug:
            raise
        kind = "connection error" if isinstance(exc, ChannelError) else "error"
        print(f"pqmpc: {kind}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: say so, keep the one-line promise unless --debug
        if args.debug:
            raise
        print(f"pqmpc: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 70


def entry() -> None:
    """The ``pqmpc`` console script and ``python -m pqmpc.cli.main``.

    The command runs in a worker thread so that Ctrl-C or SIGTERM, at any moment (also
    while numba loads kernels), ends the process with 130 (143), removes what the run
    wrote and closes the connection, so the peer stops too (``pqmpc.util.interrupt``).
    The process ends with ``os._exit`` once output is flushed: finalizing the interpreter
    after numba ran in a worker thread takes seconds of teardown and serves nothing here.
    """
    from ..util.interrupt import run_interruptible

    try:
        code = run_interruptible(main, sys.argv[1:], final=True)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        code = exc.code
        if code is not None and not isinstance(code, int):
            print(code, file=sys.stderr)
            code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (pqmpc info | head): nothing left to say
            pass
    os._exit(code or 0)


if __name__ == "__main__":
    entry()
