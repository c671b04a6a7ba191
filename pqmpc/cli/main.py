"""``pqmpc`` command line: parse arguments, call the library, report errors in one line."""

from __future__ import annotations

import argparse
import importlib
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
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pqmpc",
        description="Post-quantum secure two-party computation: PSI between CSV files, Yao 2PC, benchmarks.",
    )
    parser.add_argument("--version", action="version", version=f"pqmpc {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS.values():
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
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


if __name__ == "__main__":
    sys.exit(main())
