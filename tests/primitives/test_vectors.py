"""Known answers for the primitives, recomputed from seeds.

``vectors/primitives/primitives.json`` pins the fixed-key AES constant, the
hash definitions, the PRG and the bit order: a change to any of them is a
wire-format change and must show up here on purpose.
"""

import hashlib
import json
import pathlib

import numpy as np

from pqmpc import Rng
from pqmpc.primitives import FixedKeyAES, SeedExpander, gf128, hashing, transpose

VECTORS = pathlib.Path(__file__).resolve().parents[2] / "vectors" / "primitives" / "primitives.json"


def sha(a) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def compute() -> dict:
    rng = Rng(b"pqmpc vectors: primitives v1")
    x = rng.blocks(1000)
    tweak = np.arange(1000, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    seeds128, seeds256 = rng.blocks(4), rng.blocks(4, 32)
    mat = rng.array((128, 100))
    a, b = rng.blocks(64), rng.blocks(64)
    return {
        "rng_first_32_bytes": Rng(b"pqmpc vectors: primitives v1").bytes(32).hex(),
        "fixed_key_aes_first_block": FixedKeyAES().permute(x[:1]).tobytes().hex(),
        "fixed_key_aes_sha256": sha(FixedKeyAES().permute(x)),
        "cr_sha256": sha(hashing.cr(x)),
        "ccr_sha256": sha(hashing.ccr(x)),
        "tccr_sha256": sha(hashing.tccr(x, tweak)),
        "prg_aes128_sha256": sha(SeedExpander(seeds128).next(1000)),
        "prg_aes256_sha256": sha(SeedExpander(seeds256).next(1000)),
        "transpose_sha256": sha(transpose(mat)),
        "gf128_mul_sha256": sha(gf128.mul(a, b)),
    }


def test_primitive_vectors():
    expected = json.loads(VECTORS.read_text())
    assert compute() == expected["values"]


if __name__ == "__main__":  # regenerate after a deliberate change
    VECTORS.write_text(json.dumps({"description": "pqmpc primitives known answers; see tests/primitives/test_vectors.py",
                                   "values": compute()}, indent=2) + "\n")
