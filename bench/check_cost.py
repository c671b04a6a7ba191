"""The KOS consistency check's own cost per 2^20 rows: polynomial challenges (wire v3) against the
AES-CTR challenges they replaced (``gf128.ctr_dot`` / ``gf256.ctr_dot``, still in the library), same
process, interleaved A B A B.

    PYTHONPATH=. python bench/check_cost.py [--reps 15]

Two shapes, as the protocol runs them: the sender's ``Σ χ_j·q_j`` over chunks of rows that are in
cache (2^13 rows, reused), and the receiver's ``Σ χ_j·r_j ‖ Σ χ_j·t_j`` in one call over all 2^20
rows (from memory). Per party and shape: median wall and CPU ms per 2^20 rows, and the median
per-round ratio new / old.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

from pqmpc.primitives import gf128, gf256, gf_poly
from pqmpc.primitives.aes_kernels import round_keys_many

N = 1 << 20
CHUNK = 1 << 13


def _timed(fn) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - w) * 1e3, (time.process_time() - c) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=15)
    args = ap.parse_args()
    g = np.random.default_rng(1)
    print(json.dumps({"load": os.getloadavg(), "rows": N, "sender_chunk": CHUNK}))
    for width, field in ((16, gf128), (32, gf256)):
        s = g.integers(0, 256, width, dtype=np.uint8)
        rk = round_keys_many(s.reshape(1, width))[0]
        table = gf_poly.power_table(s, 256 if width == 16 else 512)
        chunk = g.integers(0, 256, (CHUNK, width), dtype=np.uint8)
        rows = g.integers(0, 256, (N, width), dtype=np.uint8)
        bits = g.integers(0, 2, N).astype(np.uint8)

        def old_sender():
            for k in range(N // CHUNK):
                field.ctr_dot(rk, k * CHUNK, chunk)

        def new_sender():
            r, out = gf_poly.unit(width), np.zeros(2 * width, np.uint8)
            for _ in range(N // CHUNK):
                gf_poly.accumulate(table, r, chunk, out)

        def old_receiver():
            field.ctr_dot(rk, 0, rows, bits)

        def new_receiver():
            gf_poly.accumulate(table, gf_poly.unit(width), rows, np.zeros(2 * width, np.uint8), bits)

        for fn in (old_sender, new_sender, old_receiver, new_receiver):
            fn()  # compile and warm
        for party, old, new in (("sender", old_sender, new_sender), ("receiver", old_receiver, new_receiver)):
            res = {"old": [], "new": []}
            for _ in range(args.reps):
                res["old"].append(_timed(old))
                res["new"].append(_timed(new))
            med = {k: [statistics.median(x[i] for x in v) for i in (0, 1)] for k, v in res.items()}
            ratio = [statistics.median(b[i] / a[i] for a, b in zip(res["old"], res["new"]) if a[i] > 0)
                     for i in (0, 1)]
            print(json.dumps({"kappa": 8 * width, "party": party,
                              "aes_ctr_ms": {"wall": round(med["old"][0], 3), "cpu": round(med["old"][1], 3)},
                              "poly_ms": {"wall": round(med["new"][0], 3), "cpu": round(med["new"][1], 3)},
                              "poly/aes": {"wall": round(ratio[0], 3), "cpu": round(ratio[1], 3)}}))
    print(json.dumps({"load": os.getloadavg()}))


if __name__ == "__main__":
    main()
