"""RR22 PSI scaling, issue 14: ``time(2^22) / (4·time(2^20))`` in threads mode, one process.

Both parties run as threads of this process over a memory channel (as the ``threads`` rows of
``pqmpc bench psi``), on the suite's items (``b"item-<i>"``, half of each side shared). Sizes
alternate within every round (2^20, 2^22, then 2^22, 2^20 in the next round, ...), so load drifts
hit both alike. Printed per size: the minimum over rounds of

- wall seconds of the whole run (the goal's figure) and of each party's phases
  (``PsiResult.seconds``: setup, base_ot, vole, okvs_encode, okvs_recv, decode, compare);
- CPU seconds (``time.thread_time``) and minor page faults (``getrusage(RUSAGE_THREAD)``) of each
  party thread, in total and inside the main kernels (wrapped for the run, each call timed in the
  thread that makes it; nested calls are inclusive);

and, per row, the scaling ratio ``x(2^22) / (4·x(2^20))``. ``uptime`` load before and after.

Final measurement (issue 14): ``python bench/rr22_scaling.py`` (3 rounds, ≤ 2 minutes here).
``--rounds``, ``--small``/``--large`` (log2 sizes), ``--malicious``, ``--json FILE`` (summary).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import sys
import threading
import time
from collections import defaultdict

_STATS: dict = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0, 0, 0.0]))   # thread -> name -> [wall, cpu, flt, sys]
_LOCAL = threading.local()


def _flt() -> int:
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt


def _sys() -> float:
    return resource.getrusage(resource.RUSAGE_THREAD).ru_stime


def _timed(name, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kw):
        party = getattr(_LOCAL, "party", None)
        if party is None:
            return fn(*args, **kw)
        w, c, f, y = time.perf_counter(), time.thread_time(), _flt(), _sys()
        try:
            return fn(*args, **kw)
        finally:
            s = _STATS[party][name]
            s[0] += time.perf_counter() - w
            s[1] += time.thread_time() - c
            s[2] += _flt() - f
            s[3] += _sys() - y
    return wrapper


def _instrument() -> None:
    """Wrap the kernels worth attributing (only those present: the script runs on older trees too)."""
    import pqmpc.ot.ext.lpn_codes as lpn
    import pqmpc.ot.ext.vole as vole
    import pqmpc.psi.keys as keys
    import pqmpc.psi.okvs as okvs
    import pqmpc.psi.rr22 as rr22
    import pqmpc.psi.values as values

    targets = [
        (keys, ["encode_items", "item_ids", "dedup_ids"]),
        (values, ["sort_values", "lookup", "send_rows", "recv_rows", "tag_words"]),
        (vole.SilentVole, ["send", "receive"]),
        (vole, ["_expand_trees", "ggm_expand_level", "_receiver_fix", "_receiver_finish", "_level_sums",
                "_tree_sums"]),
        (lpn.ExConvCode, ["dual_encode"]),
        (rr22, ["OkvsRows", "okvs_encode_random_seed", "value_hash", "xor_mul_const", "_out_hash"]),
        (okvs.OkvsRows, ["decode"]),
    ]
    for owner, names in targets:
        for name in names:
            fn = owner.__dict__.get(name)
            if fn is not None:
                label = f"{getattr(owner, '__name__', '?').rsplit('.', 1)[-1]}.{name}"
                setattr(owner, name, _timed(label, fn))


def _load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_once(n: int, malicious: bool) -> dict:
    from pqmpc.bench.suites.psi import make_items
    from pqmpc.net import run_pair
    from pqmpc.psi import run_protocol

    a, b = make_items(n, "sender"), make_items(n, "receiver")
    _STATS.clear()

    def party(role, items):
        def body(ch):
            _LOCAL.party = role
            w, c, f, y = time.perf_counter(), time.thread_time(), _flt(), _sys()
            res = run_protocol("rr22", role, ch, items, malicious=malicious)
            s = _STATS[role]["total"]
            s[:] = time.perf_counter() - w, time.thread_time() - c, _flt() - f, _sys() - y
            return res
        return body

    p0 = time.process_time()
    t0 = time.perf_counter()
    rs, rr = run_pair(party("sender", a), party("receiver", b))
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - p0
    if rr.intersection != n - n // 2:
        raise AssertionError(f"wrong intersection size {rr.intersection} at n = {n}")
    out = {"seconds": seconds, "process_cpu": cpu, "rows": {}}
    for role, res in (("sender", rs), ("receiver", rr)):
        for k, v in res.seconds.items():
            out["rows"][f"{role[0]}:phase.{k}"] = (v, None, None, None)
        for k, (w, c, f, y) in _STATS[role].items():
            out["rows"][f"{role[0]}:{k}"] = (w, c, f, y)
    return out


def _mins(runs: list[dict]) -> dict:
    rows: dict = {}
    for r in runs:
        for k, vals in r["rows"].items():
            cur = rows.setdefault(k, list(vals))
            cur[0] = min(cur[0], vals[0])
            for j in (1, 2, 3):
                cur[j] = vals[j] if cur[j] is None else min(cur[j], vals[j])
    rows["total wall"] = [min(r["seconds"] for r in runs), min(r["process_cpu"] for r in runs), None, None]
    return rows


def _ratio(big, small, scale):
    if big is None or small is None or small <= 0:
        return "     -"
    return f"{big / (scale * small):6.2f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--small", type=int, default=20, help="log2 of the small size (default 20)")
    ap.add_argument("--large", type=int, default=22, help="log2 of the large size (default 22)")
    ap.add_argument("--malicious", action="store_true")
    ap.add_argument("--json", help="write the summary here")
    ap.add_argument("--no-detail", action="store_true", help="phases only, no kernel wrappers")
    args = ap.parse_args(argv)
    if not args.no_detail:
        _instrument()
    ns, nl = 1 << args.small, 1 << args.large
    scale = nl / ns
    print(f"rr22 scaling, threads, {'malicious' if args.malicious else 'semi-honest'}, 2^{args.small} vs "
          f"2^{args.large}, {args.rounds} rounds; {_load()}", flush=True)
    run_once(1 << 16, args.malicious)   # numba caches, imports
    runs: dict = {ns: [], nl: []}
    for r in range(args.rounds):
        for n in ((ns, nl) if r % 2 == 0 else (nl, ns)):
            runs[n].append(run_once(n, args.malicious))
        s, l_ = runs[ns][-1]["seconds"], runs[nl][-1]["seconds"]
        print(f"round {r}: 2^{args.small} {s:.3f} s  2^{args.large} {l_:.3f} s  ratio {l_ / (scale * s):.3f}  "
              f"({_load()})", flush=True)
    small, large = _mins(runs[ns]), _mins(runs[nl])
    print(f"\nminima over rounds; ratio = x(2^{args.large}) / ({scale:g}·x(2^{args.small})); "
          f"cpu = thread CPU (total wall: process CPU); flt = minor page faults; sys = kernel CPU")
    print(f"{'row':34s} {'wall S':>8s} {'wall L':>8s} {'ratio':>6s} {'cpu S':>8s} {'cpu L':>8s} {'ratio':>6s} "
          f"{'flt S':>8s} {'flt L':>9s} {'ratio':>6s} {'sys S':>7s} {'sys L':>7s}")
    keys = ["total wall"] + sorted(k for k in large if k != "total wall")
    for k in keys:
        if k not in small:
            continue
        (ws, cs, fs, ys), (wl, cl, fl, yl) = small[k], large[k]
        cpu = f"{cs:8.3f} {cl:8.3f} {_ratio(cl, cs, scale)}" if cs is not None else f"{'':8s} {'':8s} {'':6s}"
        flt = f"{fs:8d} {fl:9d} {_ratio(fl, fs, scale)} {ys:7.3f} {yl:7.3f}" if fs is not None else ""
        print(f"{k:34s} {ws:8.3f} {wl:8.3f} {_ratio(wl, ws, scale)} {cpu} {flt}")
    ratio = large["total wall"][0] / (scale * small["total wall"][0])
    print(f"\nSCALING time(2^{args.large}) / ({scale:g}·time(2^{args.small})) = {ratio:.3f} "
          f"(min {small['total wall'][0]:.3f} s vs {large['total wall'][0]:.3f} s; goal <= 1.2); {_load()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"ratio": ratio, "small": small, "large": large,
                       "runs": {str(k): [r["seconds"] for r in v] for k, v in runs.items()}}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
