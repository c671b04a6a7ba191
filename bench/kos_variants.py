"""KOS / IKNP overhead (issue 15, goal a) for one KOS setting, as ``bench/malicious_ot.py --goals`` measures it.

    PYTHONPATH=. python bench/kos_variants.py [--links memory,LAN1G] [--kappa 128,256] [--reps 21]
        [--read-ahead N] [--pair] [--ab]

Rows as the goal command computes them (:func:`pqmpc.bench.suites.ot_ext_links.measure_link`:
2^20 random OTs per call into caller arrays, every protocol in every round, busier party's
thread CPU), for KOS with ``read_ahead = N`` (default: the class's) against the same run's IKNP,
with SoftSpoken k = 4 in the rounds as in the goal command (``--pair``: IKNP and KOS only).

Two KOS settings cannot share a process for this: the allocator's state (which pages the
memory channel's message copies get) is shared by every protocol in it, so one setting moves
the other's figures. ``--ab`` therefore runs ``--read-ahead N`` (``--ab-other``, default 2: the
default was 2 before session 6, 0 since) and the default alternately in
fresh processes (A B A B) and prints each run's rows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from pqmpc.bench.suites.ot_ext_links import measure_link
from pqmpc.ot.ext.iknp import IKNP
from pqmpc.ot.ext.kos import KOS
from pqmpc.ot.ext.softspoken import SoftSpoken


def makers(kappa: int, read_ahead: int | None, pair: bool = False) -> dict:
    def kos():
        ot = KOS(kappa=kappa)
        if read_ahead is not None:
            ot.read_ahead = read_ahead
        return ot

    out = {"IKNP": lambda: IKNP(kappa=kappa), "KOS": kos}
    if not pair:
        out["SoftSpoken-k4-sh"] = lambda: SoftSpoken(k=4, kappa=kappa)
        out["SoftSpoken-k4-mal"] = lambda: SoftSpoken(k=4, security="malicious", kappa=kappa)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--links", default="memory,LAN1G")
    ap.add_argument("--kappa", default="128,256")
    ap.add_argument("--reps", type=int, default=21)
    ap.add_argument("--n", type=int, default=20, help="log2 of OTs per call")
    ap.add_argument("--read-ahead", type=int, default=None, help="KOS.read_ahead (default: the class's)")
    ap.add_argument("--pair", action="store_true", help="IKNP and KOS only (no SoftSpoken in the rounds)")
    ap.add_argument("--ab", type=int, default=0, metavar="ROUNDS",
                    help="run --read-ahead AB_OTHER and the default alternately in fresh processes, ROUNDS times each")
    ap.add_argument("--ab-other", type=int, default=2, help="the read-ahead --ab compares with the default")
    args = ap.parse_args(argv)
    if args.ab:
        base = [sys.executable, os.path.abspath(__file__), "--links", args.links, "--kappa", args.kappa,
                "--reps", str(args.reps), "--n", str(args.n)] + (["--pair"] if args.pair else [])
        for i in range(args.ab):
            other = str(args.ab_other)
            for tag, extra in ((f"read_ahead={other}", ["--read-ahead", other]), ("default", [])):
                with open("/proc/loadavg") as f:
                    load = " ".join(f.read().split()[:3])
                print(f"== {tag} (round {i + 1}, load {load})", flush=True)
                subprocess.run(base + extra, check=True)
        return 0
    t0 = time.perf_counter()
    print(f"{'link':7} {'kappa':>5}  {'ratio':12} {'wall':>6} {'cpu':>6}   (IKNP cpu ms, KOS cpu ms; KOS read_ahead "
          f"{KOS.read_ahead if args.read_ahead is None else args.read_ahead})")
    for link in args.links.split(","):
        for kappa in (int(k) for k in args.kappa.split(",")):
            got = measure_link(link, makers(kappa, args.read_ahead, args.pair), 1 << args.n, args.reps)
            base, g = got["IKNP"], got["KOS"]
            wall = statistics.median(a / b for a, b in zip(g["wall"], base["wall"]))
            cpu = statistics.median(g["cpu"]) / statistics.median(base["cpu"])
            print(f"{link:7} {kappa:5}  {'KOS / IKNP':12} {wall:6.2f} {cpu:6.2f}   "
                  f"({1e3 * statistics.median(base['cpu']):.2f}, {1e3 * statistics.median(g['cpu']):.2f})", flush=True)
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
