"""pqmpc Ferret b13 vs emp-toolkit's Ferret b13, interleaved, two processes per side over loopback.

Not a test: a local comparison run by hand (emp-toolkit is not a dependency). Build emp and its
drivers as the session's peers README describes, point ``PQMPC_EMP_PEERS`` at that folder (it
holds ``drivers/ot_steady``), then from the repo root:

    python bench/ferret_emp.py --rounds 3            # whole calls, two processes per side
    python bench/ferret_emp.py --phases --rounds 3   # the two phases alone, one core each

``--phases`` alternates emp's own single-core benches of its phases (``bench_lpn``: the local
code on 2^18 rows with k = 2^19; ``bench_cggm``: tree expansion at depth 13, its production
tile) with pqmpc's kernels on the same sizes (wall time both, like emp's benches): LPN encode
ns per output row (sender; receiver with its choice bits; the LSB-convention kernels Ferret runs
since wire v3 where present), GGM ns per leaf (sender; receiver).

Each round runs emp's driver (one warm call, then per rep a call into fresh 4 KiB pages, fresh
huge pages and the same buffer again) and then pqmpc (one warm call of 1 COT, then ``reps``
calls into fresh arrays and ``reps`` calls into the caller's reused arrays, ``out=``), both
with glibc told to keep freed memory. Both sides time a call from a synchronisation message
to the end of the call; a call's seconds are the slower party's. Printed per round: M COT/s
per kind and CPU seconds (user + sys) per party per process; then the summary: median over
rounds of the per-round ratios pqmpc / emp, steady (``out=`` vs reused) and first touch
(fresh arrays vs fresh 4 KiB pages). Every pqmpc call checks 4096 random rows of the OT
relation; emp's driver checks its own. With an emp driver that also prints ``cpu_seconds`` per
call (process CPU time around the call; ``--emp-driver``), the summary adds the CPU of the slower
party per steady call, emp / pqmpc: less sensitive to a busy machine than wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

N = 45_031_423  # emp's driver asks for this many; pqmpc asks for the same
TUNABLES = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736"


def _cpu(ru) -> float:
    return ru.ru_utime + ru.ru_stime


def _wait(procs) -> list[tuple[str, float]]:
    """stdout and CPU seconds of each child (its own rusage, not the whole group's)."""
    outs = [p.stdout.read() for p in procs]
    res = []
    for p, out in zip(procs, outs):
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode:
            raise SystemExit(f"party {p.args} failed with {p.returncode}")
        res.append((out, _cpu(ru)))
    return res


def run_emp(port: int, reps: int, drv: str) -> dict:
    env = dict(os.environ, GLIBC_TUNABLES=TUNABLES)
    argv = ["ferret13", str(N), "1", str(reps), "0"]
    p1 = subprocess.Popen([drv, "1", str(port)] + argv, env=env, stdout=subprocess.PIPE, text=True)
    time.sleep(0.05)
    p2 = subprocess.Popen([drv, "2", str(port)] + argv, env=env, stdout=subprocess.PIPE, text=True)
    (o1, c1), (o2, c2) = _wait([p1, p2])
    lines = [[json.loads(x) for x in o.splitlines() if x.startswith("{")] for o in (o1, o2)]
    by: dict = {}
    for a, b in zip(*lines):
        by.setdefault(a["kind"], []).append(max(a["seconds"], b["seconds"]))
        if "cpu_seconds" in a:  # a driver that reports CPU per call (the stock one does not)
            by.setdefault(a["kind"] + "_cpu", []).append([a["cpu_seconds"], b["cpu_seconds"]])
    by["cpu"] = [round(c1, 3), round(c2, 3)]
    by["calls"] = 1 + 3 * reps
    return by


# -- pqmpc: one party per process -------------------------------------------------------------

def party(role: str, port: int, reps: int) -> dict:
    import numpy as np

    from pqmpc.bench.suites.ot_ext_calls import loopback_channel
    from pqmpc.ot import Ferret

    ot = Ferret("b13")
    ch = loopback_channel(role, port)
    rng = np.random.default_rng(7)
    # the caller's arrays exist (touched) before the calls, as in an application
    q = np.empty((N, 16), np.uint8)
    q.fill(0)
    b = np.empty(N, np.uint8) if role == "receiver" else None
    if b is not None:
        b.fill(0)
    res: dict = {"fresh": [], "out": [], "fresh_cpu": [], "out_cpu": []}

    def call(n, out):
        if role == "sender":
            kw = {"out": q[:n]} if out else {}
            return ot.send_random_correlated(ch, n, **kw)
        kw = {"out": q[:n], "choices_out": b[:n]} if out else {}
        return ot.receive_random_correlated(ch, n, **kw)

    def sync():
        if role == "sender":
            ch.send(b"go")
            ch.recv()
        else:
            ch.recv()
            ch.send(b"ok")

    def check(res_pair):
        idx = np.sort(rng.choice(N, 4096, replace=False))
        if role == "sender":
            delta, qq = res_pair
            bb = ch.recv_array(np.uint8, (4096,), "check b")
            tt = ch.recv_array(np.uint8, (4096, 16), "check t")
            if not np.array_equal(qq[idx] ^ (bb[:, None] * np.asarray(delta).reshape(1, 16)), tt):
                raise SystemExit("pqmpc Ferret: OT relation broken")
        else:
            bb, tt = res_pair
            ch.send(np.ascontiguousarray(bb[idx]))
            ch.send(np.ascontiguousarray(tt[idx]))

    with ch:
        sync()
        t0 = time.perf_counter()
        call(1, False)
        res["warm"] = time.perf_counter() - t0
        for mode in ("fresh", "out"):
            for _ in range(reps):
                sync()
                c0, t0 = time.process_time(), time.perf_counter()
                r = call(N, mode == "out")
                res[mode].append(time.perf_counter() - t0)
                res[mode + "_cpu"].append(time.process_time() - c0)
                check(r)
                del r
    return res


def run_pq(port: int, reps: int) -> dict:
    env = dict(os.environ, GLIBC_TUNABLES=TUNABLES)
    cmd = [sys.executable, os.path.abspath(__file__), "--port", str(port), "--reps", str(reps), "--role"]
    ps = [subprocess.Popen(cmd + [r], env=env, stdout=subprocess.PIPE, text=True) for r in ("sender", "receiver")]
    (os_, cs), (or_, cr) = _wait(ps)
    s, r = (json.loads(o.strip().splitlines()[-1]) for o in (os_, or_))
    out = {k: [max(a, c) for a, c in zip(s[k], r[k])] for k in ("fresh", "out")}
    out.update({k + "_cpu": [[a, c] for a, c in zip(s[k + "_cpu"], r[k + "_cpu"])] for k in ("fresh", "out")})
    out["warm"] = max(s["warm"], r["warm"])
    out["cpu"] = [round(cs, 3), round(cr, 3)]
    out["calls"] = 1 + 2 * reps
    return out


def phases_emp() -> dict:
    build = os.path.join(os.environ.get("PQMPC_EMP_PEERS", ""), "emp-ot", "build")
    if not os.path.isdir(build):
        raise SystemExit("set PQMPC_EMP_PEERS to the folder with emp-ot/build (bench_lpn, bench_cggm)")
    lpn = subprocess.run([os.path.join(build, "bench_lpn"), "20", "18"], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    row = [ln.split("\t") for ln in lpn if ln.startswith("18\t19\t")][0]
    cggm = subprocess.run([os.path.join(build, "bench_cggm")], capture_output=True, text=True, check=True).stdout
    head = [ln for ln in cggm.splitlines() if ln.strip().startswith("Tile")][0].split()
    tile = [ln.split() for ln in cggm.splitlines() if "*" in ln and not ln.startswith("#")][0]
    col = head.index("d=13")
    return {"lpn_ns_row": float(row[3]), "ggm_ns_leaf": float(tile[col])}  # "raw H" and "*": one token each


def phases_pq() -> dict:
    import numpy as np

    from pqmpc.ot.ext import spcot
    from pqmpc.ot.ext.lpn import LocalCode

    rng = np.random.default_rng(1)
    T, h, k, m = 32, 13, 1 << 19, 1 << 18
    x = rng.integers(0, 256, (k, 16), dtype=np.uint8)
    u = rng.integers(0, 2, k, dtype=np.uint8)
    out = rng.integers(0, 256, (m, 16), dtype=np.uint8)
    bits = np.zeros(m, np.uint8)
    code = LocalCode(bytes(range(16)), k)
    try:  # Ferret packs the round's u once (older versions took u as bytes)
        from pqmpc.ot.ext.lpn import pack_bits

        kw = {"packed_u": pack_bits(u)}
    except ImportError:
        kw = {}
    seeds = rng.integers(0, 256, (T, 16), dtype=np.uint8)
    delta = rng.integers(0, 256, 16, dtype=np.uint8)
    kb = rng.integers(0, 256, (T, h, 16), dtype=np.uint8)
    b = rng.integers(0, 2, (T, h), dtype=np.uint8)
    leaves = np.empty((T << h, 16), np.uint8)

    def mean_of(f, reps):  # emp's bench_lpn: the mean of 20 calls
        f()
        t0 = time.perf_counter()
        for _ in range(reps):
            f()
        return (time.perf_counter() - t0) / reps

    def best_of(f, reps):  # emp's bench_cggm: the best of 5
        f()
        best = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            f()
            best = min(best, time.perf_counter() - t0)
        return best

    if hasattr(code, "add_encoded_lsb"):  # wire v3: the LSB convention, what Ferret runs
        xs, xr = x.copy(), x.copy()
        xs[:, 0] &= 0xFE
        xr[:, 0] = (xr[:, 0] & 0xFE) | u
        lpn_s = lambda: code.add_encoded_lsb(0, xs, out)  # noqa: E731
        lpn_r = lambda: code.add_encoded_lsb_bits(0, xr, out, bits)  # noqa: E731
    else:
        lpn_s = lambda: code.add_encoded(0, x, out)  # noqa: E731
        lpn_r = lambda: code.add_encoded_with_bits(0, x, u, out, bits, **kw)  # noqa: E731
    return {"lpn_sender_ns_row": mean_of(lpn_s, 20) * 1e9 / m,
            "lpn_receiver_ns_row": mean_of(lpn_r, 20) * 1e9 / m,
            "ggm_sender_ns_leaf": best_of(lambda: spcot.sender_expand(seeds, delta, h, leaves), 5) * 1e9 / (T << h),
            "ggm_receiver_ns_leaf": best_of(lambda: spcot.receiver_expand(kb, b, h, leaves), 5) * 1e9 / (T << h)}


def main_phases(rounds: int) -> None:
    rows = []
    for i in range(rounds):
        load = os.getloadavg()[0]
        e, p = phases_emp(), phases_pq()
        rows.append((e, p))
        print(json.dumps({"round": i, "load": round(load, 2), "emp": e,
                          "pq": {k: round(v, 2) for k, v in p.items()}}), flush=True)
    med = statistics.median
    summary = {}
    for name, ek in (("lpn_sender", "lpn_ns_row"), ("lpn_receiver", "lpn_ns_row"),
                     ("ggm_sender", "ggm_ns_leaf"), ("ggm_receiver", "ggm_ns_leaf")):
        pk = [k for k in rows[0][1] if k.startswith(name)][0]
        summary[f"{name} pq/emp time"] = round(med([p[pk] / e[ek] for e, p in rows]), 3)
    print(json.dumps(summary))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--port", type=int, default=23250)
    ap.add_argument("--phases", action="store_true", help="per-phase single-core comparison")
    ap.add_argument("--emp-driver", help="emp's ot_steady (default $PQMPC_EMP_PEERS/drivers/ot_steady); one "
                    "that adds cpu_seconds to its JSON lines also gives CPU per call")
    ap.add_argument("--role", choices=("sender", "receiver"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.phases:
        main_phases(a.rounds)
        return
    if a.role:
        print(json.dumps(party(a.role, a.port, a.reps)))
        return
    drv = a.emp_driver or os.path.join(os.environ.get("PQMPC_EMP_PEERS", ""), "drivers", "ot_steady")
    if not os.path.exists(drv):
        raise SystemExit("set PQMPC_EMP_PEERS to the folder with emp's drivers/ot_steady (or give --emp-driver)")
    mps = lambda s: N / s / 1e6  # noqa: E731
    med = statistics.median
    steady, first, cpu_ratio = [], [], []
    for i in range(a.rounds):
        load = os.getloadavg()[0]
        e = run_emp(a.port + 2 * i, a.reps, drv)
        p = run_pq(a.port + 2 * i + 1, a.reps)
        rs = med([mps(s) for s in p["out"]]) / med([mps(s) for s in e["reused"]])
        rf = med([mps(s) for s in p["fresh"]]) / med([mps(s) for s in e["fresh4k"]])
        steady.append(rs)
        first.append(rf)
        cpu = {"pq_out": [[round(c, 3) for c in x] for x in p["out_cpu"]]}
        if "reused_cpu" in e:
            cpu["emp_reused"] = [[round(c, 3) for c in x] for x in e["reused_cpu"]]
            # the slower party's CPU per steady call: emp / pqmpc (> 1: pqmpc needs less CPU)
            cpu_ratio.append(med([max(x) for x in e["reused_cpu"]]) / med([max(x) for x in p["out_cpu"]]))
        print(json.dumps({
            "round": i, "load": round(load, 2),
            "emp_Mps": {k: [round(mps(s), 1) for s in e[k]] for k in ("fresh4k", "freshthp", "reused")},
            "pq_Mps": {k: [round(mps(s), 1) for s in p[k]] for k in ("fresh", "out")},
            "cpu_s_per_process": {"emp": e["cpu"], "pq": p["cpu"], "calls": [e["calls"], p["calls"]]},
            "cpu_s_per_call_sender_receiver": cpu,
            "ratio_steady": round(rs, 3), "ratio_first_touch": round(rf, 3)}), flush=True)
    print(json.dumps({"n": N, "rounds": a.rounds, "reps": a.reps,
                      "ratio_steady_median": round(med(steady), 3),
                      "ratio_first_touch_median": round(med(first), 3),
                      "cpu_efficiency_steady_median": round(med(cpu_ratio), 3) if cpu_ratio else None,
                      "load_end": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
