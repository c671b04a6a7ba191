"""Recompute the pinned garbling vectors in vectors/gc/*.json.

A change here means the garbled-table wire format changed (hash, tweak numbering,
table layout, schedule order, constant label or Rng use): make it deliberately.
"""

import hashlib
import json
from pathlib import Path

import pytest

from pqmpc.gc.build import CircuitBuilder
from pqmpc.gc.circuit import Circuit, bits_to_int, int_to_bits
from pqmpc.gc.evaluate import evaluate_garbled
from pqmpc.gc.garble import garble
from pqmpc.rng import Rng

ROOT = Path(__file__).resolve().parents[2]
VECTORS = sorted((ROOT / "vectors" / "gc").glob("*.json"))


def builder_sample() -> Circuit:
    """The builder circuit pinned in vectors/gc/builder_mix16.json."""
    b = CircuitBuilder()
    x, y = b.input(16), b.input(16)
    b.output(x + y, b.lt(x, y, signed=True), b.popcount(x ^ y), b.const(0b101, 3))
    b.output(b.mux(b.eq(x, y), x, y) - 7)
    return b.build()


def load_circuit(spec: str) -> Circuit:
    if spec == "builder:mix16":
        return builder_sample()
    return Circuit.from_bristol(ROOT / spec)


def compute(vec: dict) -> dict:
    c = load_circuit(vec["circuit"])
    garbled, enc = garble(c, rng=Rng(vec["rng_seed"].encode()), kappa=vec.get("kappa", 128),
                          scheme=vec.get("scheme", "halfgates"))
    ins = [int_to_bits(v, n) for v, n in zip(vec["inputs"], c.input_sizes)]
    out = evaluate_garbled(garbled, enc.encode(ins))
    return {
        "circuit_sha256": c.digest().hex(),
        "delta": enc.delta.tobytes().hex(),
        "tables_sha256": hashlib.sha256(garbled.tables.tobytes()).hexdigest(),
        "table_bytes": garbled.table_bytes,
        "decoding": "".join(map(str, garbled.decoding.tolist())),
        "output_labels": [lab.tobytes().hex() for lab in out],
        "outputs": [bits_to_int(o) for o in garbled.decode(out)],
    }


def test_vectors_present():
    assert len(VECTORS) >= 5


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.name)
def test_vector(path):
    vec = json.loads(path.read_text())
    got = compute(vec)
    for key, value in got.items():
        assert value == vec[key], f"{path.name}: {key} differs"
    c = load_circuit(vec["circuit"])
    plain = c.evaluate([int_to_bits(v, n) for v, n in zip(vec["inputs"], c.input_sizes)])
    assert [bits_to_int(o) for o in plain] == vec["outputs"]


if __name__ == "__main__":
    # Regenerate the computed fields (circuit, seed, inputs stay): only for a deliberate
    # change of the garbled format, named in the commit message.
    for path in VECTORS:
        vec = json.loads(path.read_text())
        vec.update(compute(vec))
        path.write_text(json.dumps(vec, indent=1) + "\n")
        print(f"wrote {path}")
