"""``pqmpc bench``: run benchmark suites, write JSON, compare two runs."""

from __future__ import annotations

import json
import sys

from ..errors import InputError

HELP = "run the reproducible benchmarks (writes JSON)"


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help=HELP,
                       description="Run benchmark suites with fixed seeds and sizes; each figure comes with a "
                                   "baseline measured in the same run.")
    p.add_argument("suites", nargs="*", help="suites to run (default: all available); 'compare A.json B.json' "
                                             "prints ratios between two runs")
    p.add_argument("--quick", action="store_true", help="smaller sizes and fewer repetitions (~2 minutes)")
    p.add_argument("--json", metavar="FILE", help="write the results here (default: print to stdout)")
    p.add_argument("--report", metavar="DIR", help="also write a Markdown report with tables and plots into DIR")
    p.add_argument("--from-json", metavar="FILE", help="build the --report from an earlier run instead of running")
    p.add_argument("--list", action="store_true", help="list the suites and exit")
    p.set_defaults(func=run)


def _load(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read benchmark file {path}: {exc}") from None


def compare(a_path: str, b_path: str) -> int:
    a, b = _load(a_path), _load(b_path)
    print(f"{'suite/result':<48} {'A median s':>12} {'B median s':>12} {'B/A':>7}")
    for suite, body in b.get("suites", {}).items():
        old = {(r.get("name"), r.get("n")): r for r in a.get("suites", {}).get(suite, {}).get("results", [])}
        for r in body.get("results", []):
            key = (r.get("name"), r.get("n"))
            ra = old.get(key)
            if ra is None or "seconds_median" not in r or "seconds_median" not in ra:
                continue
            ratio = r["seconds_median"] / ra["seconds_median"] if ra["seconds_median"] else float("nan")
            label = f"{suite}/{r.get('name')} n={r.get('n')}"
            print(f"{label:<48} {ra['seconds_median']:>12.6f} {r['seconds_median']:>12.6f} {ratio:>7.2f}")
    return 0


def run(args) -> int:
    from ..bench.report import write_report
    from ..bench.runner import SUITES, available_suites, run_suites, write_json

    if args.suites[:1] == ["compare"]:
        if len(args.suites) != 3:
            raise InputError("usage: pqmpc bench compare A.json B.json")
        return compare(args.suites[1], args.suites[2])
    if args.list:
        avail = set(available_suites())
        for name in SUITES:
            print(f"{name:<16} {'available' if name in avail else 'not installed'}")
        return 0
    if args.from_json:
        if not args.report:
            raise InputError("--from-json needs --report DIR")
        doc = _load(args.from_json)
        print(f"[pqmpc] wrote {write_report(doc, args.report)}", file=sys.stderr)
        return 0
    names = args.suites or available_suites()
    doc = run_suites(names, quick=args.quick, progress=lambda m: print(f"[pqmpc] {m}", file=sys.stderr, flush=True))
    if args.report:
        print(f"[pqmpc] wrote {write_report(doc, args.report)}", file=sys.stderr)
    if args.json:
        write_json(doc, args.json)
        print(f"[pqmpc] wrote {args.json}", file=sys.stderr)
    else:
        if not args.report:
            print(json.dumps(doc, indent=2, sort_keys=True, default=float))
    return 0
