"""Recorded IKNP sessions (``vectors/ot/iknp_128.json``, ``iknp_256.json``) and
a two-process run over TCP loopback.

A case fixes the two parties' Rng seeds and a sequence of calls in one
session; the test replays it and compares SHA-256 of the transcript (every
frame except the version-bearing handshakes, tagged by direction) and of
all outputs. The base OT is SimplestOT, whose transcript is reproducible
from seeds, so these vectors also pin its wire format.
"""

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pqmpc.net import TcpListener, run_pair
from pqmpc.ot.base.simplest import SimplestOT
from pqmpc.ot.ext import iknp as iknp_mod
from pqmpc.ot.ext.iknp import IKNP
from pqmpc.rng import Rng
from tests.helpers import RecordingChannel

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "ot"
REPO = Path(__file__).resolve().parents[2]
_MAGIC = b'"magic":"pqmpc-handshake/'



def run_case(kappa: int, case: dict) -> dict:
    w = kappa // 8
    ot = IKNP(SimplestOT(w), kappa)
    rng = Rng(bytes.fromhex(case["receiver_seed"]))
    ops = case["ops"]
    choices = [rng.bits(op["n"]) for op in ops]
    fixed = Rng(b"iknp-vector-delta").blocks(1, w)[0]

    def sender(ch):
        ot.setup(ch, "sender", Rng(bytes.fromhex(case["sender_seed"])))
        out = []
        for op in ops:
            if op["op"] == "random":
                out += list(ot.send_random(ch, op["n"]))
            elif op["op"] == "correlated":
                out += list(ot.send_correlated(ch, op["n"], fixed if op.get("fixed_delta") else None))
            else:
                out += list(ot.send_random_correlated(ch, op["n"]))
        return out

    def receiver(ch):
        r = Rng(bytes.fromhex(case["receiver_seed"]) + b"/party")
        ot.setup(ch, "receiver", r)
        out = []
        for op, c in zip(ops, choices):
            if op["op"] == "random":
                out.append(ot.receive_random(ch, c))
            elif op["op"] == "correlated":
                out.append(ot.receive_correlated(ch, c))
            else:
                out += list(ot.receive_random_correlated(ch, op["n"], r))
        return out

    chans = RecordingChannel.pair()
    s_out, r_out = run_pair(sender, receiver, channels=chans, timeout=120)
    h = hashlib.sha256()
    for tag, ch in ((b"S", chans[0]), (b"R", chans[1])):
        for frame in ch.sent:
            if _MAGIC in frame[:64]:
                continue
            h.update(tag + len(frame).to_bytes(4, "little") + frame)
    ho = hashlib.sha256()
    for arr in s_out + r_out:
        ho.update(np.ascontiguousarray(arr).tobytes())
    return {"transcript_sha256": h.hexdigest(), "outputs_sha256": ho.hexdigest(),
            "first_sender_output": np.ascontiguousarray(s_out[0]).reshape(-1)[:w].tobytes().hex()}


CASES = [
    {"ops": [{"op": "random", "n": 3}, {"op": "correlated", "n": 129}]},
    {"ops": [{"op": "correlated", "n": 1000}, {"op": "correlated", "n": 77, "fixed_delta": True},
             {"op": "random_correlated", "n": 128}, {"op": "random", "n": 70000}]},
]


@pytest.mark.parametrize("kappa", [128, 256])
def test_recorded_vectors(kappa):
    path = VECTORS / f"iknp_{kappa}.json"
    data = json.loads(path.read_text())
    assert data["protocol"] == "IKNP" and data["kappa"] == kappa and data["version"] == iknp_mod.VERSION
    assert len(data["cases"]) == len(CASES)
    for case in data["cases"]:
        got = run_case(kappa, case)
        for key, value in got.items():
            assert case[key] == value, f"{path.name}: {key} changed for ops {case['ops']}"


def regenerate():
    """Write the vector files (by hand, after a deliberate wire-format change)."""
    for kappa in (128, 256):
        cases = []
        for i, c in enumerate(CASES):
            seed = hashlib.sha256(f"iknp/{kappa}/{i}".encode()).digest()
            case = {"sender_seed": seed[:16].hex(), "receiver_seed": seed[16:].hex(), **c}
            case.update(run_case(kappa, case))
            cases.append(case)
        doc = {"protocol": "IKNP", "version": iknp_mod.VERSION, "kappa": kappa, "base": "SimplestOT",
               "note": "Seeds are pqmpc.Rng seeds (receiver choices: Rng(receiver_seed).bits(n) per op in order; "
                       "receiver party rng: Rng(receiver_seed || '/party'); fixed delta: "
                       "Rng('iknp-vector-delta').blocks(1, kappa/8)). transcript_sha256 hashes every frame except "
                       "handshakes, sender's first, each as tag (S/R) || u32le length || payload; outputs_sha256 "
                       "hashes the sender's outputs then the receiver's, in call order.",
               "cases": cases}
        (VECTORS / f"iknp_{kappa}.json").write_text(json.dumps(doc, indent=1) + "\n")


# ---------------------------------------------------------------- two processes over TCP

_CHILD = textwrap.dedent("""
    import hashlib, sys
    import numpy as np
    from pqmpc.net import TcpChannel
    from pqmpc.ot.base.simplest import SimplestOT
    from pqmpc.ot.ext.iknp import IKNP
    from pqmpc.rng import Rng
    port, n = int(sys.argv[1]), int(sys.argv[2])
    ch = TcpChannel.connect("127.0.0.1", port, timeout=60, retry_for=30)
    ot = IKNP(SimplestOT(), 128)
    choices = Rng(b"tcp-choices").bits(n)
    mb = ot.receive_random(ch, choices)
    t = ot.receive_correlated(ch, choices)
    ch.close()
    print(hashlib.sha256(mb.tobytes()).hexdigest(), hashlib.sha256(t.tobytes()).hexdigest())
""")


def test_two_processes_over_tcp_loopback():
    n = 200_003
    with TcpListener("127.0.0.1", 0) as listener:
        env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        child = subprocess.Popen([sys.executable, "-c", _CHILD, str(listener.port), str(n)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ch = listener.accept(timeout=60)
            ot = IKNP(SimplestOT(), 128)
            m0, m1 = ot.send_random(ch, n)
            delta, q = ot.send_correlated(ch, n)
            out, err = child.communicate(timeout=120)
        finally:
            if child.poll() is None:
                child.kill()
        ch.close()
    assert child.returncode == 0, err
    choices = Rng(b"tcp-choices").bits(n)
    want_mb = np.where(choices[:, None] == 1, m1, m0)
    want_t = q ^ (choices[:, None] * delta[None, :])
    assert out.split() == [hashlib.sha256(want_mb.tobytes()).hexdigest(), hashlib.sha256(want_t.tobytes()).hexdigest()]


if __name__ == "__main__":
    regenerate()
