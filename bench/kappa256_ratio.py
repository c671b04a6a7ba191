"""κ = 256 over κ = 128 random OT cost (issue 15, goal c), IKNP and KOS, one interleaved run.

    PYTHONPATH=. python bench/kappa256_ratio.py [--reps 9] [--log-n 20]

Both parties in one process over a memory channel; every round calls each
(protocol, κ, out= / allocating) case once in turn, so load drifts hit all cases
alike. Per call: the busier party's thread CPU and the wall time (later entry to
later exit). Prints medians and the κ = 256 / κ = 128 ratios (target ≤ 2.2).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from pqmpc.net import MemoryChannel, run_pair
from pqmpc.ot.ext.iknp import IKNP
from pqmpc.ot.ext.kos import KOS
from pqmpc.rng import Rng


def _cases():
    out = {}
    for name, cls in (("IKNP", IKNP), ("KOS", KOS)):
        for kappa in (128, 256):
            for mode in ("out", "alloc"):
                out[name, kappa, mode] = lambda cls=cls, kappa=kappa: cls(kappa=kappa)
    return out


def measure(n: int, reps: int) -> dict:
    makers = _cases()
    ots = {key: make() for key, make in makers.items()}
    choices = Rng(b"bench/k256/choices").bits(n)

    def party(role: str):
        def body(ch):
            rng = Rng(f"bench/k256/{role}".encode())
            bufs = {}
            for key, ot in ots.items():
                w = ot.block_bytes
                if role == "sender":
                    bufs[key] = (np.empty((n, w), np.uint8), np.empty((n, w), np.uint8))
                else:
                    bufs[key] = np.empty((n, w), np.uint8)
            for key, ot in ots.items():  # warm-up: base OTs, kernels compiled, pages touched
                r = rng.fork(repr(key))
                o = bufs[key] if key[2] == "out" else None
                ot.send_random(ch, n, rng=r, out=o) if role == "sender" else ot.receive_random(ch, choices, rng=r, out=o)
            res = {key: {"span": [], "cpu": []} for key in ots}
            for _ in range(reps):
                for key, ot in ots.items():
                    o = bufs[key] if key[2] == "out" else None
                    t0, c0 = time.perf_counter(), time.thread_time()
                    if role == "sender":
                        ot.send_random(ch, n, out=o)
                    else:
                        ot.receive_random(ch, choices, out=o)
                    res[key]["span"].append((t0, time.perf_counter()))
                    res[key]["cpu"].append(time.thread_time() - c0)
            return res
        return body

    s, r = run_pair(party("sender"), party("receiver"), channels=MemoryChannel.pair(timeout=600), timeout=3600)
    return {key: {"wall": statistics.median(max(a[1], b[1]) - max(a[0], b[0])
                                            for a, b in zip(s[key]["span"], r[key]["span"])),
                  "cpu": statistics.median(max(a, b) for a, b in zip(s[key]["cpu"], r[key]["cpu"])),
                  "cpu_s": statistics.median(s[key]["cpu"]), "cpu_r": statistics.median(r[key]["cpu"])}
            for key in ots}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--log-n", type=int, default=20)
    args = ap.parse_args(argv)
    n = 1 << args.log_n
    got = measure(n, args.reps)
    print(f"2^{args.log_n} random OTs, {args.reps} interleaved rounds, memory channel, load {os.getloadavg()[0]:.2f}")
    print(f"{'case':22} {'cpu ms':>8} {'snd ms':>8} {'rcv ms':>8} {'wall ms':>8}")
    for key, g in got.items():
        print(f"{' '.join(map(str, key)):22} {1e3 * g['cpu']:8.2f} {1e3 * g['cpu_s']:8.2f} "
              f"{1e3 * g['cpu_r']:8.2f} {1e3 * g['wall']:8.2f}")
    print("kappa 256 / kappa 128 (target <= 2.2):")
    for name in ("IKNP", "KOS"):
        for mode in ("out", "alloc"):
            a, b = got[name, 256, mode], got[name, 128, mode]
            print(f"  {name:5} {mode:6} cpu {a['cpu'] / b['cpu']:5.2f}  wall {a['wall'] / b['wall']:5.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
