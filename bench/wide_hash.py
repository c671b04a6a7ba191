"""The κ = 256 wide TCCR hash alone: rows per second of its two zmm kernels, optionally A/B against another tree.

    PYTHONPATH=. python bench/wide_hash.py [--log-n 20] [--reps 15]
    PYTHONPATH=. python bench/wide_hash.py --against OTHER_TREE [--rounds 7]

Kernels, called directly (no Python wrapper per chunk): ``aes_unrolled.tccr_wide_zmm_loop`` (the
wide hash of ``(n, 32)`` rows behind ``hashing.tccr_wide``: IKNP's and the receivers' hash) and
``tccr_wide_zmm.wide_pair_loop`` (the sender's pair ``H(q)``, ``H(q ⊕ Δ)``), both on caller arrays
reused across calls, n rows in tile-sized chunks as SoftSpoken's row kernels call them. Per kernel: the
median over ``--reps`` calls of wall and thread CPU time, as ns per row.

With ``--against``, the same measurement runs in child processes alternating between this tree and
``OTHER_TREE`` (each as ``PYTHONPATH``), A B A B, and it prints per kernel the median of the
per-round ratios this / other (below 1: this tree is faster) with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from numba import njit

KERNELS = ("tccr_wide", "wide_pair")
#: rows per kernel call: a tile, as SoftSpoken's row kernels hash them
CHUNK = 4096


def measure(n: int, reps: int) -> dict:
    """``{kernel: {"wall": ns/row, "cpu": ns/row}}``, medians over ``reps`` passes of ``n`` rows."""
    from pqmpc.primitives.tccr_wide_zmm import HAVE_WIDE_ZMM

    if not HAVE_WIDE_ZMM:
        raise SystemExit("no AVX-512 VAES here: the zmm wide kernels do not run")
    from pqmpc.primitives.aes_unrolled import tccr_wide_zmm_loop
    from pqmpc.primitives.tccr_wide_zmm import wide_pair_loop
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (n, 4), dtype=np.uint64)
    delta = rng.integers(0, 256, 32, dtype=np.uint8).view(np.uint64)
    tw = np.arange(n, dtype=np.uint64)
    m0, m1 = np.empty_like(x), np.empty_like(x)
    tag = np.uint64(7)

    # the chunk loops compiled too, as the OT extensions' tile loops call the kernels
    @njit(nogil=True)
    def wide_chunks(x, tw, m0, tag):
        for a in range(0, x.shape[0], CHUNK):
            tccr_wide_zmm_loop(x[a:a + CHUNK], tw[a:a + CHUNK], m0[a:a + CHUNK], tag)

    @njit(nogil=True)
    def pair_chunks(x, delta, tw, tag, m0, m1):
        for a in range(0, x.shape[0], CHUNK):
            wide_pair_loop(x[a:a + CHUNK], delta, tw[a:a + CHUNK], tag, m0[a:a + CHUNK], m1[a:a + CHUNK])

    def run(kernel):
        if kernel == "tccr_wide":
            wide_chunks(x, tw, m0, tag)
        else:
            pair_chunks(x, delta, tw, tag, m0, m1)

    for k in KERNELS:  # compile / load from cache, touch the pages
        run(k)
    got = {k: {"wall": [], "cpu": []} for k in KERNELS}
    for _ in range(reps):
        for k in KERNELS:
            t0, c0 = time.perf_counter(), time.thread_time()
            run(k)
            got[k]["wall"].append(time.perf_counter() - t0)
            got[k]["cpu"].append(time.thread_time() - c0)
    return {k: {m: 1e9 * statistics.median(v) / n for m, v in g.items()} for k, g in got.items()}


def _child(tree: str, n: int, reps: int) -> dict:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--json", "--log-n", str(n.bit_length() - 1),
                          "--reps", str(reps)], env=env, cwd=os.path.abspath(tree), check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log-n", type=int, default=20)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--against", help="another source tree to compare with, A B A B in child processes")
    ap.add_argument("--rounds", type=int, default=7, help="with --against: child runs of each tree")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    n = 1 << args.log_n
    if args.json:
        print(json.dumps(measure(n, args.reps)))
        return 0
    if not args.against:
        got = measure(n, args.reps)
        print(f"2^{args.log_n} rows, {args.reps} reps, load {os.getloadavg()[0]:.2f}")
        for k, g in got.items():
            print(f"  {k:10} wall {g['wall']:6.2f} ns/row  cpu {g['cpu']:6.2f} ns/row  ({1e3 / g['wall']:.0f} M rows/s)")
        return 0
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    trees = {"this": here, "other": args.against}
    runs = {t: [] for t in trees}
    load = []
    for _ in range(args.rounds):
        for t, path in trees.items():
            runs[t].append(_child(path, n, args.reps))
        load.append(os.getloadavg()[0])
    print(f"2^{args.log_n} rows, {args.rounds} rounds x {args.reps} reps, this = {here}, other = {args.against}, "
          f"load {min(load):.2f}-{max(load):.2f}")
    for k in KERNELS:
        for m in ("wall", "cpu"):
            a = statistics.median(r[k][m] for r in runs["this"])
            b = statistics.median(r[k][m] for r in runs["other"])
            ratio = statistics.median(x[k][m] / y[k][m] for x, y in zip(runs["this"], runs["other"]))
            print(f"  {k:10} {m:4}  this {a:6.2f}  other {b:6.2f} ns/row  this/other {ratio:5.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
