"""Saber base OT (both constructions, all variants) next to baselines from the same run.

Each figure is one complete batch of random OTs between two threads over an
in-memory channel (handshake included), so it is what a caller of
``send_random`` / ``receive_random`` waits for. Ratios are to the classical
X25519 SimplestOT and to the ML-KEM-768 Masny–Rindal OT measured in the same
run, when those modules are installed (``None`` otherwise).
"""

from __future__ import annotations

import importlib

import numpy as np

from ...net import MemoryChannel, run_pair
from ...rng import Rng
from ..timing import measure

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


def _bench(name: str, ot, n: int, repeat: int) -> dict:
    choices = Rng(b"bench/choices").bits(n)
    go = _one_batch(ot, n, choices)
    chans, m0, m1, mb = go()
    if not np.array_equal(mb, np.where(choices[:, None] == 1, m1, m0)):
        raise AssertionError(f"{name}: OT relation failed while benchmarking")
    wire = chans[0].stats.bytes_sent + chans[1].stats.bytes_sent
    r = measure(go, repeat, warmup=0)
    r.update(name=name, n=n, bytes_per_ot=wire / n, wire_bytes=wire)
    return r


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
        base_medians = {}
        for key, ot in baselines.items():
            if ot is None:
                continue
            b = _bench(f"baseline_{key}", ot, n, repeat)
            base_medians[key] = b["seconds_median"]
            out.append(b)
        for variant in VARIANTS:
            for construction in CONSTRUCTIONS:
                r = _bench(f"saber_ot_{construction}_{variant}", SaberOT(variant, construction), n, repeat)
                r.update(variant=variant, construction=construction)
                for key in baselines:
                    med = base_medians.get(key)
                    r[f"ratio_to_{key}"] = r["seconds_median"] / med if med else None
                out.append(r)
    return out
