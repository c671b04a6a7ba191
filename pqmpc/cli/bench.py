"""``pqmpc bench``: run benchmark suites, write JSON, compare two runs."""

from __future__ import annotations

import json
import sys

from ..errors import InputError
from ..util.text import plural

HELP = "run the reproducible benchmarks (a summary table, and JSON)"
#: Measured with `/usr/bin/time pqmpc bench --quick --json q.json` on the 2-core development VM
#: (issue 16's report): 252 and 336 s wall at load 9-15, 89 and 68 s of CPU; the OpenMined ECDH
#: baseline took 38 and 79 s of it. A quiet machine could not be had to measure on.
QUICK_HELP = ("smaller sizes and fewer repetitions: 4-6 minutes measured on a busy 2-core machine (70-90 s of "
              "CPU time), a fifth of it in the OpenMined baseline when that is installed")


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help=HELP,
                       description="Run benchmark suites with fixed seeds and sizes; each figure comes with a "
                                   "baseline measured in the same run.")
    p.add_argument("suites", nargs="*", help="suites to run (default: all available); 'compare A.json B.json' "
                                             "prints ratios between two runs")
    p.add_argument("--quick", action="store_true", help=QUICK_HELP)
    p.add_argument("--json", metavar="FILE", help="write the results here (default: print the JSON to stdout and "
                                                   "the summary table to stderr)")
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
    to_stdout = not args.json and not args.report  # the JSON goes there, as before
    if args.report:
        print(f"[pqmpc] wrote {write_report(doc, args.report)}", file=sys.stderr)
    if args.json:
        write_json(doc, args.json)
        print(f"[pqmpc] wrote {args.json}", file=sys.stderr)
    elif to_stdout:
        print(json.dumps(doc, indent=2, sort_keys=True, default=float))
    print(summary(doc), file=sys.stderr if to_stdout else sys.stdout, flush=True)
    return 0


_NOT_FIGURES = {"name", "n", "repeat", "seconds_median", "seconds_min", "seconds_max"}


def _seconds(t) -> str:
    if not isinstance(t, (int, float)):
        return "-"
    if t < 1e-3:
        return f"{t * 1e6:.1f} µs"
    return f"{t * 1e3:.3g} ms" if t < 1 else f"{t:.3g} s"


def _number(v) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    a = abs(v)
    if isinstance(v, int) and a < 10_000:
        return f"{v:,}"
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            x = v / div
            return f"{x:.3g} {unit}" if abs(x) < 1000 else f"{x:,.0f} {unit}"
    return f"{v:.3g}"


def _rank(key: str) -> int:
    # Ratios to the same-run baseline first, then rates, then sizes per item, then the rest.
    return 0 if key.startswith("ratio") else 1 if key.endswith("_per_s") else 2 if "_per_" in key else 3


def summary(doc: dict, figures: int = 3) -> str:
    """One table per suite: each result's median time and its first ``figures`` other numbers."""
    lines = []
    for suite, body in doc.get("suites", {}).items():
        results = body.get("results", [])
        lines.append(f"{suite} ({plural(len(results), 'result')}, {body.get('seconds', 0):.1f} s)")
        width = max([len(str(r.get("name", ""))) for r in results] + [4])
        lines.append(f"  {'name':<{width}} {'n':>10} {'median':>10}  other figures")
        for r in results:
            keys = sorted((k for k, v in r.items() if k not in _NOT_FIGURES and isinstance(v, (int, float))
                           and not isinstance(v, bool)), key=_rank)
            extra = [f"{k} {_number(r[k])}" for k in keys]
            n = r.get("n")
            lines.append(f"  {str(r.get('name', '')):<{width}} {_number(n) if n is not None else '-':>10} "
                         f"{_seconds(r.get('seconds_median')):>10}  {', '.join(extra[:figures])}".rstrip())
    lines.append("(medians; compare ratios to the baselines measured in the same run, not absolute times)")
    return "\n".join(lines)
