"""IKNP random COT 2^24 steady ``out=`` calls over TCP loopback: each party's CPU per call, this
tree against another (``--base``, e.g. a checkout of main), interleaved A B A B in one run.

The IKNP receiver never sleeps in steady state (it is the bulk writer), so its CPU per call is
the wall time against emp-toolkit (issue 19); this isolates it from emp's own variance.

    PYTHONPATH=$PWD python bench/iknp_receiver_cpu.py --base ../main --pairs 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

_CHILD = ("import json,sys; from pqmpc.bench.suites.ot_ext_calls import measure; "
          "print(json.dumps(measure('iknp', 1 << 24, 1 << 20, int(sys.argv[1]), ('out',))))")


def _run(tree: str, reps: int) -> dict:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    out = subprocess.run([sys.executable, "-c", _CHILD, str(reps)], env=env, cwd=os.path.abspath(tree),
                         capture_output=True, text=True, check=True, timeout=900).stdout
    r = json.loads(out.strip().splitlines()[-1])["out"]
    return {"wall": r["seconds"], "snd_cpu": [c[0] for c in r["cpu_s"]], "rcv_cpu": [c[1] for c in r["cpu_s"]]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="the other tree's root (baseline)")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--reps", type=int, default=5, help="steady calls per run")
    a = ap.parse_args()
    trees = {"this": os.getcwd(), "base": a.base}
    got = {k: {"wall": [], "snd_cpu": [], "rcv_cpu": []} for k in trees}
    for _ in range(a.pairs):
        for k, t in trees.items():
            r = _run(t, a.reps)
            for f in r:
                got[k][f] += r[f]
            print(json.dumps({"tree": k, **{f: round(statistics.median(v), 4) for f, v in r.items()}}), flush=True)
    med = {k: {f: statistics.median(v) for f, v in g.items()} for k, g in got.items()}
    print(json.dumps({"median_s": {k: {f: round(x, 4) for f, x in m.items()} for k, m in med.items()},
                      "this_over_base": {f: round(med["this"][f] / med["base"][f], 3) for f in med["this"]},
                      "loadavg": os.getloadavg()}))


if __name__ == "__main__":
    main()
