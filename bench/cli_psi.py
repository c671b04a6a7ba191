"""`pqmpc psi serve/connect` end to end against the library's PSI on the same sets, in the same run.

Each round runs, taking turns (A B A B):
* **lib**: two processes, each loads its keys (untimed), then times ``run_protocol`` over TCP
  loopback (handshake to result), the way the CLI calls it;
* **cli**: two ``pqmpc psi`` processes (``--insecure``), timed from start to exit, with their
  peak RSS (``os.wait4``) and the CLI's own phase split (``--stats-json``: read, connect,
  protocol, write; inside the protocol the library's phases).

The issue's goal: at 10^6 rows per side, CLI wall ≤ 1.5 × library PSI + 1 s of start-up,
≤ 2 GB peak RSS per process up to 10^7 rows per side.

    PYTHONPATH=$PWD python bench/cli_psi.py --rows 100000 1000000 --reps 2 [--protocol kkrt] [--payload]

At 10^7 the CLI chooses its bucketed path by itself (``--buckets auto``); the library's in-memory PSI
needs ~3.5 GB per process and 2-4 minutes there, so it runs only with ``--lib``. Given inputs
(``--files A B``, both with an ``email`` column) are used as they are; ``--cli-flags`` adds flags to
both CLI processes (e.g. ``--workers 2``, ``--buckets off``). Peak RSS per process: the main process
(its own ``ru_maxrss`` from ``--stats-json``) and the largest of its bucket workers.

    PYTHONPATH=$PWD python bench/cli_psi.py --files a10000000.csv b10000000.csv --reps 1 --cli-flags="--workers 2"
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LIB_SIDE = r"""
import json, sys, time
import numpy as np
from pqmpc.cli import csvio
from pqmpc.net import TcpChannel, TcpListener
from pqmpc.psi.protocols import run_protocol

role, path, key, port, protocol, payload = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
t = csvio.read_keys(path, [key], engine="auto", payload_columns=[payload] if payload != "-" else None)
items = t.items()
kw = {}
if payload != "-":
    kw = {"payload": t.payloads(), "payload_width": 16} if role == "serve" else {"peer_payload": True, "payload_width": 16}
if role == "serve":
    lst = TcpListener("127.0.0.1", port)
    ch = lst.accept(timeout=120)
    lst.close()
else:
    ch = TcpChannel.connect("127.0.0.1", port, timeout=600, retry_for=60)
t0 = time.perf_counter()
res = run_protocol(protocol, "sender" if role == "serve" else "receiver", ch, items, **kw)
sec = time.perf_counter() - t0
ch.close()
print(json.dumps({"seconds": sec, "phases": res.seconds, "intersection": res.intersection}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_files(folder: str, n: int) -> tuple[str, str]:
    """The two inputs, made in a child process: on Linux a child's peak RSS starts at its parent's
    (kept across fork and exec), so this process must stay small for the figures to be the children's."""
    a, b = os.path.join(folder, f"a{n}.csv"), os.path.join(folder, f"b{n}.csv")
    if not os.path.exists(b):
        subprocess.run([sys.executable, os.path.abspath(__file__), "--make", str(n), folder], check=True, env=env())
    return a, b


def _make_files(folder: str, n: int) -> None:
    """A: id,email,note (half shared with B); B: email,city. Written in bulk (numpy), not per row."""
    import numpy as np

    a, b = os.path.join(folder, f"a{n}.csv"), os.path.join(folder, f"b{n}.csv")
    if not os.path.exists(a):
        ids = np.arange(n)
        em = np.char.add(np.char.add("user", ids.astype(str)), "@example.com")
        rows = np.char.add(np.char.add(np.char.add(ids.astype(str), ","), em), ',"note, a"\n')
        with open(a, "w") as fh:
            fh.write("id,email,note\n")
            fh.write("".join(rows.tolist()))
        ids = np.arange(n // 2, n + n // 2)
        em = np.char.add(np.char.add("user", ids.astype(str)), "@example.com")
        rows = np.char.add(em, ",Paris\n")
        with open(b, "w") as fh:
            fh.write("email,city\n")
            fh.write("".join(rows.tolist()))


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = ROOT + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    return e


def wait_all(procs):
    """Wall seconds until every process ended, and each one's (exit code, peak RSS MB, stdout)."""
    out = {}
    pending = {p.pid: p for p in procs}
    while pending:
        pid, status, ru = os.wait4(-1, 0)
        if pid in pending:
            p = pending.pop(pid)
            p.returncode = os.waitstatus_to_exitcode(status)
            out[pid] = (p.returncode, ru.ru_maxrss / 1024, ru.ru_utime + ru.ru_stime)
    end = time.perf_counter()
    return end, [(out[p.pid][0], out[p.pid][1], p.stdout.read().decode() if p.stdout else "", out[p.pid][2])
                 for p in procs]


def run_lib(a, b, protocol, payload):
    port = free_port()
    py = sys.executable
    pa = "note" if payload else "-"
    t0 = time.perf_counter()
    s = subprocess.Popen([py, "-c", LIB_SIDE, "serve", a, "email", str(port), protocol, pa], env=env(),
                         stdout=subprocess.PIPE)
    c = subprocess.Popen([py, "-c", LIB_SIDE, "connect", b, "email", str(port), protocol, "-"], env=env(),
                         stdout=subprocess.PIPE)
    end, res = wait_all([s, c])
    if any(r[0] for r in res):
        raise SystemExit(f"library run failed: {res}")
    js = [json.loads(r[2]) for r in res]
    return {"psi_seconds": max(j["seconds"] for j in js), "rss_mb": [r[1] for r in res],
            "process_wall": end - t0, "phases": js[1]["phases"]}


def run_cli(a, b, folder, protocol, payload, flags=(), learn="connect"):
    port = free_port()
    cmd = [sys.executable, "-m", "pqmpc.cli.main", "psi"]
    common = ["--key", "email", "--insecure", "--quiet", "--force", "--protocol", protocol, "--learn", learn,
              *flags]
    sa, sc = os.path.join(folder, "stats_s.json"), os.path.join(folder, "stats_c.json")
    t0 = time.perf_counter()
    s = subprocess.Popen(cmd + ["serve", "--listen", f"127.0.0.1:{port}", "--input", a, "--stats-json", sa, *common]
                         + (["--payload", "note"] if payload else [])
                         + (["--output", os.path.join(folder, "out_serve.csv")] if learn == "both" else []),
                         env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    c = subprocess.Popen(cmd + ["connect", "--connect", f"127.0.0.1:{port}", "--input", b, "--output",
                                os.path.join(folder, "out.csv"), "--stats-json", sc, *common],
                         env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    end, res = wait_all([s, c])
    if any(r[0] for r in res):
        raise SystemExit(f"CLI run failed: {s.stderr.read()!r} {c.stderr.read()!r}")
    stats = [json.load(open(p)) for p in (sa, sc)]
    # ru_maxrss from wait4 covers a process and its reaped children (the bucket workers): the
    # bucketed summary gives the main process's own peak and its largest worker's.
    own = [st.get("peak_rss_mb", {}).get("process", r[1]) if st.get("peak_rss_mb") else r[1]
           for st, r in zip(stats, res)]
    workers = [st["peak_rss_mb"]["workers"] if st.get("peak_rss_mb") else 0.0 for st in stats]
    cpu = [r[3] for r in res]
    return {"wall": end - t0, "rss_mb": own, "worker_rss_mb": workers, "cpu_s": cpu,
            "cli_seconds": [st.get("cli_seconds") or st["phase_seconds"] for st in stats],
            "phases": stats[1]["phase_seconds"], "reader": stats[1].get("reader", "stream"),
            "bucketed": stats[1].get("bucketed"), "buckets": stats[1].get("buckets"),
            "workers": stats[1].get("workers"), "intersection": stats[1]["intersection"]}


def main() -> None:
    if sys.argv[1:2] == ["--make"]:
        return _make_files(sys.argv[3], int(sys.argv[2]))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--protocol", default="rr22", choices=("rr22", "kkrt"))
    ap.add_argument("--payload", action="store_true", help="serve sends one payload column (kkrt only)")
    ap.add_argument("--folder", default=None, help="where the generated files go (default: a temporary folder)")
    ap.add_argument("--files", nargs=2, metavar=("A", "B"), help="use these two inputs (an email column each)")
    ap.add_argument("--cli-flags", default="", help="more flags for both CLI processes, e.g. '--workers 2'")
    ap.add_argument("--learn", default="connect", choices=("connect", "both"))
    ap.add_argument("--lib", choices=("auto", "yes", "no"), default="auto",
                    help="run the library's in-memory PSI as well (auto: up to 2 million rows)")
    args = ap.parse_args()
    folder = args.folder or tempfile.mkdtemp(prefix="pqmpc-cli-bench-")
    os.makedirs(folder, exist_ok=True)
    flags = args.cli_flags.split()
    results = []
    inputs = [tuple(args.files)] if args.files else [make_files(folder, n) for n in args.rows]
    for a, b in inputs:
        n = _rows(a)
        with_lib = args.lib == "yes" or (args.lib == "auto" and n <= 2_000_000)
        for rep in range(args.reps):
            lib = run_lib(a, b, args.protocol, args.payload) if with_lib else None
            load = os.getloadavg()[0]
            cli = run_cli(a, b, folder, args.protocol, args.payload, flags, args.learn)
            row = {"rows": n, "rep": rep, "load1": round(load, 2), "cli_wall_s": round(cli["wall"], 3),
                   "cli_cpu_s": [round(x, 1) for x in cli["cpu_s"]],
                   "cli_rss_mb": [round(x) for x in cli["rss_mb"]],
                   "cli_worker_rss_mb": [round(x) for x in cli["worker_rss_mb"]],
                   "bucketed": cli["bucketed"], "buckets": cli["buckets"], "workers": cli["workers"],
                   "intersection": cli["intersection"],
                   "cli_seconds_serve": cli["cli_seconds"][0], "cli_seconds_connect": cli["cli_seconds"][1],
                   "cli_phases": cli["phases"], "reader": cli["reader"]}
            if lib is not None:
                row.update({"lib_psi_s": round(lib["psi_seconds"], 3), "lib_process_wall_s": round(lib["process_wall"], 3),
                            "cli/lib": round(cli["wall"] / lib["psi_seconds"], 2),
                            "goal_s": round(1.5 * lib["psi_seconds"] + 1, 3),
                            "lib_rss_mb": [round(x) for x in lib["rss_mb"]],
                            "lib_phases": {k: round(v, 3) for k, v in lib["phases"].items()}})
            results.append(row)
            print(json.dumps(row), flush=True)
    print(f"\nload now {os.getloadavg()[0]:.2f}")
    print("rows       path       CLI wall s  CLI CPU s (s, c)  peak RSS MB main (s, c)  worker (s, c)  "
          "lib PSI s  lib RSS MB  goal")
    for r in results:
        path = f"B={r['buckets']},w={r['workers']}" if r["bucketed"] else "in-memory"
        worst = max(r["cli_rss_mb"] + r["cli_worker_rss_mb"])
        print(f"{r['rows']:<10} {path:<10} {r['cli_wall_s']:>10.2f}  {str(r['cli_cpu_s']):>16}  "
              f"{str(r['cli_rss_mb']):>23}  {str(r['cli_worker_rss_mb']):>13}  "
              f"{r.get('lib_psi_s', float('nan')):>9.2f}  {str(r.get('lib_rss_mb', '-')):>10}  "
              f"max {worst} MB {'<=' if worst <= 2048 else '>'} 2048")


def _rows(path: str) -> int:
    """Data lines of a CSV file (bytes counted in bulk; no quoted line breaks in these inputs)."""
    n = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            n += chunk.count(b"\n")
    return max(0, n - 1)

if __name__ == "__main__":
    main()
