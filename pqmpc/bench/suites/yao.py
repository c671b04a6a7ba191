"""Yao 2PC end to end: AES-128 (one block, and many blocks in one run), 64-bit
millionaires, and a circuit of more than 10^6 AND gates.

Every figure is one complete run — handshake, ML-KEM base OTs, IKNP, garbler
labels, garbled tables, output — with both parties as two processes over TCP on
127.0.0.1 (``transport="tcp"``), and for the smaller cases also as two threads over
a memory channel (``"threads"``; one GIL, so garbling and evaluation do not
overlap). AES-128 batches also run over shaped links (``LAN10G``, ``LAN1G``,
``WAN100M`` of :mod:`pqmpc.net.shaped`) with both garbling schemes, half-gates and
three-halves, for the bandwidth trade-off of issue 18. A fresh OT session per run: nothing is amortized across runs. The first
run is a warm-up (numba kernels, circuit schedule) and not counted.

``yao_first_call_aes128[_prepared]``: one AES-128 block in two fresh processes, protocol
time with and without :func:`pqmpc.twopc.prepare` before connecting
(:mod:`pqmpc.bench.suites.yao_first`).

Reported: seconds (min/median/max), bytes both ways, bytes per AND, the split of
the garbler's time between OT, garbling and sending and of the evaluator's between
OT, evaluation and waiting for tables, the amortized time per AES block, and
``ratio_to_aes_ecb`` = garbled AND gates per second ÷ raw AES-ECB blocks per second
measured in the same run (half-gates costs 8 AES calls per garbled AND, so 0.125
would be the AES-bound ceiling for the garbler alone).
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from ...gc import aes128 as aes_circuit
from ...gc.random_circuit import random_circuit
from ...net import MemoryChannel, run_pair
from ...net.shaped import LAN1G, LAN10G, WAN100M, ShapedChannel
from ...rng import Rng
from ...twopc.functions import less_than_circuit
from ...twopc.yao import yao_evaluator, yao_garbler
from ..timing import aes_ecb_baseline, tcp_child_party, with_tcp_child


def _case(name: str, quick: bool):
    """(circuit, garbler inputs, evaluator inputs) of a named benchmark case, deterministic."""
    rng = Rng(b"bench/yao/" + name.encode())
    if name.startswith("aes128_x"):
        n = int(name[len("aes128_x"):])
        c = aes_circuit.aes128_expanded_circuit()
        return c, [aes_circuit.expand_key_bits(rng.bytes(16))], [aes_circuit.block_to_bits(rng.bytes(16 * n))]
    if name == "millionaires64":
        c = less_than_circuit(64)
        return c, [rng.bits(64)], [rng.bits(64)]
    if name == "random_1M_and":
        c = random_circuit([1024, 1024], 2_100_000, 128, seed=7, p_and=0.5, p_unary=0.05, window=1 << 16)
        return c, [rng.bits(1024)], [rng.bits(1024)]
    raise ValueError(name)


def _one_run(role: str, ch, c, ins, scheme: str = "halfgates") -> dict:
    info: dict = {}
    f = yao_garbler if role == "garbler" else yao_evaluator
    t0 = time.perf_counter()
    out = f(ch, c, ins, info=info, scheme=scheme)
    info["wall"] = time.perf_counter() - t0
    info["out0"] = np.asarray(out[0]).reshape(-1)[:64].tolist()
    return info


def _party(role: str, ch, name: str, quick: bool, runs: int, scheme: str = "halfgates") -> list[dict]:
    c, g_in, e_in = _case(name, quick)
    ins = g_in if role == "garbler" else e_in
    res = []
    for _ in range(runs):
        # the garbler times from its side; the evaluator's start marks both ready
        res.append(_one_run(role, ch, c, ins, scheme))
    return res


def _tcp_child(port: int, name: str, quick: bool, runs: int) -> None:
    tcp_child_party(port, lambda ch: _party("evaluator", ch, name, quick, runs))


def _tcp(name: str, quick: bool, runs: int):
    call = f"from pqmpc.bench.suites.yao import _tcp_child; _tcp_child({{port}}, {name!r}, {quick}, {runs})"
    return with_tcp_child(call, lambda ch: _party("garbler", ch, name, quick, runs), "Yao TCP benchmark")


def _threads(name: str, quick: bool, runs: int):
    return run_pair(lambda ch: _party("garbler", ch, name, quick, runs),
                    lambda ch: _party("evaluator", ch, name, quick, runs), timeout=3600,
                    channels=MemoryChannel.pair(timeout=600))


def _shaped(name: str, quick: bool, runs: int, link, scheme: str):
    """Both parties as threads over an in-memory link with ``link``'s bandwidth and latency."""
    return run_pair(lambda ch: _party("garbler", ch, name, quick, runs, scheme),
                    lambda ch: _party("evaluator", ch, name, quick, runs, scheme), timeout=3600,
                    channels=ShapedChannel.pair(link, timeout=600))


def shaped_links(quick: bool = False) -> list[dict]:
    """Yao AES-128 batches with half-gates and three-halves tables over shaped links (LAN
    10 Gbit/s, 1 Gbit/s, WAN 100 Mbit/s), the two schemes alternating on each link, and
    the three-halves/half-gates time ratio of the same run (< 1: three-halves is faster)."""
    out: list[dict] = []
    runs = 3 if quick else 5
    for link, blocks in ((LAN10G, 64), (LAN1G, 64 if quick else 256), (WAN100M, 8 if quick else 16)):
        name = f"aes128_x{blocks}"
        per: dict[str, list[float]] = {"halfgates": [], "threehalves": []}
        last: dict[str, dict] = {}
        for _ in range(2):  # alternate the schemes so that load drifts hit both alike
            for scheme in per:
                g, e = _shaped(name, quick, runs, link, scheme)
                per[scheme] += [max(a["wall"], b["wall"]) for a, b in zip(g, e)][1:]
                last[scheme] = g[-1]
        med = {k: statistics.median(v) for k, v in per.items()}
        for scheme, times in per.items():
            lg = last[scheme]
            out.append({"name": f"yao_{name}_{link.name}_{scheme}", "case": name, "transport": link.name,
                        "scheme": scheme, "blocks": blocks, "n": lg["ands_garbled"],
                        "seconds_min": min(times), "seconds_median": med[scheme], "seconds_max": max(times),
                        "repeat": len(times), "ms_per_block": 1000 * med[scheme] / blocks,
                        "table_bytes": lg["phases"]["garble and send tables"]["bytes_sent"],
                        "table_bits_per_and": 8 * lg["phases"]["garble and send tables"]["bytes_sent"]
                        / max(lg["ands_garbled"], 1),
                        "link_bits_per_s": link.bandwidth, "link_latency_s": link.latency,
                        "threehalves_over_halfgates": med["threehalves"] / med["halfgates"]})
    return out


def _entry(name: str, transport: str, g: list[dict], e: list[dict], aes_rate: float, blocks: int | None) -> dict:
    times = [max(a["wall"], b["wall"]) for a, b in zip(g, e)][1:]  # run 0 is the warm-up
    if any(a["out0"] != b["out0"] for a, b in zip(g, e)):
        raise AssertionError(f"{name}: the parties' outputs differ")
    med = statistics.median(times)
    last_g, last_e = g[-1], e[-1]
    ands = last_g["ands_garbled"]
    total_bytes = last_g["bytes_sent"] + last_g["bytes_received"]
    pg, pe = last_g["phases"], last_e["phases"]
    res = {
        "name": f"yao_{name}_{transport}", "case": name, "transport": transport, "n": ands,
        "seconds_min": min(times), "seconds_median": med, "seconds_max": max(times), "repeat": len(times),
        "and_gates": ands, "bytes_total": total_bytes, "bytes_per_and": total_bytes / max(ands, 1),
        "table_bytes": pg["garble and send tables"]["bytes_sent"], "ot_bytes": pg["ot"]["bytes_sent"] +
        pg["ot"]["bytes_received"], "and_per_s": ands / med, "aes_ecb_blocks_per_s": aes_rate,
        "ratio_to_aes_ecb": ands / med / aes_rate,
        "split_garbler_s": {"handshake": pg["handshake"]["seconds"], "ot": pg["ot"]["seconds"],
                            "garble": pg["garble and send tables"]["garble_seconds"],
                            "send": pg["garble and send tables"]["send_seconds"],
                            "output": pg["output"]["seconds"]},
        "split_evaluator_s": {"ot": pe["ot"]["seconds"],
                              "evaluate": pe["receive and evaluate tables"]["evaluate_seconds"],
                              "wait_for_tables": pe["receive and evaluate tables"]["wait_seconds"],
                              "output": pe["output"]["seconds"]},
    }
    if blocks:
        res["blocks"] = blocks
        res["ms_per_block"] = 1000 * med / blocks
    return res


def run(quick: bool = False) -> list[dict]:
    runs = 4 if quick else 8
    many = 100 if quick else 1000
    cases = [("aes128_x1", 1, ("tcp", "threads")), (f"aes128_x{many}", many, ("tcp", "threads")),
             ("millionaires64", None, ("tcp", "threads"))]
    if not quick:
        cases.append(("random_1M_and", None, ("tcp",)))
    out: list[dict] = []
    for name, blocks, transports in cases:
        for transport in transports:
            a = aes_ecb_baseline(1 << 20, 3)["blocks_per_s"]
            n_runs = runs if name != "random_1M_and" else 4
            g, e = (_tcp if transport == "tcp" else _threads)(name, quick, n_runs)
            b = aes_ecb_baseline(1 << 20, 3)["blocks_per_s"]
            out.append(_entry(name, transport, g, e, (a + b) / 2, blocks))
    out.extend(shaped_links(quick))
    from .yao_first import run as first_call

    out.extend(first_call(quick))
    out.insert(0, aes_ecb_baseline(1 << 20, 3 if quick else 5))
    return out
