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
