"""pytest-benchmark suite for garbling: AND gates garbled/evaluated per second.

Run with ``pytest bench/test_gc.py --benchmark-enable``. ``test_aes_ecb_baseline``
measures raw OpenSSL AES-ECB in the same session: quote garbling as a ratio to it
(half-gates needs 8 AES calls per garbled AND, 4 per evaluated AND).
"""

import numpy as np
import pytest

from pqmpc.bench.suites.gc import adder_chain
from pqmpc.gc.aes128 import aes128_circuit
from pqmpc.gc.evaluate import evaluate_garbled
from pqmpc.gc.garble import garble
from pqmpc.gc.random_circuit import random_circuit
from pqmpc.primitives.aes import FixedKeyAES
from pqmpc.rng import Rng

CIRCUITS = {
    "wide_random_1M_and": lambda: random_circuit([1024, 1024], 2_200_000, 128, seed=1, p_and=0.5,
                                                 p_unary=0.05, window=1 << 16),
    "aes128_builder": aes128_circuit,
    "adder64_chain_512": lambda: adder_chain(512),
}
_built = {}


def circuit(name):
    if name not in _built:
        _built[name] = CIRCUITS[name]()
        _ = _built[name].schedule
    return _built[name]


def test_aes_ecb_baseline(benchmark):
    perm = FixedKeyAES()
    x = np.zeros((1 << 20, 16), np.uint8)
    out = np.empty_like(x)
    benchmark(perm.permute, x, out)
    benchmark.extra_info["blocks"] = x.shape[0]


@pytest.mark.parametrize("backend", ["auto", "levels"])
@pytest.mark.parametrize("name", sorted(CIRCUITS))
def test_garble(benchmark, name, backend):
    c = circuit(name)
    rng = Rng(b"bench/gc")
    garbled, _ = benchmark(garble, c, rng, None, None, backend)
    assert garbled.tables.nbytes == 32 * c.and_count
    benchmark.extra_info["and_gates"] = c.and_count
    benchmark.extra_info["bytes_per_and"] = 32


@pytest.mark.parametrize("name", sorted(CIRCUITS))
def test_garble_kappa256(benchmark, name):
    c = circuit(name)
    garbled, _ = benchmark(garble, c, Rng(b"bench/gc/256"), None, None, "auto", 256)
    assert garbled.tables.nbytes == 64 * c.and_count
    benchmark.extra_info["and_gates"] = c.and_count
    benchmark.extra_info["bytes_per_and"] = 64


@pytest.mark.parametrize("name", sorted(CIRCUITS))
def test_evaluate(benchmark, name):
    c = circuit(name)
    rng = Rng(b"bench/gc/eval")
    ins = [rng.bits(n) for n in c.input_sizes]
    garbled, enc = garble(c, rng)
    labels = enc.encode(ins)
    out = benchmark(evaluate_garbled, garbled, labels)
    got = garbled.decode(out)
    assert all(np.array_equal(a, b) for a, b in zip(got, c.evaluate(ins)))
    benchmark.extra_info["and_gates"] = c.and_count
