"""Bucketed PSI through the command line, two processes over loopback TCP: rows/s vs workers,
peak memory per process, disk used, and the cost of one bucket against an unbucketed run of its size.

    python bench/bucketed_psi.py workers --rows 2000000 --buckets 4 --repeat 2
        # workers 1 and 2 interleaved (1 2 1 2 ...), same inputs; medians and the same-run speed-up
    python bench/bucketed_psi.py per-bucket --rows 1048576 --buckets 4 --repeat 2
        # one bucketed run of B*rows rows (B buckets, 1 worker) against plain runs of `rows` rows,
        # interleaved; seconds per bucket / the plain run's PSI seconds
    python bench/bucketed_psi.py one --rows 10000000 --workers 2
        # a single run: wall, rows/s, peak RSS per process, disk used by the run directory

Inputs are generated once per size in ``--data`` (default: a folder in the system temp dir): two CSV
files with ``rows`` keys each, half of them shared. Every run prints one JSON line; the
summary goes last. Figures are from one machine at one moment: quote the same-run ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DRIVER = os.path.join(ROOT, "tests", "cli", "test_bucketed_cli.py")


def make_inputs(folder: str, rows: int) -> tuple[str, str]:
    """``a<rows>.csv`` holds keys 0..rows-1, ``b<rows>.csv`` rows/2..3*rows/2-1 (overlap rows/2), each in a
    seeded shuffled order (a sorted file would make every bucket's rows arrive in long runs), written by
    pyarrow in blocks: 10^8 rows take minutes, not the hour a per-row Python loop takes."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv

    os.makedirs(folder, exist_ok=True)
    paths = (os.path.join(folder, f"a{rows}.csv"), os.path.join(folder, f"b{rows}.csv"))
    if all(os.path.exists(p) for p in paths):
        return paths
    schema = pa.schema([("id", pa.int64()), ("email", pa.string())])
    for seed, (path, start) in enumerate(zip(paths, (0, rows // 2)), 1):
        keys = np.arange(start, start + rows, dtype=np.int64)
        np.random.default_rng(seed).shuffle(keys)
        tmp = path + ".tmp"
        with open(tmp, "wb") as fh:
            fh.write(b"id,email\n")
            with pa_csv.CSVWriter(fh, schema, write_options=pa_csv.WriteOptions(include_header=False,
                                                                                 quoting_style="none")) as w:
                for s in range(0, rows, 1 << 22):
                    ids = pa.array(keys[s:s + (1 << 22)])
                    email = pc.binary_join_element_wise("user", pc.cast(ids, pa.string()), "@example.org", "")
                    w.write_table(pa.table({"id": ids, "email": email}, schema=schema))
        os.replace(tmp, path)
    return paths


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pqmpc_cmd(bucketed: bool) -> list[str]:
    # The bucketed flags reach `pqmpc psi` once the CLI wires the hook; until then the test driver parses them.
    return [sys.executable, DRIVER] if bucketed else [sys.executable, "-m", "pqmpc.cli.main", "psi"]


def du(path: str) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(dirpath, f))
            except OSError:
                pass
    return total


def run_pair(a: str, b: str, rows: int, workers: int | None, buckets: int | None, bucketed: bool = True,
             protocol: str = "rr22", keep_disk: bool = True) -> dict:
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="pqmpc-bench-")
    procs = []
    try:
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        for mode, inp in (("serve", a), ("connect", b)):
            cmd = pqmpc_cmd(bucketed) + [mode, "--input", inp, "--key", "email", "--output",
                                         os.path.join(tmp, f"{mode}.csv"), "--insecure", "--quiet", "--json",
                                         "--protocol", protocol, "--timeout", "3600"]
            cmd += ["--listen", f"127.0.0.1:{port}"] if mode == "serve" else ["--connect", f"127.0.0.1:{port}"]
            if bucketed:
                cmd += ["--work-dir", os.path.join(tmp, f"work-{mode}")]
                cmd += ["--workers", str(workers)] if workers else []
                cmd += ["--buckets", str(buckets)] if buckets else []
            env = dict(os.environ, PYTHONPATH=ROOT)
            procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
        outs = [p.communicate() for p in procs]
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        for p, (_, err) in zip(procs, outs):
            if p.returncode:
                raise SystemExit(f"run failed: {err[-2000:]}")
        sides = [json.loads(o.strip().splitlines()[-1]) for o, _ in outs]
        res = {"bucketed": bucketed, "rows": rows, "workers": workers, "buckets": sides[0].get("buckets"),
               "wall_s": round(wall, 3), "rows_per_s": round(rows / wall), "protocol": protocol,
               # CPU seconds of both parties and all their workers, and the cores they got on average: on a
               # shared machine a low figure says the wall time measured the other tenants, not this run.
               "cpu_s": round(cpu, 3), "cores_used": round(cpu / wall, 2),
               "intersection": sides[1]["intersection"],
               "phase_seconds": [s["phase_seconds"] for s in sides]}
        if bucketed:
            res["peak_rss_mb"] = [s["peak_rss_mb"] for s in sides]
            res["work_dir_bytes"] = [du(os.path.join(tmp, f"work-{m}")) for m in ("serve", "connect")]
        return res
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("workers", "per-bucket", "one"))
    ap.add_argument("--rows", type=int, default=1 << 20)
    ap.add_argument("--buckets", type=int, default=None)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--protocol", default="rr22")
    ap.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "pqmpc-bench-data"))
    args = ap.parse_args(argv)
    if args.what == "one":
        a, b = make_inputs(args.data, args.rows)
        print(json.dumps({**run_pair(a, b, args.rows, args.workers, args.buckets, protocol=args.protocol),
                          "load_before": load()}), flush=True)
        return 0
    if args.what == "workers":
        a, b = make_inputs(args.data, args.rows)
        run_pair(a, b, args.rows, 1, args.buckets, protocol=args.protocol)  # warm-up (numba caches, page cache)
        walls, cpus, phase = {1: [], 2: []}, {1: [], 2: []}, {1: [], 2: []}
        for _ in range(args.repeat):
            for w in (1, 2):
                r = run_pair(a, b, args.rows, w, args.buckets, protocol=args.protocol)
                r["load"] = load()
                print(json.dumps(r), flush=True)
                walls[w].append(r["wall_s"])
                cpus[w].append(r["cpu_s"])
                # Only the bucket phase runs in parallel; partition and output writing stay one process per
                # side, so the whole-run ratio is bounded by their share (Amdahl) and both are reported.
                phase[w].append(max(s["buckets"] for s in r["phase_seconds"]))
        pairs = [x / y for x, y in zip(walls[1], walls[2])]
        bpairs = [x / y for x, y in zip(phase[1], phase[2])]
        print(json.dumps({"summary": "workers", "rows": args.rows, "buckets": args.buckets,
                          "wall_median_s": {w: statistics.median(v) for w, v in walls.items()},
                          "speedup_1_to_2_per_pair": [round(p, 3) for p in pairs],
                          "speedup_median": round(statistics.median(pairs), 3),
                          "bucket_phase_speedup_per_pair": [round(p, 3) for p in bpairs],
                          "bucket_phase_speedup_median": round(statistics.median(bpairs), 3),
                          "cpu_median_s": {w: statistics.median(v) for w, v in cpus.items()}, "load": load()}),
              flush=True)
        return 0
    # per-bucket: B buckets of `rows` each (one worker) against plain runs of `rows`
    buckets = args.buckets or 4
    a, b = make_inputs(args.data, args.rows * buckets)
    pa, pb = make_inputs(args.data, args.rows)
    run_pair(pa, pb, args.rows, None, None, bucketed=False, protocol=args.protocol)  # warm-up
    per, plain = [], []
    for _ in range(args.repeat):
        r = run_pair(a, b, args.rows * buckets, 1, buckets, protocol=args.protocol)
        per.append(max(s["buckets"] for s in r["phase_seconds"]) / buckets)
        r["load"] = load()
        print(json.dumps(r), flush=True)
        q = run_pair(pa, pb, args.rows, None, None, bucketed=False, protocol=args.protocol)
        plain.append(max(sum(ph.values()) for ph in q["phase_seconds"]))
        q["load"] = load()
        print(json.dumps(q), flush=True)
    ratios = [x / y for x, y in zip(per, plain)]
    print(json.dumps({"summary": "per-bucket", "bucket_rows": args.rows, "buckets": buckets,
                      "bucket_session_s": [round(x, 3) for x in per], "plain_psi_s": [round(x, 3) for x in plain],
                      "ratio_per_pair": [round(x, 3) for x in ratios], "ratio_median": round(statistics.median(ratios), 3),
                      "note": "per bucket: the bucket phase / B (load bucket, padded PSI session, save output) vs "
                              "the PSI phases of a plain CLI run of the bucket's size", "load": load()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
