"""KOS / IKNP overhead of KOS variants, interleaved in the same rounds (issue 15, goal a).

    PYTHONPATH=. python bench/kos_variants.py [--links memory,LAN1G] [--kappa 128,256] [--reps 15]

Rows as ``bench/malicious_ot.py --goals`` computes them (:func:`pqmpc.bench.suites.ot_ext_links.measure_link`:
2^20 random OTs per call into caller arrays, every protocol in every round, busier party's thread CPU),
for the default KOS and for KOS with its sender read-ahead off (``read_ahead = 0``: the coin
opens when the sender's work reaches the last chunk, as before), each against the same run's
IKNP. SoftSpoken k=4 runs in the rounds too, as in the goal command, so the allocator sees the
same mix.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from pqmpc.bench.suites.ot_ext_links import measure_link
from pqmpc.ot.ext.iknp import IKNP
from pqmpc.ot.ext.kos import KOS
from pqmpc.ot.ext.softspoken import SoftSpoken


def _kos_before(kappa: int) -> KOS:
    ot = KOS(kappa=kappa)
    ot.read_ahead = 0
    return ot


def makers(kappa: int) -> dict:
    return {"IKNP": lambda: IKNP(kappa=kappa), "KOS": lambda: KOS(kappa=kappa),
            "KOS-before": lambda: _kos_before(kappa),
            "SoftSpoken-k4-sh": lambda: SoftSpoken(k=4, kappa=kappa),
            "SoftSpoken-k4-mal": lambda: SoftSpoken(k=4, security="malicious", kappa=kappa)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--links", default="memory,LAN1G")
    ap.add_argument("--kappa", default="128,256")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--n", type=int, default=20, help="log2 of OTs per call")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    print(f"{'link':7} {'kappa':>5}  {'ratio':22} {'wall':>6} {'cpu':>6}   (IKNP cpu ms, KOS cpu ms)")
    for link in args.links.split(","):
        for kappa in (int(k) for k in args.kappa.split(",")):
            got = measure_link(link, makers(kappa), 1 << args.n, args.reps)
            base = got["IKNP"]
            for name in ("KOS", "KOS-before"):
                g = got[name]
                wall = statistics.median(a / b for a, b in zip(g["wall"], base["wall"]))
                cpu = statistics.median(g["cpu"]) / statistics.median(base["cpu"])
                print(f"{link:7} {kappa:5}  {name + ' / IKNP':22} {wall:6.2f} {cpu:6.2f}   "
                      f"({1e3 * statistics.median(base['cpu']):.2f}, {1e3 * statistics.median(g['cpu']):.2f})",
                      flush=True)
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
