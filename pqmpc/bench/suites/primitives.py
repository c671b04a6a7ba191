"""Primitive throughput next to raw OpenSSL AES-ECB measured in the same run."""

from __future__ import annotations

import numpy as np

from ...primitives import FixedKeyAES, SeedExpander, gf128, hashing, transpose
from ...rng import Rng
from ..timing import aes_ecb_baseline, measure, rate


def run(quick: bool = False) -> list[dict]:
    n = 1 << (18 if quick else 20)
    rep = 3 if quick else 7
    rng = Rng(b"bench/primitives")
    x = rng.blocks(n)
    tweak = np.arange(n, dtype=np.uint64)
    perm = FixedKeyAES()
    base = aes_ecb_baseline(n, rep)
    out = [base]

    def add(name, fn, items, **extra):
        r = rate(measure(fn, rep), items, "blocks_per_s")
        r.update(name=name, n=items, ratio_to_aes_ecb=r["blocks_per_s"] / base["blocks_per_s"], **extra)
        out.append(r)

    add("fixed_key_aes_permute", lambda: perm.permute(x), n)
    add("cr_hash", lambda: hashing.cr(x), n)
    add("tccr_hash", lambda: hashing.tccr(x, tweak), n)
    if hasattr(hashing, "tccr_wide"):
        xw = rng.blocks(n // 2, 32)
        add("tccr_wide_hash_32B", lambda: hashing.tccr_wide(xw, tweak[: n // 2]), n // 2)
    seeds = rng.blocks(128)
    add("prg_aes128_ctr_128_seeds", lambda: SeedExpander(seeds).next(n // 8), 128 * n // 128)
    mat = rng.array((128, n // 8))
    add("transpose_128xN", lambda: transpose(mat), n, bits=128 * n)
    m = min(n, 1 << 18)
    a, b = rng.blocks(m), rng.blocks(m)
    add("gf128_mul", lambda: gf128.mul(a, b), m)
    return out
