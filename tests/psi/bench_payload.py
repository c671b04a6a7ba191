"""Payload PSI (one 32-byte payload column) vs plain PSI, same sets, same process, threads.

    PYTHONPATH=$PWD python tests/psi/bench_payload.py 16 20 --protocol rr22 kkrt --repeat 3 [--encoded]

Plain and payload runs alternate (A B A B) per protocol and size; prints the median and best
wall time of each and their ratios, the process CPU time (both parties) of each, and bits per
item (issue 16's goal: ≤ 1.3× at 2^20).
"""

from __future__ import annotations

import argparse
import statistics
import time

from pqmpc.net import run_pair
from pqmpc.psi import keys, run_protocol
from pqmpc.rng import Rng


def once(n: int, with_payload: bool, protocol: str, encoded: bool = False):
    s = [b"user-%09d" % i for i in range(n)]
    r = [b"user-%09d" % i for i in range(n // 2, n + n // 2)]
    pl = [b"%032d" % i for i in range(n)]
    if encoded:  # what the CLI passes: (data, offsets), so list conversion is not timed
        s, r, pl = keys.encode_items(s), keys.encode_items(r), keys.encode_items(pl)
    skw = {"payload": pl} if with_payload else {}
    rkw = {"peer_payload": True} if with_payload else {}
    t, c = time.perf_counter(), time.process_time()
    rs, rr = run_pair(lambda ch: run_protocol(protocol, "sender", ch, s, Rng(b"s"), **skw),
                      lambda ch: run_protocol(protocol, "receiver", ch, r, Rng(b"r"), **rkw))
    dt, cpu = time.perf_counter() - t, time.process_time() - c
    assert rr.intersection == n - n // 2
    if with_payload:
        assert len(rr.pairs) == rr.intersection
    return dt, cpu, rs.bytes_sent + rr.bytes_sent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("logn", type=int, nargs="+")
    ap.add_argument("--protocol", nargs="+", default=["rr22"], choices=["rr22", "kkrt"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--encoded", action="store_true", help="pass items and payloads pre-encoded (as the CLI does)")
    a = ap.parse_args()
    for protocol in a.protocol:
        once(1 << 10, True, protocol)  # compile kernels
        once(1 << 10, False, protocol)
    for logn in a.logn:
        n = 1 << logn
        for protocol in a.protocol:
            times = {False: [], True: []}
            cpus = {False: [], True: []}
            nbytes = {}
            for _ in range(a.repeat):
                for p in (False, True):
                    dt, cpu, nbytes[p] = once(n, p, protocol, a.encoded)
                    times[p].append(dt)
                    cpus[p].append(cpu)
            mp, mq = statistics.median(times[False]), statistics.median(times[True])
            bp, bq = min(times[False]), min(times[True])
            print(f"{protocol} 2^{logn}{' encoded' if a.encoded else ''}: plain median {mp:.3f} s (best {bp:.3f}, {8 * nbytes[False] / n:.0f} bits/item), "
                  f"payload median {mq:.3f} s (best {bq:.3f}, {8 * nbytes[True] / n:.0f} bits/item); "
                  f"ratio median {mq / mp:.2f}x, best {bq / bp:.2f}x; process CPU median "
                  f"{statistics.median(cpus[False]):.3f} / {statistics.median(cpus[True]):.3f} s = "
                  f"{statistics.median(cpus[True]) / statistics.median(cpus[False]):.2f}x; "
                  f"wall pairs {[(round(x, 3), round(y, 3)) for x, y in zip(times[False], times[True])]}", flush=True)


if __name__ == "__main__":
    main()
