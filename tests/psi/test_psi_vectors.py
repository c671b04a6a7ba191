"""Seeded PSI transcripts: pin KKRT's wire format and outputs (vectors/psi/kkrt.json).

Both parties run from fixed seeds over a recording memory channel; the SHA-256
of everything each side sent, and the intersection, must match the vector. A
deliberate wire-format change regenerates it with
``python -m tests.psi.test_psi_vectors``.
"""

import hashlib
import json
import pathlib

from pqmpc import Rng
from pqmpc.net import run_pair
from pqmpc.ot import KyberOT
from pqmpc.psi import psi_receiver, psi_sender
from tests.helpers import RecordingChannel

VECTORS = pathlib.Path(__file__).resolve().parents[2] / "vectors" / "psi" / "kkrt.json"


def _digest(frames) -> str:
    h = hashlib.sha256()
    for f in frames:
        h.update(len(f).to_bytes(4, "little"))
        h.update(f)
    return h.hexdigest()


def compute() -> dict:
    sender_items = [f"user{i}@example.org" for i in range(0, 300, 2)] + ["Zoë", "", "a" * 1000]
    receiver_items = [f"user{i}@example.org" for i in range(0, 300, 3)] + ["Zoë", "zoe", ""]
    chans = RecordingChannel.pair()
    base = KyberOT("ML-KEM-768", backend="reference")
    s_idx, r_idx = run_pair(
        lambda ch: psi_sender(ch, sender_items, rng=Rng(b"psi vector sender"), reveal_to_sender=True,
                              base_ot=base, protocol="kkrt"),
        lambda ch: psi_receiver(ch, receiver_items, rng=Rng(b"psi vector receiver"), reveal_to_sender=True,
                                base_ot=base, protocol="kkrt"),
        channels=chans)
    return {"sender_transcript_sha256": _digest(chans[0].frames_without_handshake()),
            "receiver_transcript_sha256": _digest(chans[1].frames_without_handshake()),
            "sender_indices": [int(i) for i in s_idx], "receiver_indices": [int(i) for i in r_idx]}


def test_psi_transcript_vector():
    got = compute()
    want = json.loads(VECTORS.read_text())["values"]
    # the intersection is checkable by hand: multiples of 6, plus "Zoë" and ""
    assert len(got["receiver_indices"]) == 50 + 2
    assert got == want


if __name__ == "__main__":
    VECTORS.write_text(json.dumps({"description": "KKRT PSI, seeded, both sides learn; see tests/psi/test_psi_vectors.py",
                                   "values": compute()}, indent=2) + "\n")
