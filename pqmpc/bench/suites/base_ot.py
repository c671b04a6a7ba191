"""KyberOT (Masny–Rindal over ML-KEM) per variant and backend, against X25519 SimplestOT.

Each OT figure is one complete batch of random OTs between two threads over an
in-memory channel, handshake included.  Protocols are timed round-robin, so load
swings on a shared machine hit all of them alike and the ratio to SimplestOT
(measured in the same run) stays meaningful.  The KEM entries compare the batched
reference code with one OpenSSL call per key — the measurement behind
``backend="auto"``.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from ...lattice import kem, mlkem
from ...net import MemoryChannel, run_pair
from ...rng import Rng


def _ot_entry(name: str, ot, n: int, **info) -> dict:
    choices = Rng(b"bench/choices").bits(n)

    def go():
        chans = MemoryChannel.pair()
        (m0, m1), mb = run_pair(lambda ch: ot.send_random(ch, n, Rng(b"bench/s")),
                                lambda ch: ot.receive_random(ch, choices, Rng(b"bench/r")),
                                timeout=600, channels=chans)
        return chans, m0, m1, mb

    chans, m0, m1, mb = go()
    if not np.array_equal(mb, np.where(choices[:, None] == 1, m1, m0)):
        raise AssertionError(f"{name}: OT relation failed while benchmarking")
    wire = chans[0].stats.bytes_sent + chans[1].stats.bytes_sent
    return dict(name=name, n=n, bytes_per_ot=wire / n, go=go, **info)


def _kem_entries(n: int) -> list[dict]:
    """Receiver key generation and sender encapsulation: batched reference vs OpenSSL calls."""
    out = []
    rng = Rng(b"bench/kem")
    d, z = rng.blocks(n, 32), rng.blocks(n, 32)
    rho = rng.bytes(32)
    out.append(dict(name="mlkem768_keygen_shared_rho_reference", n=n, backend="reference", bytes_per_ot=None,
                    go=lambda: mlkem.keygen_shared_keys("ML-KEM-768", rho, d, z)))
    ek, _ = mlkem.keygen_batch("ML-KEM-768", d, z)
    ref = kem.get_backend("ML-KEM-768", "reference")
    out.append(dict(name="mlkem768_encaps_reference", n=n, backend="reference", bytes_per_ot=None,
                    go=lambda: ref.encaps(ek, Rng(b"m"))))
    if "ML-KEM-768" in next(b for b in kem.available_backends() if b["name"] == "openssl")["variants"]:
        from cryptography.hazmat.primitives.asymmetric import mlkem as ossl

        seeds = [d[i].tobytes() + z[i].tobytes() for i in range(n)]
        out.append(dict(name="mlkem768_keygen_openssl_per_call", n=n, backend="openssl", bytes_per_ot=None,
                        go=lambda: [ossl.MLKEM768PrivateKey.from_seed_bytes(s).public_key().public_bytes_raw()
                                    for s in seeds]))
        be = kem.get_backend("ML-KEM-768", "openssl")
        out.append(dict(name="mlkem768_encaps_openssl_per_call", n=n, backend="openssl", bytes_per_ot=None,
                        go=lambda: be.encaps(ek, Rng(b"m"))))
    return out


def run(quick: bool = False) -> list[dict]:
    from ...ot.base.kyber import KyberOT

    try:
        from ...ot.base.simplest import SimplestOT
    except ImportError:
        SimplestOT = None
    backends = {b["name"]: b for b in kem.available_backends() if b["available"]}
    sizes = (128,) if quick else (128, 1024)
    results: list[dict] = []
    for n in sizes:
        repeat = (5 if quick else 15) if n <= 128 else (3 if quick else 7)
        entries = []
        if SimplestOT is not None:
            entries.append(_ot_entry("baseline_simplest_ot", SimplestOT(), n, backend="x25519"))
        for variant in mlkem.VARIANTS:
            for be in ("reference", "openssl", "liboqs"):
                if be not in backends or variant not in backends[be]["variants"]:
                    continue
                if quick and be != "reference" and variant != "ML-KEM-768":
                    continue
                ot = KyberOT(variant, backend=be)
                entries.append(_ot_entry(f"kyber_ot_{variant}_{be}", ot, n, variant=variant, backend=be))
            if variant == "ML-KEM-1024":
                ot = KyberOT(variant, backend="reference", block_bytes=32)
                entries.append(_ot_entry(f"kyber_ot_{variant}_reference_256bit", ot, n, variant=variant,
                                         backend="reference", block_bytes=32))
        if n <= 128:
            entries += _kem_entries(n)
        for e in entries:
            e["times"] = []
        for _ in range(repeat):
            for e in entries:
                t0 = time.perf_counter()
                e["go"]()
                e["times"].append(time.perf_counter() - t0)
        base = None
        for e in entries:
            times = e.pop("times")
            del e["go"]
            e.update(seconds_min=min(times), seconds_median=statistics.median(times), seconds_max=max(times),
                     repeat=repeat)
            if e["name"] == "baseline_simplest_ot":
                base = e["seconds_median"]
        for e in entries:
            if e["name"].startswith("kyber_ot_"):
                e["ratio_to_simplest_ot"] = e["seconds_median"] / base if base else None
        results.extend(entries)
    return results
