"""PSI benchmarks: RR22 (semi-honest and malicious) and KKRT end to end, threads and
two processes over loopback, in the same run.

Each figure sits next to baselines measured in the same run: raw AES-128-ECB
throughput (reported as "AES blocks per item": how many raw block
encryptions fit in the per-item time) and, when the ``openmined.psi`` package
is importable, OpenMined's ECDH-PSI on the same items (classical, not
post-quantum; slow, so it runs at 2^12 and 2^16 only and larger sizes are
never extrapolated here). Items are ``b"item-<i>"`` byte strings with half
of each side shared; timing covers everything from the item list to the
result (encoding, hashing, base OTs, extension, comparison).

Two-process runs spawn ``python -m pqmpc.bench.suites.psi --party ...`` twice;
each party times itself from the TCP connection to its result, and the
figure is the slower party (process start-up and imports are excluded and
reported separately as ``wall_seconds``).
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
    return {"seconds": seconds, "bytes": setup.ByteSize() + req.ByteSize() + resp.ByteSize(), "intersection": got,
            "version": getattr(om, "__version__", "?")}


def run(quick: bool = False) -> list[dict]:
    from ...psi import run_protocol  # noqa: F401  (import cost outside the timings)

    sizes = [12, 16] if quick else [16, 20]
    base = aes_ecb_baseline(1 << 20, 5)
    results = [base]
    for protocol, malicious in VARIANTS:  # warm the numba caches and the base-OT code paths
        run_threads(1 << 10, protocol=protocol, malicious=malicious)
    peers = {}
    # OpenMined's ECDH-PSI takes ~6 minutes at 2^20 here, so the peer runs at 2^20 only on
    # request: PQMPC_BENCH_PSI_PEER_2E20=1 pqmpc bench psi.
    peer_sizes = (12, 16, 20) if os.environ.get("PQMPC_BENCH_PSI_PEER_2E20") == "1" else (12, 16)
    for k in peer_sizes:
        om = openmined(1 << k)
        if om is not None:
            peers[k] = om
            results.append({"name": "openmined_ecdh_psi_one_process", "n": 1 << k, "seconds_median": om["seconds"],
                            "bytes": om["bytes"], "version": om["version"],
                            "note": "classical ECDH (not post-quantum), client and server in one process"})
    for k in sizes:
        n = 1 << k
        reps = 3 if k <= 16 else (1 if quick else 3)
        for mode, fn in (("threads", run_threads), ("processes", run_processes)):
            # the protocols take turns within each repetition, so load drifts hit them alike
            by_variant = {v: [] for v in VARIANTS}
            for _ in range(reps):
                for protocol, malicious in VARIANTS:
                    by_variant[(protocol, malicious)].append(fn(n, protocol=protocol, malicious=malicious))
            kkrt_median = statistics.median(r["seconds"] for r in by_variant[("kkrt", False)])
            for (protocol, malicious), runs in by_variant.items():
                results.append(_row(protocol, malicious, mode, n, runs, base, peers.get(k), kkrt_median))
    return results


#: (protocol, malicious) pairs the suite compares.
VARIANTS = (("kkrt", False), ("rr22", False), ("rr22", True))


def _row(protocol: str, malicious: bool, mode: str, n: int, runs: list[dict], base: dict, peer: dict | None,
         kkrt_median: float) -> dict:
    secs = [r["seconds"] for r in runs]
    med = statistics.median(secs)
    last = runs[-1]
    reps = len(runs)
    total_bytes = last["sender"]["bytes_sent"] + last["receiver"]["bytes_sent"]
    name = protocol + ("_malicious" if malicious else "")
    row = {"name": f"{name}_psi_{mode}", "n": n, "seconds_min": min(secs), "seconds_median": med,
           "seconds_max": max(secs), "repeat": reps,
           "phases_sender": last["sender"]["phases"], "phases_receiver": last["receiver"]["phases"],
           "bytes_sender_to_receiver": last["sender"]["bytes_sent"],
           "bytes_receiver_to_sender": last["receiver"]["bytes_sent"],
           "bits_per_item": 8 * total_bytes / n, "params": last["receiver"]["params"],
           "aes_blocks_per_item": med * base["blocks_per_s"] / n}
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
