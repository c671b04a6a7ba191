"""SoftSpoken k = 4 over the unlimited memory channel against IKNP (issue 15).

    PYTHONPATH=. python bench/ss_rate.py [--reps 21] [--n 20]

One interleaved run of :func:`pqmpc.bench.suites.ot_ext_links.measure_link` (the rows of
``bench/malicious_ot.py``: one channel pair, caller arrays reused, the call order rotating per
round) over IKNP, SoftSpoken k = 4 semi-honest and malicious and k = 2 semi-honest, κ = 128,
2^n random OTs per call. Prints the two goal ratios with wall (median of the per-round
ratios) and CPU (busier party's median thread CPU) columns:

* rate SoftSpoken / IKNP = IKNP time / SoftSpoken time (goal ≥ 1, k = 4);
* SoftSpoken k = 4 malicious / semi-honest time (goal ≤ 1.15);

and the per-protocol medians they come from.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from pqmpc.bench.suites.ot_ext_links import measure_link, protocols

NAMES = ("IKNP", "SoftSpoken-k4-sh", "SoftSpoken-k4-mal", "SoftSpoken-k2-sh")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=21)
    ap.add_argument("--n", type=int, default=20, help="log2 of random OTs per call")
    args = ap.parse_args()
    t0 = time.perf_counter()
    load0 = os.getloadavg()[0]
    got = measure_link("memory", protocols(128, NAMES), 1 << args.n, args.reps)
    load1 = os.getloadavg()[0]

    def pair(a: str, b: str) -> tuple[float, float]:
        wall = statistics.median(x / y for x, y in zip(got[a]["wall"], got[b]["wall"]))
        return wall, statistics.median(got[a]["cpu"]) / statistics.median(got[b]["cpu"])

    print(f"memory channel, kappa 128, 2^{args.n} random OTs per call, {args.reps} interleaved rounds; "
          f"load {load0:.2f} -> {load1:.2f}")
    print(f"{'protocol':20} {'wall ms':>8} {'cpu ms':>7} {'bits/OT':>8}")
    for name in NAMES:
        g = got[name]
        print(f"{name:20} {1e3 * statistics.median(g['wall']):8.2f} {1e3 * statistics.median(g['cpu']):7.2f} "
              f"{8 * g['bytes'] / (1 << args.n):8.1f}")
    print(f"{'ratio':44} {'wall':>6} {'cpu':>6}")
    for k in (4, 2):
        w, c = pair("IKNP", f"SoftSpoken-k{k}-sh")
        print(f"{f'rate SoftSpoken k={k} / IKNP (goal k=4: >= 1)':44} {w:6.2f} {c:6.2f}")
    w, c = pair("SoftSpoken-k4-mal", "SoftSpoken-k4-sh")
    print(f"{'SoftSpoken k=4 malicious / semi-honest (<= 1.15)':44} {w:6.2f} {c:6.2f}")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
