"""KyberOT known answers: seeds → transcript and outputs on the reference backend.

``vectors/ot/kyber_<variant>.json`` pins the wire format and every derivation (key
generation with a shared ρ, hash-to-key, encapsulation, KDF): a change to any of
them changes these hashes, which must then be a deliberate, reviewed update.

The transcript is the protocol's messages after the handshake (the handshake
carries the package version), hashed per direction because the two handshake
frames are sent concurrently and their relative order is not fixed.

Regenerate with ``python tests/ot/test_kyber_vectors_mr19.py`` (only after a
deliberate wire-format change, with a version bump in KyberOT).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from pqmpc.lattice import mlkem
from pqmpc.net import MemoryChannel, run_pair
from pqmpc.ot.base.kyber import VERSION, KyberOT
from pqmpc.rng import Rng

VEC = Path(__file__).resolve().parents[2] / "vectors" / "ot"
CASES = [(0, "a"), (1, "b"), (5, "c"), (129, "d")]


class RecordingChannel(MemoryChannel):
    """Memory channel that keeps a copy of every frame it sends."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.sent: list[bytes] = []

    def _send_message(self, payload) -> None:
        self.sent.append(bytes(payload))
        super()._send_message(payload)


def _hash_frames(frames: list[bytes]) -> str:
    h = hashlib.sha256()
    for f in frames:
        h.update(len(f).to_bytes(4, "little") + f)
    return h.hexdigest()


def run_case(variant: str, block_bytes: int, n: int, label: str) -> dict:
    ot = KyberOT(variant, backend="reference", block_bytes=block_bytes)
    seeds = {k: f"kyber-vector/{variant}/{label}/{k}".encode() for k in ("sender", "receiver", "choices")}
    choices = Rng(seeds["choices"]).bits(n)
    ch0, ch1 = RecordingChannel.pair()
    (m0, m1), mb = run_pair(lambda ch: ot.send_random(ch, n, Rng(seeds["sender"])),
                            lambda ch: ot.receive_random(ch, choices, Rng(seeds["receiver"])), channels=(ch0, ch1))
    assert np.array_equal(mb, np.where(choices[:, None] == 1, m1, m0))
    out = {
        "n": n,
        "sender_seed": seeds["sender"].decode(),
        "receiver_seed": seeds["receiver"].decode(),
        "choices_seed": seeds["choices"].decode(),
        "receiver_to_sender_sha256": _hash_frames(ch1.sent[1:]),
        "sender_to_receiver_sha256": _hash_frames(ch0.sent[1:]),
        "wire_bytes_after_handshake": sum(map(len, ch0.sent[1:] + ch1.sent[1:])),
        "m0_sha256": hashlib.sha256(m0.tobytes()).hexdigest(),
        "m1_sha256": hashlib.sha256(m1.tobytes()).hexdigest(),
    }
    if n <= 5:
        out.update(m0=[r.tobytes().hex() for r in m0], m1=[r.tobytes().hex() for r in m1])
    return out


def _file(variant: str) -> Path:
    return VEC / f"kyber_{variant}.json"


def _widths(variant: str):
    return (16, 32) if variant == "ML-KEM-1024" else (16,)


def generate() -> None:
    VEC.mkdir(parents=True, exist_ok=True)
    for variant in mlkem.VARIANTS:
        doc = {
            "protocol": "KyberOT", "version": VERSION, "variant": variant, "backend": "reference",
            "rng": "pqmpc.rng.Rng(seed) for each of sender, receiver and choice bits (seed strings as UTF-8)",
            "transcript": "SHA-256 over (u32 LE length ‖ frame) of each frame after the handshake, per direction",
            "outputs": "m0/m1 rows hex; *_sha256 over the (n, block_bytes) arrays",
            "cases": [dict(block_bytes=w, **run_case(variant, w, n, f"{label}{w}")) for w in _widths(variant)
                      for n, label in CASES],
        }
        _file(variant).write_text(json.dumps(doc, indent=1) + "\n")


@pytest.mark.parametrize("variant", mlkem.VARIANTS)
def test_transcript_vectors(variant):
    doc = json.loads(_file(variant).read_text())
    assert doc["version"] == VERSION and doc["variant"] == variant
    assert len(doc["cases"]) == len(CASES) * len(_widths(variant))
    for case in doc["cases"]:
        label = case["sender_seed"].split("/")[2]
        got = run_case(variant, case["block_bytes"], case["n"], label)
        assert got == {k: v for k, v in case.items() if k != "block_bytes"}, (variant, case["n"])


if __name__ == "__main__":
    generate()
    sys.exit(0)
