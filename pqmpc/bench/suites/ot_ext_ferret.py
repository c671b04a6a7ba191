"""Ferret throughput: one full round and steady-state COT/s, beside raw AES-ECB of the same run.

Both parties run the same session: a first call of one COT (handshake, IKNP
bootstrap of the first round's base, the round's reserve), then one call of a
whole round's usable outputs (the "full round" figure), then ``reps`` more
such calls (the steady state: the median). Two layouts: threads over a memory
channel, and two processes over TCP loopback (the receiver, which finishes
last, reports its own timings). Bits per COT are the sender's wire bytes
(frame headers included) over the COTs delivered in the steady state.
``python -m pqmpc.bench.suites.ot_ext_ferret [--quick]`` prints the rows.
"""

from __future__ import annotations

import statistics
import sys
import time

from ...net import run_pair
from ...ot.ext.ferret import Ferret
from ...ot.ext.ferret_params import FERRET_B11, FERRET_B13, get_params
from ...rng import Rng
from ..timing import aes_ecb_baseline, tcp_child_party, with_tcp_child


def _party(role: str, ch, params, reps: int) -> dict:
    f = Ferret(params)
    call = f.send_random_correlated if role == "sender" else f.receive_random_correlated
    rng = Rng(f"bench/ferret/{role}".encode())
    t0 = time.perf_counter()
    call(ch, 1, rng=rng)
    setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    call(ch, params.usable)
    first = time.perf_counter() - t0
    s0 = ch.stats.snapshot()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        call(ch, params.usable)
        times.append(time.perf_counter() - t0)
    sent = ch.stats.since(s0).bytes_sent
    return {"setup_seconds": setup, "full_round_seconds": first, "steady_seconds": times, "bytes_sent": sent}


def _row(name, params, layout, r_send, r_recv, reps, aes) -> dict:
    # The receiver finishes a call last (it waits for the sender's corrections), so its clock is the one to quote.
    times = r_recv["steady_seconds"]
    med = statistics.median(times)
    cots = params.usable * reps
    rate = params.usable / med
    return {"name": name, "params": params.name, "layout": layout, "n": params.usable,
            "setup_seconds": r_recv["setup_seconds"], "full_round_seconds": r_recv["full_round_seconds"],
            "full_round_cot_per_s": params.usable / r_recv["full_round_seconds"],
            "seconds_min": min(times), "seconds_median": med, "seconds_max": max(times), "repeat": reps,
            "cot_per_s": rate, "bits_per_cot": 8 * r_send["bytes_sent"] / cots,
            "aes_ecb_blocks_per_s": aes, "ratio_to_aes_ecb": rate / aes, "goal": ">= 10 M COT/s, <= 0.5 bits/COT"}


def ferret_threads(params, reps: int) -> tuple[dict, dict]:
    return run_pair(lambda ch: _party("sender", ch, params, reps), lambda ch: _party("receiver", ch, params, reps),
                    timeout=1800)


def _tcp_child(port: int, name: str, reps: int) -> None:
    tcp_child_party(port, lambda ch: _party("receiver", ch, get_params(name), reps))


def ferret_tcp(params, reps: int) -> tuple[dict, dict]:
    call = f"from pqmpc.bench.suites.ot_ext_ferret import _tcp_child; _tcp_child({{port}}, {params.name!r}, {reps})"
    return with_tcp_child(call, lambda ch: _party("sender", ch, params, reps), "Ferret TCP benchmark",
                          timeout=1800)


def run(quick: bool = False) -> list[dict]:
    sets = [FERRET_B11] if quick else [FERRET_B13, FERRET_B11]
    reps = 2 if quick else 4
    out = []
    for params in sets:
        aes = aes_ecb_baseline(1 << 20, 3)["blocks_per_s"]
        s, r = ferret_threads(params, reps)
        aes = (aes + aes_ecb_baseline(1 << 20, 3)["blocks_per_s"]) / 2
        out.append(_row(f"ferret_{params.name}_threads", params, "memory/threads", s, r, reps, aes))
        aes = aes_ecb_baseline(1 << 20, 3)["blocks_per_s"]
        s, r = ferret_tcp(params, reps)
        aes = (aes + aes_ecb_baseline(1 << 20, 3)["blocks_per_s"]) / 2
        out.append(_row(f"ferret_{params.name}_tcp", params, "tcp/2 processes", s, r, reps, aes))
    return out


def _fmt(r: dict) -> str:
    return (f"{r['name']:<24} {r['cot_per_s'] / 1e6:6.1f} M COT/s steady (min {r['n'] / r['seconds_max'] / 1e6:.1f}, "
            f"max {r['n'] / r['seconds_min'] / 1e6:.1f})  {r['ratio_to_aes_ecb']:.4f}x AES-ECB "
            f"(AES {r['aes_ecb_blocks_per_s'] / 1e6:.0f} M/s)  {r['bits_per_cot']:.3f} bits/COT  "
            f"full round {r['full_round_seconds']:.2f} s ({r['full_round_cot_per_s'] / 1e6:.1f} M/s)  "
            f"setup {r['setup_seconds']:.2f} s")


if __name__ == "__main__":
    for row in run("--quick" in sys.argv):
        print(_fmt(row))
