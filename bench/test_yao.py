"""pytest-benchmark suite for Yao 2PC end to end (both parties as threads).

Run with ``pytest bench/test_yao.py --benchmark-enable``. Each round is a complete
run with a fresh OT session: handshake, ML-KEM base OTs, IKNP, labels, tables and
output. ``pqmpc bench yao`` reports the same cases over TCP between two processes,
with the phase split and the ratio to AES-ECB measured in the same run.
"""

import os

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pqmpc.net import MemoryChannel, run_pair
from pqmpc.rng import Rng
from pqmpc.twopc import functions as F


def pair(f, a, b, **kw):
    return run_pair(lambda ch: f(ch, "garbler", a, **kw), lambda ch: f(ch, "evaluator", b, **kw),
                    timeout=600, channels=MemoryChannel.pair(timeout=600))


@pytest.mark.parametrize("blocks", [1, 100, 1000])
def test_aes128(benchmark, blocks):
    key, pt = os.urandom(16), os.urandom(16 * blocks)
    g, e = benchmark(pair, F.aes128, key, pt)
    want = Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(pt)
    assert g == e == want
    benchmark.extra_info.update(blocks=blocks, and_gates=5120 * blocks)


def test_millionaires64(benchmark):
    rng = Rng(b"bench/yao/m")
    a, b = (int(x) for x in rng.uint64(2))
    assert benchmark(pair, F.millionaires, a, b) == (a < b, a < b)


def test_hamming_1024_bits(benchmark):
    a, b = os.urandom(128), os.urandom(128)
    want = int(np.unpackbits(np.frombuffer(bytes(x ^ y for x, y in zip(a, b)), np.uint8)).sum())
    assert benchmark(pair, F.hamming_distance, a, b) == (want, want)
