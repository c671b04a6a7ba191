"""PSI benchmarks: RR22 (semi-honest and malicious) and KKRT end to end, threads and
two processes over loopback, and OpenMined's ECDH-PSI as the outside peer, in the same run.

Sizes: 2^16 and 2^20 items per side (``--quick``: one repetition at 2^20),
plus 2^22 in a full run. The protocols take turns within each repetition
(KKRT, rr22, rr22 malicious), so load drifts on a shared machine hit them
alike; every row has min and median over the repetitions, its time over
KKRT's median in the same run, seconds by phase (medians; each party's own
phases and a merged view: base OT, VOLE, OKVS encode, decode, compare) and
bits per item (both directions, divided by n). A ``scaling`` row per
variant gives ``time(2^22) / (4·time(2^20))`` from the same run.

Baselines in the same run: raw AES-128-ECB throughput ("AES blocks per
item": how many raw block encryptions fit in the per-item time) and, when
``openmined.psi`` is installed (``import private_set_intersection.python``),
OpenMined's ECDH-PSI on the same items (classical, not post-quantum; client
and server in one process, one thread). It takes ~0.4–0.8 ms per item here,
so it runs at 2^12 and 2^16 by default; ``PQMPC_BENCH_PSI_PEER_MAX=20``
(or 22) adds the larger sizes; sizes above that get a "skipped" row, never
an extrapolation, and a missing package a "not installed" row.

Items are ``b"item-<i>"`` byte strings with half of each side shared; timing
covers everything from the item list to the result (encoding, hashing, base
OTs, extension, comparison). Two-process runs spawn ``python -m
pqmpc.bench.suites.psi --party ...`` twice; each party times itself from the
TCP connection to its result, and the figure is the slower party (process
start-up and imports are excluded and reported as ``wall_seconds``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

from ..timing import aes_ecb_baseline


def make_items(n: int, side: str) -> list[bytes]:
    start = 0 if side == "sender" else n // 2
    return [b"item-%d" % i for i in range(start, start + n)]


def _result_dict(res, seconds: float) -> dict:
    return {"seconds": seconds, "phases": {k: round(v, 4) for k, v in res.seconds.items()},
            "bytes_sent": res.bytes_sent, "bytes_received": res.bytes_received,
            "intersection": res.intersection, "params": res.params}


def _session(protocol: str, malicious: bool, role: str, ch, items, kappa: int):
    from ...psi import run_protocol

    kw = {"kappa": kappa} if protocol == "kkrt" else {}
    return run_protocol(protocol, role, ch, items, malicious=malicious, **kw)


def run_threads(n: int, kappa: int = 128, protocol: str = "kkrt", malicious: bool = False) -> dict:
    from ...net import run_pair

    a, b = make_items(n, "sender"), make_items(n, "receiver")
    t0 = time.perf_counter()
    rs, rr = run_pair(lambda ch: _session(protocol, malicious, "sender", ch, a, kappa),
                      lambda ch: _session(protocol, malicious, "receiver", ch, b, kappa))
    seconds = time.perf_counter() - t0
    if rr.intersection != n - n // 2:
        raise AssertionError(f"PSI benchmark produced a wrong intersection size {rr.intersection}")
    return {"sender": _result_dict(rs, seconds), "receiver": _result_dict(rr, seconds), "seconds": seconds}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_processes(n: int, kappa: int = 128, protocol: str = "kkrt", malicious: bool = False) -> dict:
    port = _free_port()
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, "-m", "pqmpc.bench.suites.psi", "--party", "--n", str(n), "--port", str(port),
           "--kappa", str(kappa), "--protocol", protocol] + (["--malicious"] if malicious else [])
    t0 = time.perf_counter()
    procs = {role: subprocess.Popen(cmd + ["--role", role], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
             for role in ("sender", "receiver")}
    out = {}
    for role, p in procs.items():
        o, e = p.communicate(timeout=600)
        if p.returncode:
            raise RuntimeError(f"benchmark {role} process failed: {e.decode(errors='replace')[-500:]}")
        out[role] = json.loads(o.decode().strip().splitlines()[-1])
    out["wall_seconds"] = time.perf_counter() - t0
    out["seconds"] = max(out["sender"]["seconds"], out["receiver"]["seconds"])
    return out


def _party(args) -> None:
    from ...net import TcpChannel, TcpListener

    items = make_items(args.n, args.role)
    # Load the numba caches and base-OT code first: start-up is reported apart from the protocol.
    t0 = time.perf_counter()
    run_threads(64, protocol=args.protocol, malicious=args.malicious)
    cold = time.perf_counter() - t0
    if args.role == "receiver":
        with TcpListener("127.0.0.1", args.port) as lst:
            ch = lst.accept(timeout=120)
    else:
        ch = TcpChannel.connect("127.0.0.1", args.port, timeout=120, retry_for=60)
    with ch:
        ch.send(b"go")  # both sides start the clock after the connection is up
        ch.recv()
        t0 = time.perf_counter()
        res = _session(args.protocol, args.malicious, args.role, ch, items, args.kappa)
        seconds = time.perf_counter() - t0
    print(json.dumps(dict(_result_dict(res, seconds), cold_start_seconds=cold), default=float))


def openmined(n: int) -> dict | None:
    """OpenMined's ECDH-PSI on the suite's items (client and server in this process), or None if not installed."""
    try:
        import private_set_intersection.python as om
    except ImportError:
        return None
    a, b = [x.decode() for x in make_items(n, "sender")], [x.decode() for x in make_items(n, "receiver")]
    t0 = time.perf_counter()
    client = om.client.CreateWithNewKey(True)
    server = om.server.CreateWithNewKey(True)
    setup = server.CreateSetupMessage(0.0, n, a, om.DataStructure.RAW)
    req = client.CreateRequest(b)
    resp = server.ProcessRequest(req)
    got = len(client.GetIntersection(setup, resp))
    seconds = time.perf_counter() - t0
    if got != n - n // 2:
        raise AssertionError(f"OpenMined PSI produced a wrong intersection size {got}")
    nbytes = setup.ByteSize() + req.ByteSize() + resp.ByteSize()
    return {"seconds": seconds, "bytes": nbytes, "bits_per_item": 8 * nbytes / n, "intersection": got,
            "version": getattr(om, "__version__", "?")}


#: (protocol, malicious) pairs the suite compares.
VARIANTS = (("kkrt", False), ("rr22", False), ("rr22", True))
PEER = "openmined_ecdh_psi_one_process"
PEER_NOTE = "classical ECDH (not post-quantum), client and server in one process, one thread, RAW set"


def _peer_max() -> int:
    raw = os.environ.get("PQMPC_BENCH_PSI_PEER_MAX", "")
    if os.environ.get("PQMPC_BENCH_PSI_PEER_2E20") == "1":   # the older switch
        raw = raw or "20"
    try:
        return int(raw) if raw else 16
    except ValueError:
        return 16


def run(quick: bool = False) -> list[dict]:
    from ...psi import run_protocol  # noqa: F401  (import cost outside the timings)

    sizes = [16, 20] if quick else [16, 20, 22]
    base = aes_ecb_baseline(1 << 20, 5)
    results = [base]
    for protocol, malicious in VARIANTS:  # warm the numba caches and the base-OT code paths
        run_threads(1 << 10, protocol=protocol, malicious=malicious)
    peers = _peer_rows(sizes, quick, results)
    medians: dict = {}
    for k in sizes:
        n = 1 << k
        reps = (3 if k <= 16 else 1) if quick else (3 if k <= 20 else 2)
        for mode, fn in (("threads", run_threads), ("processes", run_processes)):
            # the protocols take turns within each repetition, so load drifts hit them alike
            by_variant = {v: [] for v in VARIANTS}
            for _ in range(reps):
                for protocol, malicious in VARIANTS:
                    by_variant[(protocol, malicious)].append(fn(n, protocol=protocol, malicious=malicious))
            kkrt_median = statistics.median(r["seconds"] for r in by_variant[("kkrt", False)])
            for (protocol, malicious), runs in by_variant.items():
                row = _row(protocol, malicious, mode, n, runs, base, peers.get(k), kkrt_median)
                medians[(row["name"], k)] = (row["seconds_min"], row["seconds_median"])
                results.append(row)
    if 20 in sizes and 22 in sizes:
        for (name, k), (mn, med) in list(medians.items()):
            if k == 22 and (name, 20) in medians:
                mn20, med20 = medians[(name, 20)]
                results.append({"name": f"{name}_scaling", "n": 1 << 22, "kind": "scaling",
                                "min_over_4x_2e20": mn / (4 * mn20), "median_over_4x_2e20": med / (4 * med20),
                                "note": "time(2^22) / (4 * time(2^20)), same run; 1.0 is linear"})
    return results


def _peer_rows(sizes: list[int], quick: bool, results: list[dict]) -> dict:
    peers = {}
    top = _peer_max()
    for k in sorted({12, *sizes}):
        if k > top:
            results.append({"name": PEER, "n": 1 << k, "skipped": f"over the time budget (2^{top}); "
                            f"PQMPC_BENCH_PSI_PEER_MAX={k} runs it", "note": PEER_NOTE})
            continue
        om = openmined(1 << k)
        if om is None:
            results.append({"name": PEER, "n": 1 << k, "skipped": "not installed (pip install openmined.psi)"})
            return peers
        peers[k] = om
        results.append({"name": PEER, "n": 1 << k, "seconds_median": om["seconds"], "seconds_min": om["seconds"],
                        "repeat": 1, "bits_per_item": om["bits_per_item"], "bytes": om["bytes"],
                        "version": om["version"], "note": PEER_NOTE, "loadavg_1min": os.getloadavg()[0]})
    return peers


def _median_phases(runs: list[dict], party: str) -> dict:
    keys = runs[-1][party]["phases"].keys()
    return {k: round(statistics.median(r[party]["phases"].get(k, 0.0) for r in runs), 4) for k in keys}


def _merged(ps: dict, pr: dict) -> dict:
    """One view of both parties' phases (seconds; the slower party's where both have the phase)."""
    both = {k: max(ps.get(k, 0.0), pr.get(k, 0.0)) for k in set(ps) | set(pr)}
    if "oprf" in both:     # KKRT: no VOLE/OKVS; its OPRF is the OT extension
        return {"setup": both.get("encode", 0.0) + both.get("handshake", 0.0) + both.get("hash", 0.0),
                "base_ot+ot_ext": both["oprf"], "cuckoo": both.get("cuckoo", 0.0), "compare": both.get("compare", 0.0)}
    return {"setup": both.get("setup", 0.0), "base_ot": both.get("base_ot", 0.0), "vole": both.get("vole", 0.0),
            "okvs_encode": pr.get("okvs_encode", 0.0), "okvs_key": ps.get("okvs_recv", 0.0),
            "decode": both.get("decode", 0.0), "compare": both.get("compare", 0.0)}


def _row(protocol: str, malicious: bool, mode: str, n: int, runs: list[dict], base: dict, peer: dict | None,
         kkrt_median: float) -> dict:
    secs = [r["seconds"] for r in runs]
    med = statistics.median(secs)
    last = runs[-1]
    reps = len(runs)
    total_bytes = last["sender"]["bytes_sent"] + last["receiver"]["bytes_sent"]
    name = protocol + ("_malicious" if malicious else "")
    ps, pr = _median_phases(runs, "sender"), _median_phases(runs, "receiver")
    row = {"name": f"{name}_psi_{mode}", "protocol": name, "mode": mode, "n": n, "seconds_min": min(secs),
           "seconds_median": med, "seconds_max": max(secs), "repeat": reps, "phases": _merged(ps, pr),
           "phases_sender": ps, "phases_receiver": pr,
           "bytes_sender_to_receiver": last["sender"]["bytes_sent"],
           "bytes_receiver_to_sender": last["receiver"]["bytes_sent"],
           "bits_per_item": 8 * total_bytes / n, "params": last["receiver"]["params"],
           "aes_blocks_per_item": med * base["blocks_per_s"] / n, "loadavg_1min": os.getloadavg()[0]}
    if mode == "processes":
        row["wall_seconds_with_startup"] = last["wall_seconds"]
        row["cold_start_seconds"] = max(last["sender"]["cold_start_seconds"],
                                        last["receiver"]["cold_start_seconds"])
    if peer is not None:
        row["speedup_vs_openmined_same_run"] = peer["seconds"] / med
    row["time_over_kkrt_same_run"] = med / kkrt_median
    return row


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--party", action="store_true")
    ap.add_argument("--role", choices=("sender", "receiver"))
    ap.add_argument("--n", type=int)
    ap.add_argument("--port", type=int)
    ap.add_argument("--kappa", type=int, default=128)
    ap.add_argument("--protocol", choices=("kkrt", "rr22"), default="kkrt")
    ap.add_argument("--malicious", action="store_true")
    a = ap.parse_args()
    if a.party:
        _party(a)
    else:
        print(json.dumps(run(quick=True), indent=1, default=float))
