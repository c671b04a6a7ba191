"""Seeded Yao runs against the transcripts pinned in ``vectors/twopc/yao_transcripts.json``.

A run with seeded ``Rng``s on both sides is deterministic, so the exact bytes each
party sends are a known answer: any change to the wire format (of Yao, or of the
OT it runs on) shows up here as a deliberate, visible change. After such a change,
regenerate with ``python tests/twopc/test_vectors.py`` and say why in the commit.
"""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from pqmpc.gc import aes128 as aes_circuit
from pqmpc.gc.circuit import Circuit, bits_to_int, int_to_bits
from pqmpc.net import MemoryChannel, run_pair
from pqmpc.rng import Rng
from pqmpc.twopc.yao import yao_evaluator, yao_garbler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from twopc_helpers import TamperChannel

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "vectors" / "twopc" / "yao_transcripts.json"


def _case(name):
    if name == "adder64_iknp":
        c = Circuit.from_bristol(ROOT / "vectors" / "external" / "bristol" / "adder64.txt")
        return c, [int_to_bits(0x0123456789ABCDEF, 64)], [int_to_bits(0xFEDCBA9876543210, 64)], {}
    if name == "aes128_fips197_base_ot":
        c = aes_circuit.aes128_expanded_circuit()
        key, pt = bytes(range(16)), bytes.fromhex("00112233445566778899aabbccddeeff")
        return c, [aes_circuit.expand_key_bits(key)], [aes_circuit.block_to_bits(pt)[0]], {"ot": "base"}
    if name == "mult64_batch3_reveal_garbler":
        c = Circuit.from_bristol(ROOT / "vectors" / "external" / "bristol" / "mult64.txt")
        g = np.stack([int_to_bits(v, 64) for v in (3, 2**64 - 1, 1 << 40)])
        return c, [g], [int_to_bits(12345, 64)], {"reveal": "garbler", "chunk_ands": 1000}
    raise KeyError(name)


CASES = ["adder64_iknp", "aes128_fips197_base_ot", "mult64_batch3_reveal_garbler"]


def transcript(name):
    c, g_in, e_in, kw = _case(name)
    logs = [[], []]

    def recorder(i):
        def on_send(_n, data):
            logs[i].append(data)
            return data
        return on_send

    a, b = MemoryChannel.pair(timeout=60)
    r0, r1 = run_pair(lambda ch: yao_garbler(ch, c, g_in, rng=Rng(b"vector/garbler"), **kw),
                      lambda ch: yao_evaluator(ch, c, e_in, rng=Rng(b"vector/evaluator"), **kw),
                      channels=(TamperChannel(a, recorder(0)), TamperChannel(b, recorder(1))))
    out = r0 if r0 is not None else r1

    def digest(frames):
        h = hashlib.sha256()
        for f in frames:
            h.update(len(f).to_bytes(4, "little") + f)
        return h.hexdigest()

    return {"garbler_sent_sha256": digest(logs[0]), "evaluator_sent_sha256": digest(logs[1]),
            "garbler_message_sizes": [len(f) for f in logs[0]],
            "evaluator_message_sizes": [len(f) for f in logs[1]],
            "outputs": [[hex(bits_to_int(row)) for row in np.atleast_2d(o)] for o in out]}


@pytest.mark.parametrize("name", CASES)
def test_transcript_matches_vector(name):
    want = json.loads(VECTORS.read_text())[name]
    got = transcript(name)
    # sizes first: a size change names the message that moved
    assert got["garbler_message_sizes"] == want["garbler_message_sizes"]
    assert got["evaluator_message_sizes"] == want["evaluator_message_sizes"]
    assert got["outputs"] == want["outputs"]
    assert got == want


def test_vectors_hold_the_right_answers():
    v = json.loads(VECTORS.read_text())
    assert v["adder64_iknp"]["outputs"] == [[hex((0x0123456789ABCDEF + 0xFEDCBA9876543210) % 2**64)]]
    ct = int.from_bytes(bytes.fromhex("69c4e0d86a7b0430d8cdb78070b4c55a"), "big")
    assert v["aes128_fips197_base_ot"]["outputs"] == [[hex(ct)]]
    assert v["mult64_batch3_reveal_garbler"]["outputs"] == [[hex(x * 12345 % 2**64) for x in (3, 2**64 - 1, 1 << 40)]]


if __name__ == "__main__":
    doc = {"_about": "Seeded Yao transcripts (tests/twopc/test_vectors.py). Regenerate with "
                     "`python tests/twopc/test_vectors.py` only for a deliberate wire-format change."}
    doc.update({name: transcript(name) for name in CASES})
    VECTORS.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"wrote {VECTORS}")
