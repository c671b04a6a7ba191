"""Seeded Ferret transcript (insecure test set): any change to the wire format or outputs shows here.

Regenerate after a deliberate change with ``python tests/ot/test_ferret_vectors.py``.
"""

import hashlib
import json
import pathlib

import numpy as np

from pqmpc import Rng
from pqmpc.net import MemoryChannel, run_pair
from pqmpc.ot.base.kyber import KyberOT
from pqmpc.ot.ext.ferret import Ferret
from pqmpc.ot.ext.ferret_params import FERRET_TEST

VECTORS = pathlib.Path(__file__).resolve().parents[2] / "vectors" / "ot"
VECTOR = VECTORS / "ferret_small.json"
#: Malicious mode: KOS bootstrap over the same seeded ML-KEM base OT, plus the checks' messages.
VECTOR_MALICIOUS = VECTORS / "ferret_small_malicious.json"
SIZES = [1, 129, 5000, 0, 7000]
SEEDS = (b"pqmpc vectors: ferret sender v1", b"pqmpc vectors: ferret receiver v1")


class Recording(MemoryChannel):
    """Hashes every payload this end sends, in order, except JSON handshakes (they carry the package version)."""

    def _send_message(self, payload):
        data = bytes(payload)
        if not data.startswith(b'{"'):
            self.transcript.update(len(data).to_bytes(4, "little") + data)
            self.payload_bytes += len(data)
        super()._send_message(payload)


def sha(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def compute(security: str = "semi-honest") -> dict:
    a, b = Recording.pair()
    for end in (a, b):
        end.transcript, end.payload_bytes = hashlib.sha256(), 0
    # The reference ML-KEM backend draws all its randomness from the Rng, so the bootstrap is seeded too.

    def snd(ch):
        f = Ferret(FERRET_TEST, base=KyberOT(backend="reference"), security=security)
        return [f.send_random_correlated(ch, n, rng=Rng(SEEDS[0])) for n in SIZES]

    def rcv(ch):
        f = Ferret(FERRET_TEST, base=KyberOT(backend="reference"), security=security)
        return [f.receive_random_correlated(ch, n, rng=Rng(SEEDS[1])) for n in SIZES]

    sent, received = run_pair(snd, rcv, timeout=120, channels=(a, b))
    q = np.concatenate([x[1] for x in sent])
    bits = np.concatenate([x[0] for x in received])
    t = np.concatenate([x[1] for x in received])
    assert np.array_equal(t, q ^ (bits[:, None] * sent[0][0]))
    extra = {} if security == "semi-honest" else {"security": security}
    return {"params": FERRET_TEST.describe(), "sizes": SIZES, "seeds": [s.decode() for s in SEEDS], **extra,
            "base": "KyberOT(ML-KEM-768, reference backend)",
            "delta": sent[0][0].tobytes().hex(), "first_q": q[0].tobytes().hex(), "first_t": t[0].tobytes().hex(),
            "q_sha256": sha(q), "t_sha256": sha(t), "choices_sha256": sha(bits),
            "sender_transcript_sha256": a.transcript.hexdigest(),
            "receiver_transcript_sha256": b.transcript.hexdigest(),
            "sender_payload_bytes": a.payload_bytes, "receiver_payload_bytes": b.payload_bytes}


def test_ferret_small_vector():
    assert compute() == json.loads(VECTOR.read_text())["values"]


def test_ferret_small_malicious_vector():
    assert compute("malicious") == json.loads(VECTOR_MALICIOUS.read_text())["values"]


if __name__ == "__main__":
    for path, security in ((VECTOR, "semi-honest"), (VECTOR_MALICIOUS, "malicious")):
        mode = "" if security == "semi-honest" else f" ({security}: KOS bootstrap, consistency checks)"
        path.write_text(json.dumps({"description": f"Ferret{mode}, insecure test parameters, seeded; "
                                                   "see tests/ot/test_ferret_vectors.py",
                                    "values": compute(security)}, indent=2) + "\n")
