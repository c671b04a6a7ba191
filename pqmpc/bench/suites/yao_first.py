"""First call of a Yao 2PC in fresh processes: one AES-128 block, two new Python processes.

Each party is a new interpreter (warm numba cache, as after ``pqmpc warmup`` or any earlier
run) that imports what ``pqmpc 2pc`` imports, optionally runs :func:`pqmpc.twopc.prepare`
before connecting, then runs :func:`pqmpc.twopc.functions.aes128` over TCP on 127.0.0.1.
Reported per variant (medians over rounds, the two variants alternating so load drifts
hit both alike): **protocol seconds** (connection to result, the larger of the two
parties), the seconds before connecting (imports, and ``prepare`` when used), the
number of numba kernels first dispatched inside the protocol and the time spent
loading them, and the split of the garbler's protocol time into Yao's phases.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["one_round", "run"]

_KEY = bytes(range(16))
_BLOCK = bytes.fromhex("00112233445566778899aabbccddeeff")
_WANT = "69c4e0d86a7b0430d8cdb78070b4c55a"  # FIPS-197 C.1


def _child(role: str, port: int, prepared: bool) -> None:
    """One party in this fresh process; prints one JSON line."""
    t_start = time.perf_counter()
    from pqmpc.net import TcpChannel
    from pqmpc.twopc import functions as F

    if prepared:
        from pqmpc.twopc import prepare

        prepare(F.function_circuit("aes128"))
    import numba.core.dispatcher as dispatcher

    loads: list[float] = []
    orig = dispatcher.Dispatcher._compile_for_args

    def counted(self, *a, **k):  # every first dispatch of a kernel in this process goes through here
        t0 = time.perf_counter()
        try:
            return orig(self, *a, **k)
        finally:
            loads.append(time.perf_counter() - t0)

    dispatcher.Dispatcher._compile_for_args = counted
    if role == "garbler":
        ch = TcpChannel.accept("127.0.0.1", port, timeout=120)
    else:
        ch = TcpChannel.connect("127.0.0.1", port, timeout=120, retry_for=60)
    before = time.perf_counter() - t_start
    info: dict = {}
    t0 = time.perf_counter()
    with ch:
        out = F.aes128(ch, role, _KEY if role == "garbler" else _BLOCK, info=info)
    proto = time.perf_counter() - t0
    print(json.dumps({"role": role, "protocol_s": proto, "before_connect_s": before, "kernel_loads": len(loads),
                      "kernel_load_s": sum(loads), "ok": out.hex() == _WANT,
                      "phases": {k: v["seconds"] for k, v in info["phases"].items()}}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_round(prepared: bool, timeout: float = 300) -> dict:
    """Both parties as fresh processes; returns the combined figures of this round."""
    root = str(Path(__file__).resolve().parents[3])
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    port = _free_port()
    code = "from pqmpc.bench.suites.yao_first import _child; _child({!r}, {}, {})"
    procs = [subprocess.Popen([sys.executable, "-c", code.format(role, port, prepared)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for role in ("garbler", "evaluator")]
    res = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            if p.returncode != 0:
                raise RuntimeError(f"first-call child failed: {err.strip()[-800:]}")
            res.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    g, e = res
    if not (g["ok"] and e["ok"]):
        raise AssertionError("first-call AES-128 disagrees with FIPS-197")
    return {"protocol_s": max(g["protocol_s"], e["protocol_s"]),
            "before_connect_s": max(g["before_connect_s"], e["before_connect_s"]),
            "kernel_loads": max(g["kernel_loads"], e["kernel_loads"]),
            "kernel_load_s": max(g["kernel_load_s"], e["kernel_load_s"]), "garbler_phases": g["phases"]}


def run(quick: bool = False) -> list[dict]:
    rounds = 2 if quick else 3
    per: dict[bool, list[dict]] = {False: [], True: []}
    for _ in range(rounds + 1):  # the first round warms the numba cache if it is cold; not counted
        for prepared in (False, True):
            per[prepared].append(one_round(prepared))
    out = []
    for prepared, rs in per.items():
        rs = rs[1:]
        times = [r["protocol_s"] for r in rs]
        last = rs[-1]
        out.append({"name": f"yao_first_call_aes128{'_prepared' if prepared else ''}", "n": 1,
                    "seconds_min": min(times), "seconds_median": statistics.median(times),
                    "seconds_max": max(times), "repeat": len(times), "prepare": prepared,
                    "before_connect_s_median": statistics.median(r["before_connect_s"] for r in rs),
                    "kernel_loads_in_protocol": last["kernel_loads"],
                    "kernel_load_s_in_protocol": last["kernel_load_s"], "garbler_phases_s": last["garbler_phases"]})
    return out
