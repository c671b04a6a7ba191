"""Issue 16's payload goal: RR22 payload PSI with one 32-byte payload column vs plain RR22 PSI.

    PYTHONPATH=$PWD python bench/payload_psi.py [--logn 20] [--rounds 5] [--tcp | --both]

Same sets in one process (both parties on threads, ``run_pair``), items and payloads
pre-encoded as the CLI passes them, plain and payload runs interleaved (A B, B A, ...) after one
uncounted full-size pair (kernels compiled or loaded, the first large page faults taken).
Prints each pair, then the median of the per-pair ratios of wall time and of process CPU
time (both parties, user+sys, every thread; user alone too, as page faults count as sys),
the system time and minor page faults (``ru_minflt``) of each run, and the traffic in bits per item of both.
``--tcp``: the two threads talk over a loopback TCP connection, as the command line's two processes
do, instead of an in-memory pair (which copies every message into a fresh buffer: 67 MB of fresh
pages for the payload list at 2^20, a cost no socket transport has).
``--both``: the memory channel, then loopback TCP, in one run (the goal asks for both), and one
summary line per channel at the end.
Goal: payload ≤ 1.3× plain at 2^20.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

from pqmpc.net import run_pair
from pqmpc.psi import keys, run_protocol
from pqmpc.rng import Rng


def sets(n: int):
    s = keys.encode_items([b"user-%09d" % i for i in range(n)])
    r = keys.encode_items([b"user-%09d" % i for i in range(n // 2, n + n // 2)])
    pl = keys.encode_items([b"%032d" % i for i in range(n)])  # one 32-byte payload column
    return s, r, pl


def tcp_pair():
    """Both ends of one loopback TCP connection."""
    import threading

    from pqmpc.net import TcpChannel, TcpListener

    with TcpListener("127.0.0.1", 0) as lst:
        port = lst.port
        got = {}
        t = threading.Thread(target=lambda: got.setdefault("a", lst.accept(timeout=30)))
        t.start()
        b = TcpChannel.connect("127.0.0.1", port, timeout=30)
        t.join()
    return got["a"], b


def once(n: int, data, with_payload: bool, tcp: bool = False):
    s, r, pl = data
    skw = {"payload": pl, "payload_width": 32} if with_payload else {}
    rkw = {"peer_payload": True, "payload_width": 32} if with_payload else {}
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t, c = time.perf_counter(), time.process_time()
    rs, rr = run_pair(lambda ch: run_protocol("rr22", "sender", ch, s, Rng(b"s"), **skw),
                      lambda ch: run_protocol("rr22", "receiver", ch, r, Rng(b"r"), **rkw),
                      channels=tcp_pair() if tcp else None)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    if rr.intersection != n - n // 2 or (with_payload and len(rr.pairs) != rr.intersection):
        raise SystemExit("wrong intersection")
    return (wall, cpu, 8 * (rs.bytes_sent + rr.bytes_sent) / n, r1.ru_utime - r0.ru_utime,
            r1.ru_stime - r0.ru_stime, r1.ru_minflt - r0.ru_minflt)


def measure(n: int, data, logn: int, rounds: int, tcp: bool) -> str:
    """Warm-up pair, then ``rounds`` interleaved pairs on one channel kind; prints them, returns the summary."""
    # One uncounted pair at full size: kernels compiled or loaded, and the process's first large
    # allocations (page faults, which would land on whichever side runs first) behind us.
    once(n, data, False, tcp)
    once(n, data, True, tcp)
    kind = "TCP loopback" if tcp else "memory channel"
    print(f"RR22 2^{logn} x 2^{logn}, one 32-byte payload column, {kind}; load {os.getloadavg()[0]:.2f}", flush=True)
    rows = []
    for i in range(rounds):
        if i % 2:  # A B B A ...: neither side always runs first
            q = once(n, data, True, tcp)
            p = once(n, data, False, tcp)
        else:
            p = once(n, data, False, tcp)
            q = once(n, data, True, tcp)
        rows.append((p, q))
        print(f"  round {i + 1}: plain {p[0]:.3f} s wall, {p[1]:.3f} s CPU ({p[3]:.3f} user) | payload {q[0]:.3f} s "
              f"wall, {q[1]:.3f} s CPU ({q[3]:.3f} user) | ratio wall {q[0] / p[0]:.2f}x, CPU {q[1] / p[1]:.2f}x, "
              f"user {q[3] / p[3]:.2f}x | sys {p[4]:.3f} / {q[4]:.3f} s, minor faults {p[5]} / {q[5]}", flush=True)
    wall = statistics.median(q[0] / p[0] for p, q in rows)
    cpu = statistics.median(q[1] / p[1] for p, q in rows)
    user = statistics.median(q[3] / p[3] for p, q in rows)
    print(f"median plain {statistics.median(p[0] for p, _ in rows):.3f} s, payload "
          f"{statistics.median(q[0] for _, q in rows):.3f} s wall")
    print(f"median sys plain {statistics.median(p[4] for p, _ in rows):.3f} s, payload "
          f"{statistics.median(q[4] for _, q in rows):.3f} s; median minor faults plain "
          f"{statistics.median(p[5] for p, _ in rows):.0f}, payload {statistics.median(q[5] for _, q in rows):.0f}")
    summary = f"wall {wall:.2f}x, CPU {cpu:.2f}x (user CPU {user:.2f}x; goal <= 1.3x)"
    print(f"median ratio payload/plain: {summary}")
    print(f"bits/item: plain {rows[0][0][2]:.0f}, payload {rows[0][1][2]:.0f}; load {os.getloadavg()[0]:.2f}",
          flush=True)
    return f"{kind}: {summary}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--logn", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tcp", action="store_true", help="loopback TCP between the threads (as the CLI runs)")
    ap.add_argument("--both", action="store_true", help="the memory channel, then loopback TCP")
    a = ap.parse_args()
    n = 1 << a.logn
    data = sets(n)
    kinds = [False, True] if a.both else [a.tcp]
    summaries = [measure(n, data, a.logn, a.rounds, tcp) for tcp in kinds]
    if a.both:
        print("summary (median per-pair ratio payload/plain):")
        for line in summaries:
            print(f"  {line}")


if __name__ == "__main__":
    main()
