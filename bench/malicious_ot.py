"""Random-OT rate of IKNP, KOS, SoftSpoken and Ferret over memory and shaped links (issue 15).

    PYTHONPATH=. python bench/malicious_ot.py [--n 20] [--reps 3] [--links memory,tcp,LAN1G,WAN100M] [--only NAMES]

Both parties run as two threads of one process (2 cores); each protocol sets up
its session once (base OTs not timed), then runs ``reps`` random-OT calls of
2^n OTs each; the median and the best time are reported with OTs per second,
bits per OT (all bytes both ways, frame headers included, divided by n) and
ratios to IKNP on the same link in the same run. On a loaded machine the best
of several runs is the steadier figure (other processes only ever add time),
and ``cpu_seconds`` (the busier party's thread CPU time, median) the steadiest
measure of the work itself. Ferret rows are at steady state (its bootstrap and
first round start run in the untimed warm-up call) and carry ``cpu_vs_sh``, the
malicious mode's CPU time over the semi-honest one's in the same run.
Prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from pqmpc.net import MemoryChannel, ShapedChannel, run_pair
from pqmpc.net.shaped import PRESETS
from pqmpc.ot.base.simplest import SimplestOT
from pqmpc.rng import Rng


def protocols():
    from pqmpc.ot.ext.ferret import Ferret
    from pqmpc.ot.ext.iknp import IKNP
    from pqmpc.ot.ext.kos import KOS

    out = {"IKNP": lambda: IKNP(SimplestOT()), "KOS": lambda: KOS(SimplestOT()),
           "Ferret": lambda: Ferret(base=IKNP(SimplestOT())),
           "Ferret-mal": lambda: Ferret(base=KOS(SimplestOT()), security="malicious")}
    try:
        from pqmpc.ot.ext.softspoken import SoftSpoken
    except ImportError:
        return out
    for k in (2, 4, 8):
        for sec in ("semi-honest", "malicious"):
            out[f"SoftSpoken-k{k}-{'mal' if sec == 'malicious' else 'sh'}"] = (
                lambda k=k, sec=sec: SoftSpoken(k=k, security=sec, base=SimplestOT()))
    return out


def tcp_pair():
    import threading

    from pqmpc.net import TcpChannel, TcpListener

    listener = TcpListener("127.0.0.1", 0)
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("a", listener.accept(60)))
    t.start()
    b = TcpChannel.connect("127.0.0.1", listener.port, timeout=60)
    t.join()
    listener.close()
    return box["a"], b


def channels(link: str):
    if link == "memory":
        return MemoryChannel.pair(timeout=300)
    if link == "tcp":  # kernel loopback: every byte is copied through the socket buffers
        return tcp_pair()
    return ShapedChannel.pair(PRESETS[link], timeout=300)


def measure(make, link: str, n: int, reps: int) -> dict:
    ot = make()
    choices = Rng(b"bench").bits(n)

    setup = getattr(type(ot), "setup", None)  # Ferret sets its session up on the first call

    def sender(ch):
        if setup is not None:
            ot.setup(ch, "sender", Rng(b"s"))
        ot.send_random(ch, n, **({} if setup else {"rng": Rng(b"s")}))  # warm the kernels and the allocator at full size
        times, before = [], ch.stats.snapshot()
        for _ in range(reps):
            t0, c0 = time.perf_counter(), time.thread_time()
            ot.send_random(ch, n)
            times.append((time.perf_counter() - t0, time.thread_time() - c0))
        return times, ch.stats.since(before)

    def receiver(ch):
        if setup is not None:
            ot.setup(ch, "receiver", Rng(b"r"))
        ot.receive_random(ch, choices, **({} if setup else {"rng": Rng(b"r")}))
        times, before = [], ch.stats.snapshot()
        for _ in range(reps):
            t0, c0 = time.perf_counter(), time.thread_time()
            ot.receive_random(ch, choices)
            times.append((time.perf_counter() - t0, time.thread_time() - c0))
        return times, ch.stats.since(before)

    (ts, ss), (tr, sr) = run_pair(sender, receiver, channels=channels(link), timeout=600)
    both = [max(a[0], b[0]) for a, b in zip(ts, tr)]
    med, best = statistics.median(both), min(both)
    cpu = statistics.median(max(a[1], b[1]) for a, b in zip(ts, tr))
    nbytes = (ss.bytes_sent + sr.bytes_sent) / reps
    return {"seconds": med, "best_seconds": best, "mots": n / med / 1e6, "best_mots": n / best / 1e6,
            "cpu_seconds": cpu, "bits_per_ot": 8 * nbytes / n}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20, help="log2 of OTs per call")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--links", default="memory,LAN1G,WAN100M")
    ap.add_argument("--only", default="", help="comma-separated protocol names")
    args = ap.parse_args(argv)
    n = 1 << args.n
    protos = protocols()
    if args.only:
        protos = {k: v for k, v in protos.items() if k in args.only.split(",")}
    for link in args.links.split(","):
        base = None
        ferret_sh = None
        for name, make in protos.items():
            r = measure(make, link, n, args.reps)
            if name == "IKNP":
                base = r
            if name == "Ferret":
                ferret_sh = r
            if name == "Ferret-mal" and ferret_sh is not None:
                r["cpu_vs_sh"] = r["cpu_seconds"] / ferret_sh["cpu_seconds"]
                r["rate_vs_sh"] = r["mots"] / ferret_sh["mots"]
            if base is not None:
                r["rate_vs_iknp"] = r["mots"] / base["mots"]
                r["best_rate_vs_iknp"] = r["best_mots"] / base["best_mots"]
                r["cpu_vs_iknp"] = r["cpu_seconds"] / base["cpu_seconds"]
            print(json.dumps({"link": link, "protocol": name, "n": n,
                              **{k: round(v, 4) for k, v in r.items()}}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
