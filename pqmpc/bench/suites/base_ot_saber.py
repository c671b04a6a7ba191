"""Saber base OT (both constructions, all variants) next to baselines from the same run.

Each figure is one complete batch of random OTs between two threads over an
in-memory channel (handshake included), so it is what a caller of
``send_random`` / ``receive_random`` waits for. Ratios are to the classical
X25519 SimplestOT and to the ML-KEM-768 Masny–Rindal OT measured in the same
run, when those modules are installed (``None`` otherwise).
"""

from __future__ import annotations

import importlib
import statistics
import time

import numpy as np

from ...net import MemoryChannel, run_pair
from ...rng import Rng

VARIANTS = ("LightSaber", "Saber", "FireSaber")
CONSTRUCTIONS = ("np", "mr")


def _one_batch(ot, n: int, choices: np.ndarray):
    def go():
        chans = MemoryChannel.pair()
        (m0, m1), mb = run_pair(lambda ch: ot.send_random(ch, n, Rng(b"bench/sender")),
                                lambda ch: ot.receive_random(ch, choices, Rng(b"bench/receiver")),
                                timeout=600, channels=chans)
        return chans, m0, m1, mb
    return go


def _prepare(name: str, ot, n: int) -> dict:
    """One checked run (relation and wire bytes), and the closure to time."""
    choices = Rng(b"bench/choices").bits(n)
    go = _one_batch(ot, n, choices)
    chans, m0, m1, mb = go()
    if not np.array_equal(mb, np.where(choices[:, None] == 1, m1, m0)):
        raise AssertionError(f"{name}: OT relation failed while benchmarking")
    wire = chans[0].stats.bytes_sent + chans[1].stats.bytes_sent
    return {"name": name, "n": n, "bytes_per_ot": wire / n, "wire_bytes": wire, "go": go, "times": []}


def _baseline(module: str, cls: str, *args):
    try:
        return getattr(importlib.import_module(module), cls)(*args)
    except (ImportError, AttributeError):
        return None


def run(quick: bool = False) -> list[dict]:
    from ...ot.base.saber import SaberOT

    sizes = (128,) if quick else (128, 1024)
    out: list[dict] = []
    baselines = {
        "simplest_ot": _baseline("pqmpc.ot.base.simplest", "SimplestOT"),
        "kyber_ot": _baseline("pqmpc.ot.base.kyber", "KyberOT", "ML-KEM-768"),
    }
    for n in sizes:
        repeat = (5 if quick else 15) if n <= 128 else (3 if quick else 7)
        entries = [_prepare(f"baseline_{key}", ot, n) for key, ot in baselines.items() if ot is not None]
        for variant in VARIANTS:
            for construction in CONSTRUCTIONS:
                e = _prepare(f"saber_ot_{construction}_{variant}", SaberOT(variant, construction), n)
                e.update(variant=variant, construction=construction)
                entries.append(e)
        # Round-robin, so load changes on a shared machine hit every protocol alike
        # and the ratios stay meaningful.
        for _ in range(repeat):
            for e in entries:
                t0 = time.perf_counter()
                e["go"]()
                e["times"].append(time.perf_counter() - t0)
        medians = {}
        for e in entries:
            times = e.pop("times")
            del e["go"]
            e.update(seconds_min=min(times), seconds_median=statistics.median(times), seconds_max=max(times),
                     repeat=repeat)
            medians[e["name"]] = e["seconds_median"]
        for e in entries:
            if e["name"].startswith("saber_ot_"):
                for key in baselines:
                    med = medians.get(f"baseline_{key}")
                    e[f"ratio_to_{key}"] = e["seconds_median"] / med if med else None
        out.extend(entries)
    return out
