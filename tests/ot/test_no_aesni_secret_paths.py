"""Without AES-NI no OT extension feeds secret data to the table AES, and the bytes stay the same.

numba binds the njit AES building blocks to a T-table AES when the CPU lacks
AES-NI (every ARM machine); its lookups are indexed by state bytes, so the
KKRT code words and OPRF rows, Ferret's GGM nodes, SoftSpoken's and the silent
VOLE's GGM nodes would leak through cache timing. There they go through bulk
OpenSSL instead. A child process with ``NUMBA_CPU_FEATURES=-aes,-pclmul`` runs
each protocol on tiny sizes and reports (a) digests of every output, compared
with the same run on this machine's native path, and (b) every numba kernel
that ran and reaches the table AES (found by walking the kernels' globals), so
a new caller of the building blocks is caught too, not only the ones we know.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]

_CHILD = r"""
import hashlib, json, sys, types, warnings
warnings.simplefilter("ignore")
import numpy as np
from numba.core.registry import CPUDispatcher
from pqmpc.net import run_pair
from pqmpc.ot.base.kyber import KyberOT
from pqmpc.ot.base.simplest import SimplestOT
from pqmpc.ot.ext import kkrt
from pqmpc.ot.ext.ferret import Ferret
from pqmpc.ot.ext.softspoken import SoftSpoken
from pqmpc.ot.ext.vole import SilentVole
from pqmpc.ot.ext.ferret_params import FERRET_TEST
from pqmpc.primitives import aes_kernels, aes_table
from pqmpc.rng import Rng

def digest(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()

def run_kkrt():
    rng = Rng(b"noaes kkrt")
    nb, m = kkrt.width_blocks(128), 200
    words = rng.blocks(m)
    crk = kkrt.code_round_keys(rng.blocks(nb))
    bins = rng.integers(3 * m, m)
    qw = rng.blocks(3 * m)
    same = rng.bits(3 * m).astype(bool)
    qw[same] = words[bins[same]]
    r, s = run_pair(lambda ch: kkrt.oprf_receive(ch, words, crk, SimplestOT(), Rng(b"r"), 128),
                    lambda ch: kkrt.oprf_send(ch, m, qw, bins, crk, SimplestOT(), Rng(b"s"), 128), timeout=120)
    assert ((r[bins] == s).all(axis=1) == same).all()
    return digest(r, s)

def run_ferret():
    (dq,), (bt,) = run_pair(
        lambda ch: [Ferret(FERRET_TEST, base=KyberOT()).send_random_correlated(ch, 1000, rng=Rng(b"s"))],
        lambda ch: [Ferret(FERRET_TEST, base=KyberOT()).receive_random_correlated(ch, 1000, rng=Rng(b"r"))],
        timeout=120)
    assert np.array_equal(bt[1], dq[1] ^ (bt[0][:, None] * dq[0]))
    return digest(*dq, *bt)

def run_softspoken():
    ot = SoftSpoken(2, base=SimplestOT(), chunk=1024)
    (d, q), (b, t) = run_pair(lambda ch: ot.send_random_correlated(ch, 500, rng=Rng(b"s")),
                              lambda ch: ot.receive_random_correlated(ch, 500, rng=Rng(b"r")), timeout=120)
    assert np.array_equal(t, q ^ (b[:, None] * d))
    return digest(d, q, b, t)

def run_vole():
    v = SilentVole()
    snd, rcv = run_pair(lambda ch: v.send(ch, 700, Rng(b"s")), lambda ch: v.receive(ch, 700, Rng(b"r")),
                        timeout=120)
    return digest(*snd, *rcv)

out = {"table": aes_kernels.TABLE_AES_ACTIVE}
for name in sys.argv[1:]:
    out[name] = globals()["run_" + name]()

# Every njit kernel of the package, and which of them reach the table AES through their globals.
disp = {}
for mod in [m for n, m in sys.modules.items() if n.startswith("pqmpc") and isinstance(m, types.ModuleType)]:
    for obj in vars(mod).values():
        if isinstance(obj, CPUDispatcher) and obj.py_func.__module__.startswith("pqmpc"):
            disp[id(obj)] = obj

def names(code):
    yield from code.co_names
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield from names(c)

table = {id(d) for d in vars(aes_table).values() if isinstance(d, CPUDispatcher)
         and d.py_func.__module__ == aes_table.__name__ and d.__name__ != "prefix_xor"}
table |= {id(getattr(aes_kernels, n)) for n in ("aes_encrypt", "aes_encrypt8", "aes_encrypt_soft", "aes_encrypt8_soft")}
changed = True
while changed:
    changed = False
    for i, d in disp.items():
        if i not in table and any(id(d.py_func.__globals__.get(n)) in table for n in names(d.py_func.__code__)):
            table.add(i)
            changed = True
out["ran_table"] = sorted(f"{d.py_func.__module__}.{d.__name__}" for i, d in disp.items()
                          if i in table and d.signatures and "aes_table" not in d.py_func.__module__)
print(json.dumps(out))
"""

#: Table-AES kernels that may run: they key AES with the public LPN seed and encrypt public counters.
#: The secret vectors are only XORed into the rows those indices pick.
PUBLIC_ONLY = {"pqmpc.ot.ext.lpn._encode_sender", "pqmpc.ot.ext.lpn._encode_receiver"}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    # One numba cache for both runs of a protocol: the second loads what the first compiled.
    return str(tmp_path_factory.mktemp("numba-cache"))


def _child(protocols, cache, **env_extra):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, **env_extra,
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", _CHILD, *protocols], capture_output=True, text=True, env=env,
                          timeout=600, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("protocols", [pytest.param(["kkrt"], id="kkrt"),
                                       pytest.param(["ferret", "softspoken", "vole"], id="ferret-softspoken-vole",
                                                    marks=pytest.mark.slow)])
def test_without_aesni_same_bytes_and_no_table_aes_on_protocol_data(protocols, cache_dir):
    soft = _child(protocols, cache_dir, NUMBA_CPU_FEATURES="-aes,-pclmul")
    assert soft["table"] is True
    assert set(soft["ran_table"]) <= PUBLIC_ONLY, soft["ran_table"]
    native = _child(protocols, cache_dir)
    for p in protocols:
        assert soft[p] == native[p], p
