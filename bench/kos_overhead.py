"""Where KOS's overhead over IKNP goes, per party (issue 15, goal a): four variants in one process.

    PYTHONPATH=. python bench/kos_overhead.py [--kappa 128] [--reps 31] [--n 20]

Random OT of 2^n per call over the memory channel into caller arrays (as the goal command), the
variants interleaved round by round (rotating order), per-party thread CPU (median) and the
busier party's CPU and the wall time as ratios to IKNP in the same run:

* ``IKNP``: the semi-honest baseline.
* ``KOS``: the real protocol.
* ``KOS-nocheck``: KOS with the receiver's check pass skipped (it sends zeros) and the sender's
  verdict ignored: everything else unchanged (coins, κ + 64 pad rows, the sender's fused sum,
  the receiver's rows kept in a session scratch and hashed from there into the output).
* ``KOS-inplace``: KOS-nocheck with the receiver's rows made in one ``(n + pad)``-row array and
  hashed in place, as IKNP makes them: no second ``n``-row array written.

The two ablations are NOT secure protocols (no check); they exist only here, to split the
receiver's overhead into the check pass (KOS − KOS-nocheck), the second array of rows the check
needs (KOS-nocheck − KOS-inplace) and the rest (KOS-inplace − IKNP: coins, pad rows, per-call
work). Prints one line per variant.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import numpy as np

from pqmpc.net import MemoryChannel, run_pair
from pqmpc.ot.ext import check, cot
from pqmpc.ot.ext import kos as kos_mod
from pqmpc.ot.ext.iknp import IKNP
from pqmpc.ot.ext.kos import KOS
from pqmpc.rng import Rng

_state = threading.local()  # per party thread: the variant running now


def _install_ablations() -> None:
    """Skip the check on both sides while a thread runs an ablation variant (bench only)."""
    sums, verify = check.Challenges.receiver_sums, kos_mod.check.verify_sums

    def receiver_sums(self, t, r):
        if getattr(_state, "nocheck", False):
            return np.zeros(2 * self.width, dtype=np.uint8)
        return sums(self, t, r)

    def verify_sums(*args):
        if not getattr(_state, "nocheck", False):
            verify(*args)

    check.Challenges.receiver_sums = receiver_sums
    kos_mod.check.verify_sums = verify_sums


class _InPlaceKOS(KOS):
    """KOS whose receiver makes its rows in one array and hashes them there (no check: bench only)."""

    def receive_random(self, ch, choices, rng=None, *, out=None):
        n = choices.shape[0]
        sess = self._get(ch, "receiver", rng)
        rows = sess.scratch_rows(n + self.pad)

        def hash_chunk(start, t):
            cot.hash_rows(t, sess.ots + start, out=t, tag=self.hash_tag)

        self._receiver_extend(ch, sess, choices, "random", hash_chunk, rows)
        self._finish(sess, n)
        return out


def measure(kappa: int, n: int, reps: int) -> dict:
    ots = {"IKNP": IKNP(kappa=kappa), "KOS": KOS(kappa=kappa), "KOS-nocheck": KOS(kappa=kappa),
           "KOS-inplace": _InPlaceKOS(kappa=kappa)}
    ablated = {"KOS-nocheck", "KOS-inplace"}
    choices = Rng(b"bench/kos_overhead/choices").bits(n)
    w = ots["IKNP"].block_bytes

    def party(role):
        def body(ch):
            rng = Rng(f"bench/kos_overhead/{role}".encode())
            for name, ot in ots.items():  # warm-up: base OTs, kernels, pages
                _state.nocheck = name in ablated
                ot.setup(ch, role, rng.fork(name))
                ot.send_random(ch, n) if role == "sender" else ot.receive_random(ch, choices)
            outs = {name: ((np.empty((n, w), np.uint8), np.empty((n, w), np.uint8)) if role == "sender"
                           else np.empty((n, w), np.uint8)) for name in ots}
            res = {name: {"cpu": [], "span": []} for name in ots}
            names = list(ots)
            for rep in range(reps):
                for name in names[rep % len(names):] + names[:rep % len(names)]:
                    _state.nocheck = name in ablated
                    ot, o = ots[name], outs[name]
                    t0, c0 = time.perf_counter(), time.thread_time()
                    ot.send_random(ch, n, out=o) if role == "sender" else ot.receive_random(ch, choices, out=o)
                    res[name]["cpu"].append(time.thread_time() - c0)
                    res[name]["span"].append((t0, time.perf_counter()))
            return res
        return body

    s, r = run_pair(party("sender"), party("receiver"), channels=MemoryChannel.pair(timeout=600), timeout=3600)
    return {name: {"sender": s[name]["cpu"], "receiver": r[name]["cpu"],
                   "busier": [max(a, b) for a, b in zip(s[name]["cpu"], r[name]["cpu"])],
                   "wall": [max(a[1], b[1]) - max(a[0], b[0]) for a, b in zip(s[name]["span"], r[name]["span"])]}
            for name in ots}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kappa", type=int, default=128, choices=(128, 256))
    ap.add_argument("--reps", type=int, default=31)
    ap.add_argument("--n", type=int, default=20, help="log2 of OTs per call")
    args = ap.parse_args(argv)
    _install_ablations()
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    got = measure(args.kappa, 1 << args.n, args.reps)
    med = lambda xs: 1e3 * statistics.median(xs)  # noqa: E731
    base = got["IKNP"]
    print(f"kappa {args.kappa}, 2^{args.n} random OTs per call, {args.reps} rounds, load {load}; "
          "ms per call (thread CPU medians), ratios to IKNP in the same run")
    print(f"{'variant':12} {'sender':>7} {'receiver':>8} {'busier':>7} {'wall':>7}   {'cpu/IKNP':>8} {'wall/IKNP':>9}")
    for name, g in got.items():
        wall = statistics.median(a / b for a, b in zip(g["wall"], base["wall"]))
        print(f"{name:12} {med(g['sender']):7.2f} {med(g['receiver']):8.2f} {med(g['busier']):7.2f} "
              f"{med(g['wall']):7.2f}   {med(g['busier']) / med(base['busier']):8.3f} {wall:9.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
