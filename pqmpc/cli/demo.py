"""``pqmpc demo``: the main job end to end on shipped example data.

Two generated example files travel with the package (``pqmpc/data/demo``):
a member list and a newsletter list with names, e-mail addresses and
non-ASCII text, overlapping in part and with a few duplicate rows. The demo
copies them to a working folder and runs the real thing: two separate
processes, ``pqmpc psi serve`` and ``pqmpc psi connect``, talking over TCP on
127.0.0.1, each writing the rows of its own file whose e-mail the other file
also holds. It then prints what each side learned and wrote.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from importlib import resources

from ..errors import PqmpcError
from ..util import interrupt
from ..util.text import plural

FILES = ("members_a.csv", "subscribers_b.csv")
KEY = "email"
NORMALIZE = ("trim", "lower")

DESCRIPTION = ("Runs the main job end to end on two example CSV files that ship with pqmpc (a member list and a "
               "newsletter list with names, e-mail addresses and non-ASCII text, overlapping in part, with a few "
               "duplicate rows): two separate processes, 'pqmpc psi serve' and 'pqmpc psi connect', talk over "
               "TCP on 127.0.0.1 through the secure channel with throwaway identities, and each writes the rows "
               "of its own file whose e-mail the other file also holds. The report ends with the commands that "
               "repeat it by hand.")
HELP = "run a private set intersection on example data (two processes, loopback)"


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help=HELP, description=DESCRIPTION)
    p.add_argument("--dir", metavar="FOLDER",
                   help="working folder for the example files and outputs (default: a new temporary folder, kept)")
    p.add_argument("--learn", choices=("both", "serve", "connect"), default="both",
                   help="who learns the intersection")
    p.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS", help="stop the demo after this long")
    p.add_argument("--json", action="store_true", help="print the two parties' JSON summaries instead of a report")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_examples(folder: str) -> list[str]:
    os.makedirs(folder, exist_ok=True)
    paths = []
    base = resources.files("pqmpc").joinpath("data", "demo")
    for name in FILES:
        src = base.joinpath(name)
        if not src.is_file():
            raise PqmpcError(f"the example file {name} is missing from the installed package (pqmpc/data/demo)")
        dst = os.path.join(folder, name)
        with src.open("rb") as fi, open(dst, "wb") as fo:
            shutil.copyfileobj(fi, fo)
        paths.append(dst)
    return paths


def _throwaway_identities(folder: str) -> dict:
    """A fresh identity per party, as two people would make with ``pqmpc keygen``: {label: (key, pub, fp)}."""
    from ..net.secure import Identity

    out = {}
    for label in ("serve", "connect"):
        ident = Identity.generate()
        key, pub = ident.save(os.path.join(folder, f"demo-{label}"), overwrite=True)
        out[label] = (str(key), str(pub), ident.fingerprint)
    return out


def _child_env() -> dict:
    env = dict(os.environ)
    # The children must import this very pqmpc, installed or not.
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


_PRINT = threading.Lock()


def _pump(stream, label: str, quiet: bool, sink: list) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\n")
        sink.append(line)
        if not quiet:
            text = line.removeprefix("[pqmpc] ")
            with _PRINT:
                print(f"  [{label}] {text}", file=sys.stderr, flush=True)
    stream.close()


def run(args) -> int:
    t0 = time.perf_counter()
    folder = os.path.abspath(args.dir) if args.dir else tempfile.mkdtemp(prefix="pqmpc-demo-")
    a_path, b_path = copy_examples(folder)
    out_a = os.path.join(folder, "members_a.matches.csv")
    out_b = os.path.join(folder, "subscribers_b.matches.csv")
    for stale in (out_a, out_b):
        if os.path.exists(stale):
            os.unlink(stale)
    port = _free_port()
    common = ["--key", KEY, "--normalize", ",".join(NORMALIZE), "--learn", args.learn, "--json"]
    keys = _throwaway_identities(folder)
    py = [sys.executable, "-m", "pqmpc.cli.main", "psi"]
    cmds = {
        "serve": py + ["serve", "--input", a_path, "--listen", f"127.0.0.1:{port}", "--output", out_a,
                       "--wait", str(args.timeout), "--identity", keys["serve"][0], "--peer", keys["connect"][1]]
                 + common,
        "connect": py + ["connect", "--input", b_path, "--connect", f"127.0.0.1:{port}", "--output", out_b,
                         "--connect-retry", "60", "--identity", keys["connect"][0], "--peer", keys["serve"][1]]
                   + common,
    }
    if not args.quiet:
        print(f"pqmpc demo: PSI of two example CSV files, two processes over TCP 127.0.0.1:{port}", file=sys.stderr)
        print(f"  working folder: {folder}", file=sys.stderr)
        print("  (the very first run also compiles the numba kernels, which takes a few seconds more)",
              file=sys.stderr, flush=True)
    procs, logs, outs, pumps = {}, {}, {}, []
    env = _child_env()
    for path in (out_a, out_b):
        interrupt.remove_on_interrupt(path)

    def stop_children():
        # On a terminal the children got the same Ctrl-C; from kill(1) or a parent they did not.
        # SIGTERM, not SIGINT: a child still starting Python has no handler yet, and SIGINT
        # would make the interpreter print a KeyboardInterrupt traceback there.
        for p in list(procs.values()):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in list(procs.values()):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()

    with interrupt.on_interrupt(stop_children):
        try:
            for label, cmd in cmds.items():
                with interrupt.file_lock():  # a child started while stop_children() runs would outlive it
                    procs[label] = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                                    cwd=folder)
                logs[label] = []
                th = threading.Thread(target=_pump, args=(procs[label].stderr, label, args.quiet, logs[label]),
                                      daemon=True)
                th.start()
                pumps.append(th)
                outs[label] = []
                th = threading.Thread(target=lambda f, o: o.append(f.read()), args=(procs[label].stdout, outs[label]),
                                      daemon=True)
                th.start()
                pumps.append(th)
            deadline = time.monotonic() + args.timeout
            for p in procs.values():
                p.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise PqmpcError(f"the demo did not finish within {args.timeout:g} s (raise --timeout)") from None
        finally:
            for p in procs.values():
                if p.poll() is None:
                    p.kill()
                    p.wait()
            for th in pumps:
                th.join(5)
    failed = [label for label, p in procs.items() if p.returncode != 0]
    if failed:
        label = failed[0]
        last = next((ln for ln in reversed(logs[label]) if ln.startswith("pqmpc:")), None) or \
            (logs[label][-1] if logs[label] else f"exit code {procs[label].returncode}")
        raise PqmpcError(f"the {label} process failed: {last}")
    summaries = {}
    for label, out in outs.items():
        try:
            summaries[label] = json.loads(b"".join(out).decode("utf-8").strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise PqmpcError(f"the {label} process printed no summary") from None
    if args.json:
        print(json.dumps({"folder": folder, "serve": summaries["serve"], "connect": summaries["connect"],
                          "fingerprints": {label: k[2] for label, k in keys.items()},
                          "seconds": round(time.perf_counter() - t0, 3)}, ensure_ascii=False))
        return 0
    print(_report(summaries, folder, time.perf_counter() - t0, port, {label: k[2] for label, k in keys.items()}))
    return 0


def _protocol_line(side: dict) -> str:
    p = side["params"]
    line = f"  protocol: {side['protocol']} ({side['mode']}), base OT {p['base_ot']} (post-quantum), "
    if side["protocol"] == "kkrt":
        return line + f"{p['code_bits']}-bit code, {p['tag_bits']}-bit tags, kappa {p['kappa']}"
    return line + f"{p['vole']}, kappa {side['kappa']}"


def hint_commands(port: int, learn: str = "both") -> list[str]:
    """The commands that repeat this demo by hand: the same files, key, normalization and --learn."""
    common = f"--key {KEY} --normalize {','.join(NORMALIZE)}" + ("" if learn == "both" else f" --learn {learn}")
    out_a = "" if learn == "connect" else " --output A.matches.csv"
    out_b = "" if learn == "serve" else " --output B.matches.csv"
    return [
        "pqmpc keygen --out A    # on A; swap the .pub files and compare the fingerprints",
        "pqmpc keygen --out B    # on B",
        f"pqmpc psi serve   --input {FILES[0]} {common} --listen 0.0.0.0:{port}{out_a} --identity A.key --peer B.pub",
        f"pqmpc psi connect --input {FILES[1]} {common} --connect 127.0.0.1:{port}{out_b} --identity B.key "
        "--peer A.pub    # from another machine: A's address",
    ]


def _report(s: dict, folder: str, seconds: float, port: int, fingerprints: dict | None = None) -> str:
    a, b = s["serve"], s["connect"]
    inter = a["intersection"] if a["intersection"] is not None else b["intersection"]
    lines = ["", f"pqmpc demo — private set intersection on e-mail addresses (normalized: {', '.join(NORMALIZE)})"]
    for label, role, side in (("A", "serve", a), ("B", "connect", b)):
        lines.append(f"  {label} ({role}) {os.path.basename(side['input'])}: {plural(side['rows_read'], 'row')}, "
                     f"{plural(side['distinct_keys'], 'distinct key')}, "
                     f"{plural(side['duplicate_keys'], 'duplicate')}")
    lines.append(f"  intersection: {plural(inter, 'e-mail address', 'e-mail addresses')}")
    for label, side in (("A", a), ("B", b)):
        if side["output"]:
            lines.append(f"  {label} wrote {plural(side['rows_written'], 'matching row')} to {side['output']}")
        else:
            lines.append(f"  {label} learns nothing and wrote no file")
    lines += [(f"  time: {seconds:.2f} s wall (protocol sides {a['seconds']:.2f} s / {b['seconds']:.2f} s); "
               f"A sent {a['bytes_sent'] / 1e6:.2f} MB, B sent {b['bytes_sent'] / 1e6:.2f} MB"),
              _protocol_line(a)]
    if fingerprints:
        lines += ["  channel: post-quantum authenticated and encrypted (X-Wing = ML-KEM-768 + X25519; AES-256-GCM)",
                  f"    throwaway identities: A {fingerprints['serve']}, B {fingerprints['connect']}"]
    lines += ["", f"  Run it yourself: two terminals in {folder} (or two machines, one file on each):"]
    lines += [f"    {cmd}" for cmd in hint_commands(port, a.get("learn", "both"))]
    return "\n".join(lines)
