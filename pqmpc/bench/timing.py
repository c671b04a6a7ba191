"""Measurement helpers shared by every benchmark suite.

Machines here are shared and noisy: suites report min/median/max over
repetitions and, for each figure, a ratio to a baseline measured in the
same run (raw OpenSSL AES-ECB for symmetric work, X25519 OT for base OT).
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def measure(fn, repeat: int = 5, warmup: int = 1) -> dict:
    """Run ``fn()`` ``warmup + repeat`` times; seconds of the timed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"seconds_min": min(times), "seconds_median": statistics.median(times), "seconds_max": max(times),
            "repeat": repeat}


def aes_ecb_baseline(nblocks: int = 1 << 20, repeat: int = 5) -> dict:
    """Raw AES-128-ECB throughput through OpenSSL ``update_into`` (blocks/s)."""
    enc = Cipher(algorithms.AES(bytes(range(16))), modes.ECB()).encryptor()
    src = np.zeros(nblocks * 16, dtype=np.uint8)
    dst = np.empty(nblocks * 16 + 16, dtype=np.uint8)
    t = measure(lambda: enc.update_into(src, dst), repeat)
    t.update(name="aes128_ecb_update_into", n=nblocks, blocks_per_s=nblocks / t["seconds_median"])
    return t


def rate(result: dict, items: int, key: str = "per_s") -> dict:
    result[key] = items / result["seconds_median"] if result["seconds_median"] > 0 else float("inf")
    return result


def with_tcp_child(child_call: str, local, label: str, accept_timeout: float = 600, timeout: float = 3600):
    """Run one party here and the other in a child Python process, over TCP loopback.

    ``child_call`` is Python source calling the child party with ``{port}`` left to
    fill in; the child connects, runs, and prints its result as JSON on its last
    stdout line. ``local(ch)`` runs the other party here. Returns ``(local result,
    child result)``; a failing child raises with the tail of its stderr.
    """
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from ..net import TcpListener

    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with TcpListener("127.0.0.1", 0) as listener:
        child = subprocess.Popen([sys.executable, "-c", child_call.format(port=listener.port)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            with listener.accept(timeout=accept_timeout) as ch:
                mine = local(ch)
            out, err = child.communicate(timeout=timeout)
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"{label} child process failed: {err.strip()[-1000:]}")
    return mine, json.loads(out.strip().splitlines()[-1])


def tcp_child_party(port: int, party) -> None:
    """The child side of :func:`with_tcp_child`: connect, run ``party(ch)``, print JSON."""
    import json

    from ..net import TcpChannel

    with TcpChannel.connect("127.0.0.1", port, timeout=600, retry_for=60) as ch:
        out = party(ch)
    print(json.dumps(out, default=float))
