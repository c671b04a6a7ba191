"""SoftSpoken k = 4 over the unlimited memory channel against IKNP (issue 15).

    PYTHONPATH=. python bench/ss_rate.py [--reps 21] [--n 20] [--lan1g] [--mal-only]

One interleaved run with the method of :func:`pqmpc.bench.suites.ot_ext_links.measure_link`
(the rows of ``bench/malicious_ot.py``: one channel pair, warm-up calls, caller arrays reused,
the call order rotating per round; a call's wall from the later party's entry to the later
party's exit), also keeping each party's thread CPU, over IKNP, KOS, SoftSpoken k = 4 semi-honest and malicious and k = 2 semi-honest, κ = 128 and (not k = 2) κ = 256,
2^n random OTs per call. Prints the two goal ratios with wall (median of the per-round
ratios) and CPU (busier party's median thread CPU) columns:

* rate SoftSpoken / IKNP = IKNP time / SoftSpoken time (goal ≥ 1, k = 4);
* SoftSpoken k = 4 malicious / semi-honest time (goal ≤ 1.15);
* κ = 256 / κ = 128 time for IKNP, KOS and SoftSpoken k = 4 (issue 15 goal c: ≤ 2.2);

with ``--lan1g`` also SoftSpoken k = 4 / IKNP rate over the shaped 1 Gbit/s link (goal ≥ 3);
and the per-protocol medians they come from (``cpu``: the busier party per call; then each party's).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from pqmpc.bench.suites.ot_ext_links import protocols
from pqmpc.net import MemoryChannel, run_pair
from pqmpc.net.shaped import PRESETS, ShapedChannel
from pqmpc.rng import Rng

NAMES = ("IKNP", "KOS", "SoftSpoken-k4-sh", "SoftSpoken-k4-mal", "SoftSpoken-k2-sh")
#: the κ = 256 rows of the same run (goal c: κ = 256 time ≤ 2.2 × κ = 128 time, IKNP, KOS and SoftSpoken k = 4)
WIDE = ("IKNP", "KOS", "SoftSpoken-k4-sh", "SoftSpoken-k4-mal")


def measure(makers: dict, n: int, reps: int, link: str = "memory") -> dict:
    """``{name: {"wall": [...], "cpu": [...] (busier party), "sender": [...], "receiver": [...], "bytes"}}``."""
    ots = {name: make() for name, make in makers.items()}
    choices = Rng(b"bench/links/choices").bits(n)

    def party(role: str):
        def body(ch):
            rng = Rng(f"bench/links/{role}".encode())
            for name, ot in ots.items():  # warm-up: base OTs, kernels, pages
                r = rng.fork(repr(name))
                ot.setup(ch, role, r)
                ot.send_random(ch, n, rng=r) if role == "sender" else ot.receive_random(ch, choices, rng=r)
            outs = {name: ((np.empty((n, ot.block_bytes), np.uint8), np.empty((n, ot.block_bytes), np.uint8))
                           if role == "sender" else np.empty((n, ot.block_bytes), np.uint8))
                    for name, ot in ots.items()}
            res = {name: {"span": [], "cpu": [], "sent": 0} for name in ots}
            names = list(ots)
            for rep in range(reps):
                for name in names[rep % len(names):] + names[:rep % len(names)]:
                    ot, o = ots[name], outs[name]
                    before = ch.stats.snapshot()
                    t0, c0 = time.perf_counter(), time.thread_time()
                    ot.send_random(ch, n, out=o) if role == "sender" else ot.receive_random(ch, choices, out=o)
                    res[name]["span"].append((t0, time.perf_counter()))
                    res[name]["cpu"].append(time.thread_time() - c0)
                    res[name]["sent"] += ch.stats.since(before).bytes_sent
            return res
        return body

    channels = MemoryChannel.pair(timeout=600) if link == "memory" else ShapedChannel.pair(PRESETS[link], timeout=600)
    s, r = run_pair(party("sender"), party("receiver"), channels=channels, timeout=3600)
    return {name: {"wall": [max(a[1], b[1]) - max(a[0], b[0]) for a, b in zip(s[name]["span"], r[name]["span"])],
                   "cpu": [max(a, b) for a, b in zip(s[name]["cpu"], r[name]["cpu"])],
                   "sender": s[name]["cpu"], "receiver": r[name]["cpu"],
                   "bytes": (s[name]["sent"] + r[name]["sent"]) / reps} for name in ots}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=21)
    ap.add_argument("--n", type=int, default=20, help="log2 of random OTs per call")
    ap.add_argument("--lan1g", action="store_true", help="also IKNP and SoftSpoken k=4 over the shaped LAN1G link")
    ap.add_argument("--mal-only", action="store_true",
                    help="only SoftSpoken k=4 semi-honest and malicious at kappa 128: the mal/sh ratio alone, "
                         "without the other protocols' calls between them (less noise per round)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    load0 = os.getloadavg()[0]
    if args.mal_only:
        got = measure(protocols(128, ("SoftSpoken-k4-sh", "SoftSpoken-k4-mal")), 1 << args.n, args.reps)
        med = {name: {key: 1e3 * statistics.median(got[name][key]) for key in ("wall", "cpu", "sender", "receiver")}
               for name in got}
        print(f"memory channel, kappa 128, 2^{args.n} random OTs per call, {args.reps} interleaved rounds; "
              f"load {load0:.2f} -> {os.getloadavg()[0]:.2f}")
        for name, m in med.items():
            print(f"{name:20} wall {m['wall']:6.2f}  cpu {m['cpu']:6.2f}  (sender {m['sender']:.2f}, "
                  f"receiver {m['receiver']:.2f})")
        a, b = got["SoftSpoken-k4-mal"], got["SoftSpoken-k4-sh"]
        wall = statistics.median(x / y for x, y in zip(a["wall"], b["wall"]))
        cpu = statistics.median(a["cpu"]) / statistics.median(b["cpu"])
        print(f"SoftSpoken k=4 malicious / semi-honest (<= 1.15): wall {wall:.3f}  cpu {cpu:.3f}  "
              f"({time.perf_counter() - t0:.0f} s)")
        return
    makers = protocols(128, NAMES)
    makers.update({f"{name} k256": make for name, make in protocols(256, WIDE).items()})
    got = measure(makers, 1 << args.n, args.reps)
    load1 = os.getloadavg()[0]

    def pair(a: str, b: str) -> tuple[float, float]:
        wall = statistics.median(x / y for x, y in zip(got[a]["wall"], got[b]["wall"]))
        return wall, statistics.median(got[a]["cpu"]) / statistics.median(got[b]["cpu"])

    print(f"memory channel, kappa 128, 2^{args.n} random OTs per call, {args.reps} interleaved rounds; "
          f"load {load0:.2f} -> {load1:.2f}")
    print(f"{'protocol (medians)':20} {'wall ms':>8} {'cpu ms':>7} {'sender':>7} {'receiver':>8} {'bits/OT':>8}")
    for name in got:
        g = got[name]
        med = {key: 1e3 * statistics.median(g[key]) for key in ("wall", "cpu", "sender", "receiver")}
        print(f"{name:20} {med['wall']:8.2f} {med['cpu']:7.2f} {med['sender']:7.2f} {med['receiver']:8.2f} "
              f"{8 * g['bytes'] / (1 << args.n):8.1f}")
    print(f"{'ratio':44} {'wall':>6} {'cpu':>6}")
    for k in (4, 2):
        w, c = pair("IKNP", f"SoftSpoken-k{k}-sh")
        print(f"{f'rate SoftSpoken k={k} / IKNP (goal k=4: >= 1)':44} {w:6.2f} {c:6.2f}")
    w, c = pair("SoftSpoken-k4-mal", "SoftSpoken-k4-sh")
    print(f"{'SoftSpoken k=4 malicious / semi-honest (<= 1.15)':44} {w:6.2f} {c:6.2f}")
    for name in WIDE:
        w, c = pair(f"{name} k256", name)
        print(f"{f'{name} kappa 256 / 128 (<= 2.2)':44} {w:6.2f} {c:6.2f}")
    if args.lan1g:
        lan = measure(protocols(128, ("IKNP", "SoftSpoken-k4-sh")), 1 << args.n, max(5, args.reps // 3), "LAN1G")
        w = statistics.median(x / y for x, y in zip(lan["IKNP"]["wall"], lan["SoftSpoken-k4-sh"]["wall"]))
        print(f"{'LAN1G rate SoftSpoken k=4 / IKNP (>= 3)':44} {w:6.2f}   (wall; {len(lan['IKNP']['wall'])} rounds)")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
