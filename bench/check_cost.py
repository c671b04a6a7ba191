"""The KOS consistency check's own cost per 2^20 rows with its polynomial challenges (wire v3).

    PYTHONPATH=. python bench/check_cost.py [--reps 15]

Two shapes, as the protocol runs them, with its power tables (``check.TABLE_ROWS``): the sender's
``Σ χ_j·q_j`` over chunks of rows that are in cache (2^13 rows, reused), and the receiver's
``Σ χ_j·r_j ‖ Σ χ_j·t_j`` in one call over all 2^20 rows, from memory: before each receiver rep
(untimed) 64 MiB are written, so its rows are not left in L3 by the previous rep (in the protocol
they were written long before the coin opens). Per party and shape: median wall and CPU ms per 2^20 rows.
With ``--kernel``, also the vector kernel alone (``gf_poly_vec.tab_dot*`` with the pick, on one
table-sized block in L1, 2^20 rows' worth; no per-block folds, no memory): what the carry-less
multiplies and the shuffles beside them cost, the floor of both shapes above. (Against the
AES-CTR challenges of wire v2, measured with this script's earlier version before their kernels
were removed: 0.63× at κ = 128, 0.61–0.69× at κ = 256; see docs/malicious-ot.md.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np
from numba import njit

from pqmpc.ot.ext import check
from pqmpc.primitives import gf_poly
from pqmpc.primitives.gf_poly_vec import STEP_ROWS, tab_dot128, tab_dot256

N = 1 << 20
CHUNK = 1 << 13


def _timed(fn) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - w) * 1e3, (time.process_time() - c) * 1e3


_LANES = gf_poly.LANES


def _kernel_loop(dot):
    @njit
    def run(p, blk, sel, reps):
        # every output word folded in (else the compiler drops the products no word needs), and the
        # block's first word changed each time (else the loop-invariant sums are hoisted out)
        a = np.uint64(0)
        steps = blk.shape[0] // STEP_ROWS
        for _ in range(reps):
            blk[0, 0] ^= a
            v = dot(p, blk, sel, steps, True, _LANES)
            for q in range(len(v)):
                a ^= v[q]
        return a
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--kernel", action="store_true", help="also time the vector kernel alone (in L1)")
    args = ap.parse_args()
    g = np.random.default_rng(1)
    print(json.dumps({"load": os.getloadavg(), "rows": N, "sender_chunk": CHUNK}))
    for width in (16, 32):
        s = g.integers(0, 256, width, dtype=np.uint8)
        table = gf_poly.power_table(s, check.TABLE_ROWS[width])
        chunk = g.integers(0, 256, (CHUNK, width), dtype=np.uint8)
        rows = g.integers(0, 256, (N, width), dtype=np.uint8)
        bits = g.integers(0, 2, N).astype(np.uint8)

        def sender():
            r, out = gf_poly.unit(width), np.zeros(2 * width, np.uint8)
            for _ in range(N // CHUNK):
                gf_poly.accumulate(table, r, chunk, out)

        def receiver():
            gf_poly.accumulate(table, gf_poly.unit(width), rows, np.zeros(2 * width, np.uint8), bits)

        evict = np.zeros(1 << 23, dtype=np.uint64)

        blk = table.copy()

        loop = _kernel_loop(tab_dot128 if width == 16 else tab_dot256)

        def kernel():
            loop(table, blk, bits[:blk.shape[0]], N // blk.shape[0])

        shapes = [("sender", sender), ("receiver", receiver)]
        if args.kernel and gf_poly.LANES >= (1 if width == 16 else 2):
            shapes.append(("kernel", kernel))
        for party, fn in shapes:
            fn()  # compile and warm
            got = []
            for _ in range(args.reps):
                if party == "receiver":
                    evict += 1
                got.append(_timed(fn))
            print(json.dumps({"kappa": 8 * width, "party": party,
                              "ms_per_2^20": {"wall": round(statistics.median(x[0] for x in got), 3),
                                              "cpu": round(statistics.median(x[1] for x in got), 3)}}))
    print(json.dumps({"load": os.getloadavg()}))


if __name__ == "__main__":
    main()
