"""OT extension per call: the first call of a fresh process and the steady state, with page faults.

Two processes over TCP on 127.0.0.1 (sender listens, receiver dials), like a real
deployment. Per protocol (IKNP κ = 128, Ferret b13) and per process:

* ``first``: the first call of the process (``first_n`` random COTs), base OTs / Ferret
  bootstrap, kernel loading and first-touch memory included; ``import_s`` is the time to
  import the protocol before it;
* ``fresh``: steady calls that allocate their results (the default API);
* ``out``: steady calls into the caller's reused arrays (``out=``, ``choices_out=``);

each with seconds (the slower party) and minor page faults per party. Both processes run
with glibc told to keep freed memory (``GLIBC_TUNABLES``), as the emp comparison does, so
``out`` shows what the library itself touches. ``run`` adds an AES-ECB baseline from the
same run (ratios, not absolute rates, survive a noisy machine); :func:`measure` is the
building block for other suites and for ``bench/ot_ext_emp.py``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

__all__ = ["loopback_channel", "measure", "party", "run", "TUNABLES"]

TUNABLES = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736"


def _minflt() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def loopback_channel(role: str, port: int):
    """The two-process benches' channel: the sender listens on ``port``, the receiver dials it
    (retrying while the sender starts); long timeouts, since a call at 2^24 on a loaded machine is slow."""
    from ...net import TcpChannel, TcpListener

    if role == "sender":
        with TcpListener("127.0.0.1", port) as lst:
            ch = lst.accept(timeout=120)
    else:
        ch = TcpChannel.connect("127.0.0.1", port, timeout=600, retry_for=60)
    ch.set_timeout(900)
    return ch


def party(role: str, port: int, proto: str, n: int, first_n: int, reps: int, modes=("fresh", "out")) -> dict:
    """One party: a first call of ``first_n``, then ``reps`` calls of ``n`` per mode."""
    t0 = time.perf_counter()
    import numpy as np

    from ...ot import IKNP, Ferret

    ot = IKNP() if proto == "iknp" else Ferret("b13")
    res = {"role": role, "import_s": time.perf_counter() - t0}
    ch = loopback_channel(role, port)
    q = np.empty((n, 16), np.uint8) if "out" in modes else None
    b = np.empty(n, np.uint8) if "out" in modes and role == "receiver" else None

    def call(m, mode):
        kw = {}
        if mode == "out":
            kw = {"out": q[:m]} if role == "sender" else {"out": q[:m], "choices_out": b[:m]}
        if role == "sender":
            return ot.send_random_correlated(ch, m, **kw)
        return ot.receive_random_correlated(ch, m, **kw)

    def sync():  # both clocks start together
        if role == "sender":
            ch.send(b"go")
            ch.recv()
        else:
            ch.recv()
            ch.send(b"ok")

    with ch:
        sync()
        f0, c0, t0 = _minflt(), time.process_time(), time.perf_counter()
        call(first_n, "fresh")
        res["first"] = {"n": first_n, "seconds": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                        "minflt": _minflt() - f0}
        if q is not None:  # the caller's arrays exist before the steady calls, as in an application
            q.fill(0)
            if b is not None:
                b.fill(0)
        for mode in modes:
            res[mode] = []
            for _ in range(reps):
                sync()
                f0, c0, t0 = _minflt(), time.process_time(), time.perf_counter()
                out = call(n, mode)
                res[mode].append({"seconds": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                                  "minflt": _minflt() - f0})
                del out
    return res


def measure(proto: str, n: int, first_n: int, reps: int = 3, modes=("fresh", "out"), port: int = 0) -> dict:
    """Run both parties in fresh processes; merged figures (the slower party's seconds)."""
    import socket

    if not port:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    env = dict(os.environ, GLIBC_TUNABLES=TUNABLES)
    cmd = [sys.executable, "-m", __name__, "--proto", proto, "--n", str(n), "--first-n", str(first_n),
           "--reps", str(reps), "--port", str(port), "--modes", ",".join(modes)]
    procs = [subprocess.Popen(cmd + ["--role", r], env=env, stdout=subprocess.PIPE, text=True)
             for r in ("sender", "receiver")]
    s, r = (json.loads(p.communicate(timeout=1800)[0].strip().splitlines()[-1]) for p in procs)
    out = {"proto": proto, "n": n, "first_n": first_n,
           "import_s": max(s["import_s"], r["import_s"]),
           "first_s": max(s["first"]["seconds"], r["first"]["seconds"]),
           "first_minflt": [s["first"]["minflt"], r["first"]["minflt"]]}
    for mode in modes:
        secs = [max(a["seconds"], c["seconds"]) for a, c in zip(s[mode], r[mode])]
        out[mode] = {"seconds": secs, "per_s": [n / x for x in secs],
                     "minflt": [[a["minflt"], c["minflt"]] for a, c in zip(s[mode], r[mode])],
                     "cpu_s": [[a.get("cpu_s"), c.get("cpu_s")] for a, c in zip(s[mode], r[mode])]}
    return out


def run(quick: bool = False) -> list[dict]:
    from ..timing import aes_ecb_baseline

    base = aes_ecb_baseline(1 << 18 if quick else 1 << 20, 3 if quick else 5)
    results = []
    for proto, n, first_n in (("iknp", 1 << (20 if quick else 22), 1 << 20),
                              ("ferret", 1 << (21 if quick else 23), 1 << 20)):
        m = measure(proto, n, first_n, reps=2 if quick else 3)
        for mode in ("fresh", "out"):
            best = max(m[mode]["per_s"])
            m[mode]["ratio_to_aes_ecb"] = best / base["blocks_per_s"]
        m["name"] = f"{proto}_random_cot_calls"
        results.append(m)
    return results


def _main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description="one party of an OT-extension call measurement")
    ap.add_argument("--role", choices=("sender", "receiver"), required=True)
    ap.add_argument("--proto", choices=("iknp", "ferret"), required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--first-n", type=int, required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--modes", default="fresh,out")
    a = ap.parse_args()
    print(json.dumps(party(a.role, a.port, a.proto, a.n, a.first_n, a.reps, tuple(a.modes.split(",")))))


if __name__ == "__main__":
    _main()
