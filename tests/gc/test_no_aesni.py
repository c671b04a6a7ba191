"""Without AES-NI no secret label reaches a table AES (issue 12 item 5).

numba's fallback AES is table-based: lookups indexed by (label ⊕ key) leak through
the cache. On such CPUs the engine must hash every AND gate through OpenSSL (the
fixed-key bulk path at κ = 128, one AES-256 context per label at κ = 256) and give
the same bytes as the AES-NI kernels. Run in a subprocess with numba's target
stripped of AES-NI, the same harness as tests/gc/test_garble.py uses.
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from pqmpc.gc.circuit import Circuit
from pqmpc.gc.evaluate import evaluate_garbled
from pqmpc.gc.garble import garble
from pqmpc.gc.random_circuit import random_circuit
from pqmpc.rng import Rng

ROOT = Path(__file__).resolve().parents[2]
ADDER = ROOT / "vectors" / "external" / "bristol" / "adder64.txt"

CODE = """
import hashlib, sys
import numpy as np
from pqmpc.gc import fused, fused_th, fused_wide
from pqmpc.gc.circuit import Circuit
from pqmpc.gc.evaluate import evaluate_garbled
from pqmpc.gc.garble import garble
from pqmpc.gc.halfgates import resolve_backend
from pqmpc.gc.random_circuit import random_circuit
from pqmpc.primitives.cpu import HAVE_AESNI
from pqmpc.rng import Rng

assert not HAVE_AESNI and resolve_backend("auto") == resolve_backend("fused") == "levels"
walked = [0]

def guard(orig, op_arg=1, g0_arg=6, packed=False):
    def run(*a):
        op, g0, g1 = a[op_arg], a[g0_arg], a[g0_arg + 1]
        ands = (op[g0:g1, 3] & 3) == 2 if packed else op[g0:g1] == 1  # packed: Schedule.gates rows
        assert not ands.any(), "an AND gate reached the table-AES walk"
        walked[0] += 1
        return orig(*a)
    return run

fused.garble_range = guard(fused.garble_range, 1, 2, packed=True)
fused.evaluate_range = guard(fused.evaluate_range, 1, 2, packed=True)
fused_th.garble_range = guard(fused_th.garble_range)
fused_th.evaluate_range = guard(fused_th.evaluate_range, 1, 5)
fused_wide.garble_range = guard(fused_wide.garble_range, 0, 5)
fused_wide.evaluate_range = guard(fused_wide.evaluate_range, 0, 5)
for c, kappa, scheme in CASES:
    g, e = garble(c, rng=Rng(b"no-aesni"), kappa=kappa, scheme=scheme)
    ins = [Rng(b"in").bits(n) for n in c.input_sizes]
    out = evaluate_garbled(g, e.encode(ins))
    assert all(np.array_equal(a, b) for a, b in zip(g.decode(out), c.evaluate(ins)))
    print(hashlib.sha256(g.tables.tobytes()).hexdigest(), hashlib.sha256(out[0].tobytes()).hexdigest())
assert walked[0] > 0  # the free gates did run in the walk
"""

CASES = """
CASES = [(Circuit.from_bristol(sys.argv[1]), 128, "halfgates"),
         (Circuit.from_bristol(sys.argv[1]), 256, "halfgates"),
         (random_circuit([40, 40], 600, 16, seed=5, p_and=0.5), 256, "halfgates"),
         (random_circuit([300, 300], 6000, 64, seed=3, p_and=0.6), 128, "halfgates"),
         (Circuit.from_bristol(sys.argv[1]), 128, "threehalves"),
         (random_circuit([300, 300], 6000, 64, seed=3, p_and=0.6), 128, "threehalves")]
"""


def test_no_table_aes_on_labels_and_same_bytes():
    want = []
    for c, kappa, scheme in [
            (Circuit.from_bristol(ADDER), 128, "halfgates"), (Circuit.from_bristol(ADDER), 256, "halfgates"),
            (random_circuit([40, 40], 600, 16, seed=5, p_and=0.5), 256, "halfgates"),
            (random_circuit([300, 300], 6000, 64, seed=3, p_and=0.6), 128, "halfgates"),
            (Circuit.from_bristol(ADDER), 128, "threehalves"),
            (random_circuit([300, 300], 6000, 64, seed=3, p_and=0.6), 128, "threehalves")]:
        g, e = garble(c, rng=Rng(b"no-aesni"), kappa=kappa, scheme=scheme)
        ins = [Rng(b"in").bits(n) for n in c.input_sizes]
        out = evaluate_garbled(g, e.encode(ins))
        want.append(f"{hashlib.sha256(g.tables.tobytes()).hexdigest()} "
                    f"{hashlib.sha256(out[0].tobytes()).hexdigest()}")
    code = CODE.replace("for c, kappa, scheme in CASES:", CASES + "for c, kappa, scheme in CASES:")
    env = dict(os.environ, NUMBA_CPU_FEATURES="-aes")
    r = subprocess.run([sys.executable, "-W", "ignore", "-c", code, str(ADDER)], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().split("\n") == want
