"""OT extension throughput (IKNP κ = 128 and 256) next to raw AES-ECB of the same run.

Each figure is the steady state of one session: base OTs once (timed
separately as ``*_setup``), then the same extend call repeated; a call's time
is the later of the two parties' (each call starts with a header exchange,
so the parties are in step). Two transports: both parties as threads of this
process over a memory channel, and two processes over TCP loopback. κ = 128
and κ = 256 are timed alternately so that load swings on a shared machine hit
both alike and their ratio stays meaningful. The rows of ``ot_ext_ferret``
(Ferret) and ``ot_ext_links`` (IKNP, KOS, SoftSpoken k = 2/4/8 and Ferret in
both modes, κ = 128 and 256, over memory and shaped links, with malicious
overhead and bits per OT; PSI over the same links) are appended.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
import time

import numpy as np

from ...net import MemoryChannel, run_pair
from ...rng import Rng
from ..timing import aes_ecb_baseline, tcp_child_party, with_tcp_child


def _make(kappa: int, base: str):
    from ...ot.ext.iknp import IKNP

    if base == "simplest":
        from ...ot.base.simplest import SimplestOT

        return IKNP(SimplestOT(kappa // 8), kappa)
    return IKNP(kappa=kappa)


def _party(ot, role: str, ch, n: int, reps: int, op: str) -> dict:
    """Set up, then ``reps`` timed calls; returns setup seconds, per-call seconds, bytes."""
    t0 = time.perf_counter()
    ot.setup(ch, role, Rng(b"bench/ot_ext/" + role.encode()))
    setup = time.perf_counter() - t0
    before = ch.stats.snapshot()
    choices = Rng(b"bench/ot_ext/choices").bits(n)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        if role == "sender":
            ot.send_random(ch, n) if op == "random" else ot.send_correlated(ch, n)
        else:
            ot.receive_random(ch, choices) if op == "random" else ot.receive_correlated(ch, choices)
        times.append(time.perf_counter() - t)
    wire = ch.stats.since(before)
    return {"setup": setup, "times": times, "bytes": wire.bytes_sent + wire.bytes_received}


def iknp_threads(kappa: int, n: int, reps: int, op: str = "random", base: str = "kyber") -> dict:
    ot = _make(kappa, base)
    s, r = run_pair(lambda ch: _party(ot, "sender", ch, n, reps, op),
                    lambda ch: _party(ot, "receiver", ch, n, reps, op), timeout=3600,
                    channels=MemoryChannel.pair(timeout=600))
    return _summary(s, r, n, reps)


def _summary(s: dict, r: dict, n: int, reps: int) -> dict:
    per_call = [max(a, b) for a, b in zip(s["times"], r["times"])]
    return {"setup_seconds": max(s["setup"], r["setup"]), "times": per_call, "bytes_per_ot": s["bytes"] / (reps * n)}


def _tcp_child(port: int, kappa: int, n: int, reps: int, op: str, base: str) -> None:
    tcp_child_party(port, lambda ch: _party(_make(kappa, base), "receiver", ch, n, reps, op))


def iknp_tcp(kappa: int, n: int, reps: int, op: str = "random", base: str = "kyber") -> dict:
    """Receiver in a child process, sender here, over TCP on 127.0.0.1."""
    call = (f"from pqmpc.bench.suites.ot_ext import _tcp_child; "
            f"_tcp_child({{port}}, {kappa}, {n}, {reps}, {op!r}, {base!r})")
    s, r = with_tcp_child(call, lambda ch: _party(_make(kappa, base), "sender", ch, n, reps, op), "IKNP TCP benchmark")
    return _summary(s, r, n, reps)


def _with_baseline(fn):
    """Run ``fn()`` between two short AES-ECB measurements; on a shared machine
    the load changes within seconds, so each figure gets its own baseline."""
    # ~50 ms of AES on each side, long enough to feel the same contention as the OTs
    a = aes_ecb_baseline(1 << 22, 5)["blocks_per_s"]
    res = fn()
    b = aes_ecb_baseline(1 << 22, 5)["blocks_per_s"]
    res["aes_blocks_per_s"] = (a + b) / 2
    return res


def _entry(name, res, n, kappa, transport, op):
    times = res["times"][1:] or res["times"]  # the first call pays one-off costs (kernel loads, fresh pages)
    med = statistics.median(times)
    per_s = n / med
    return {"name": name, "n": n, "kappa": kappa, "transport": transport, "op": op,
            "seconds_min": min(times), "seconds_median": med, "seconds_max": max(times), "repeat": len(times),
            "ot_per_s": per_s, "bytes_per_ot": res["bytes_per_ot"], "aes_ecb_blocks_per_s": res["aes_blocks_per_s"],
            "ratio_to_aes_ecb": per_s / res["aes_blocks_per_s"], "setup_seconds": res["setup_seconds"]}


def run(quick: bool = False) -> list[dict]:
    sizes = [1 << 18] if quick else [1 << 20, 1 << 24]
    out: list[dict] = [aes_ecb_baseline(1 << 20, 3 if quick else 7)]
    for n in sizes:
        r = 3 if quick else (5 if n <= 1 << 20 else 3)
        got = {128: [], 256: []}
        # alternate κ so that both see the same machine load
        for _ in range(2):
            for kappa in (128, 256):
                got[kappa].append(_with_baseline(lambda: iknp_threads(kappa, n, r)))
        pair = {}
        for kappa in (128, 256):
            merged = {"setup_seconds": min(g["setup_seconds"] for g in got[kappa]),
                      "times": [0.0] + [t for g in got[kappa] for t in g["times"][1:]],  # _entry drops the first
                      "bytes_per_ot": got[kappa][0]["bytes_per_ot"],
                      "aes_blocks_per_s": statistics.mean(g["aes_blocks_per_s"] for g in got[kappa])}
            e = _entry(f"iknp{kappa}_random_ot_threads", merged, n, kappa, "memory/threads", "random")
            out.append(e)
            pair[kappa] = e
        out.append({"name": "iknp256_over_iknp128_time", "n": n,
                    "ratio": pair[256]["seconds_median"] / pair[128]["seconds_median"],
                    "ratio_aes_normalised": pair[128]["ratio_to_aes_ecb"] / pair[256]["ratio_to_aes_ecb"],
                    "goal": "<= 2.2"})
        for kappa in (128, 256):
            out.append(_entry(f"iknp{kappa}_random_ot_tcp", _with_baseline(lambda: iknp_tcp(kappa, n, r)), n, kappa,
                              "tcp/2 processes", "random"))
        out.append(_entry("iknp128_correlated_ot_threads", _with_baseline(lambda: iknp_threads(128, n, r, "correlated")),
                          n, 128, "memory/threads", "correlated"))
    for kappa in (128, 256):
        out.append({"name": f"iknp{kappa}_setup_kyber_base_ots", "n": kappa,
                    "seconds_median": statistics.median(iknp_threads(kappa, 128, 1)["setup_seconds"] for _ in range(3))})
    if importlib.util.find_spec(__package__ + ".ot_ext_ferret") is not None:
        from . import ot_ext_ferret

        out.extend(ot_ext_ferret.run(quick))
    if importlib.util.find_spec(__package__ + ".ot_ext_links") is not None:
        # every extension in both modes over memory and shaped links, κ = 128 and 256, and PSI shaped
        from . import ot_ext_links

        out.extend(ot_ext_links.run(quick))
    return out


def _fmt(rows) -> str:
    lines = []
    for r in rows:
        if "ot_per_s" in r:
            lines.append(f"{r['name']:<36} n=2^{int(np.log2(r['n']))}  {r['ot_per_s'] / 1e6:7.1f} M OT/s  "
                         f"{r['bytes_per_ot']:.2f} B/OT  {r['ratio_to_aes_ecb']:.3f}x AES-ECB  "
                         f"(AES {r['aes_ecb_blocks_per_s'] / 1e6:.0f} M/s)  setup {r['setup_seconds'] * 1e3:.0f} ms")
        else:
            lines.append(json.dumps(r, default=float))
    return "\n".join(lines)


if __name__ == "__main__":
    print(_fmt(run(quick="--quick" in sys.argv)))
