"""Payload PSI (one 32-byte payload column) vs plain PSI, same sets, same process, threads.

    PYTHONPATH=$PWD python tests/psi/bench_payload.py 16 20

Prints the best of ``--repeat`` wall times per size and the ratio (issue 16's goal: ≤ 1.3×).
"""

from __future__ import annotations

import argparse
import time

from pqmpc.net import run_pair
from pqmpc.psi import run_psi
from pqmpc.rng import Rng


def once(n: int, with_payload: bool):
    s = [b"user-%09d" % i for i in range(n)]
    r = [b"user-%09d" % i for i in range(n // 2, n + n // 2)]
    kw = {}
    skw = {"payload": [b"%032d" % i for i in range(n)]} if with_payload else {}
    rkw = {"peer_payload": True} if with_payload else {}
    t = time.perf_counter()
    rs, rr = run_pair(lambda ch: run_psi("sender", ch, s, Rng(b"s"), **skw, **kw),
                      lambda ch: run_psi("receiver", ch, r, Rng(b"r"), **rkw, **kw))
    dt = time.perf_counter() - t
    assert rr.intersection == n // 2 + (n % 2 == 0 and 0)
    if with_payload:
        assert len(rr.pairs) == rr.intersection
    return dt, rs.bytes_sent + rr.bytes_sent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("logn", type=int, nargs="+")
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    once(1 << 10, True)  # compile kernels
    for logn in a.logn:
        n = 1 << logn
        best = {False: (1e9, 0), True: (1e9, 0)}
        for _ in range(a.repeat):
            for p in (False, True):
                dt, nbytes = once(n, p)
                best[p] = (min(best[p][0], dt), nbytes)
        (tp, bp), (tq, bq) = best[False], best[True]
        print(f"2^{logn}: plain {tp:.3f} s ({8 * bp / n:.0f} bits/item), payload {tq:.3f} s "
              f"({8 * bq / n:.0f} bits/item), ratio {tq / tp:.2f}x")


if __name__ == "__main__":
    main()
