"""pqmpc vs emp-toolkit, OT extension (IKNP, Ferret b13), interleaved, two processes on loopback.

Not a test: a local comparison run by hand (emp-toolkit is not a dependency). Build emp and
its drivers as described in the peers README of the session, point ``PQMPC_EMP_PEERS`` at
that folder (it holds ``drivers/ot_steady``), then:

    python bench/ot_ext_emp.py --proto iknp --rounds 3
    python bench/ot_ext_emp.py --proto ferret --rounds 3

Each round runs, one after the other (A B A B ...): emp's driver (per rep a call into
fresh 4 KiB pages, fresh huge pages, and the same buffer again), pqmpc allocating its
results (``fresh``), and pqmpc writing into the caller's reused arrays (``out=``). Reported:
per party the first call of the session (base OTs / bootstrap included) and the steady calls,
with minor page faults; the summary gives median ratios pqmpc / emp in M COT/s: steady
(``out=`` vs emp's reused buffer), repeated allocating calls (vs emp's ``fresh4k``), and the
first call of a size into fresh memory (pqmpc's first allocating call vs emp's first
``fresh4k`` call of the round), plus the CPU seconds per party of pqmpc's steady calls.
The pqmpc side is :func:`pqmpc.bench.suites.ot_ext_calls.measure`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time

SIZES = {"iknp": (1 << 24, 1 << 20), "ferret": (45_031_423, 1)}
EMP_PROTO = {"iknp": "iknp", "ferret": "ferret13"}
TUNABLES = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736"


def run_pq(proto: str, reps: int, port: int) -> dict:
    from pqmpc.bench.suites.ot_ext_calls import measure

    n, warm = SIZES[proto]
    return measure(proto, n, warm, reps, ("fresh", "out"), port)


def run_emp(proto: str, reps: int, port: int) -> dict:
    peers = os.environ.get("PQMPC_EMP_PEERS")
    if not peers:
        raise SystemExit("set PQMPC_EMP_PEERS to the folder with emp's drivers/ot_steady")
    drv = os.path.join(peers, "drivers", "ot_steady")
    n, warm = SIZES[proto]
    env = dict(os.environ, GLIBC_TUNABLES=TUNABLES)
    argv = [EMP_PROTO[proto], str(n), str(warm), str(reps), "0"]
    p1 = subprocess.Popen([drv, "1", str(port)] + argv, env=env, stdout=subprocess.PIPE, text=True)
    time.sleep(0.05)
    p2 = subprocess.Popen([drv, "2", str(port)] + argv, env=env, stdout=subprocess.PIPE, text=True)
    lines = [[json.loads(x) for x in p.communicate(timeout=1800)[0].splitlines() if x.startswith("{")]
             for p in (p1, p2)]
    by = {}
    for a, b in zip(*lines):
        if a["kind"] != b["kind"]:
            raise SystemExit(f"emp parties out of step: {a['kind']} vs {b['kind']}")
        by.setdefault(a["kind"], []).append((max(a["seconds"], b["seconds"]), a["minflt"], b["minflt"]))
    return {k: {"seconds": [x[0] for x in v], "minflt": [[x[1], x[2]] for x in v]} for k, v in by.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--proto", choices=SIZES, default="iknp")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--port", type=int, default=23100)
    a = ap.parse_args()
    n, warm = SIZES[a.proto]
    rounds = []
    for i in range(a.rounds):
        port = a.port + 3 * i
        r = {"emp": run_emp(a.proto, a.reps, port), "pq": run_pq(a.proto, a.reps, port + 1)}
        rounds.append(r)
        print(json.dumps(r), flush=True)
    mcot = lambda s: n / s / 1e6  # noqa: E731
    med = lambda xs: statistics.median(xs)  # noqa: E731
    emp_reused = med([mcot(s) for r in rounds for s in r["emp"]["reused"]["seconds"]])
    emp_fresh = med([mcot(s) for r in rounds for s in r["emp"]["fresh4k"]["seconds"]])
    out_steady = med([mcot(s) for r in rounds for s in r["pq"]["out"]["seconds"]])
    fresh_steady = med([mcot(s) for r in rounds for s in r["pq"]["fresh"]["seconds"]])
    ratios_steady = [med([mcot(s) for s in r["pq"]["out"]["seconds"]]) / med([mcot(s) for s in r["emp"]["reused"]["seconds"]])
                     for r in rounds]
    ratios_fresh = [med([mcot(s) for s in r["pq"]["fresh"]["seconds"]]) / med([mcot(s) for s in r["emp"]["fresh4k"]["seconds"]])
                    for r in rounds]
    # The first call of a size into fresh result memory: pqmpc's first allocating call (fresh[0])
    # against emp's first call into a fresh new[] buffer (fresh4k[0]), same round.
    ratios_first = [(r["emp"]["fresh4k"]["seconds"][0]) / r["pq"]["fresh"]["seconds"][0] for r in rounds]
    cpu = lambda r, mode, i: med([c[i] for c in r["pq"][mode].get("cpu_s", [[0.0, 0.0]])])  # noqa: E731
    print(json.dumps({
        "proto": a.proto, "n": n, "rounds": a.rounds,
        "ratio_first_alloc_median": round(med(ratios_first), 3),
        "ratio_first_alloc_rounds": [round(x, 3) for x in ratios_first],
        "emp_first_alloc_s": [round(r["emp"]["fresh4k"]["seconds"][0], 3) for r in rounds],
        "pq_first_alloc_s": [round(r["pq"]["fresh"]["seconds"][0], 3) for r in rounds],
        "pq_out_cpu_s_sender_receiver": [[round(cpu(r, "out", 0), 3), round(cpu(r, "out", 1), 3)] for r in rounds],
        "emp_reused_Mps": round(emp_reused, 1), "pq_out_steady_Mps": round(out_steady, 1),
        "ratio_steady_median": round(med(ratios_steady), 3), "ratio_steady_rounds": [round(x, 3) for x in ratios_steady],
        "emp_fresh4k_Mps": round(emp_fresh, 1), "pq_fresh_Mps": round(fresh_steady, 1),
        "ratio_fresh_median": round(med(ratios_fresh), 3),
        "emp_first_s": [r["emp"]["warm"]["seconds"][0] for r in rounds],
        "pq_first_s": [round(r["pq"]["first_s"], 3) for r in rounds], "first_n": warm}))


if __name__ == "__main__":
    main()
