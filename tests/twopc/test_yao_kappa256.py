"""Yao at κ = 256 end to end: 32-byte labels, the AES-256 wide hash, 32-byte COT blocks."""

import sys
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pqmpc.errors import HandshakeError, ParameterError
from pqmpc.gc import aes128 as aes_circuit
from pqmpc.gc.circuit import Circuit, bits_to_int, int_to_bits
from pqmpc.net import MemoryChannel, run_pair
from pqmpc.rng import Rng
from pqmpc.twopc import functions as F
from pqmpc.twopc.yao import yao_evaluator, yao_garbler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from twopc_helpers import TamperChannel, run_both

BRISTOL = Path(__file__).resolve().parents[2] / "vectors" / "external" / "bristol"


def aes_ecb(key: bytes, data: bytes) -> bytes:
    e = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return e.update(data) + e.finalize()


def test_aes128_circuit_with_kappa_256():
    c = Circuit.from_bristol(BRISTOL / "aes_128.txt") if (BRISTOL / "aes_128.txt").exists() \
        else aes_circuit.aes128_circuit()
    key, pt = bytes(range(16)), bytes.fromhex("00112233445566778899aabbccddeeff")
    k_bits, p_bits = aes_circuit.block_to_bits(key)[0], aes_circuit.block_to_bits(pt)[0]
    frames = []

    def record(_i, data):
        frames.append(len(data))
        return data

    a, b = MemoryChannel.pair(timeout=120)
    info = {}
    r0, r1 = run_pair(lambda ch: yao_garbler(ch, c, [k_bits], rng=Rng(b"g256"), kappa=256, info=info),
                      lambda ch: yao_evaluator(ch, c, [p_bits], rng=Rng(b"e256"), kappa=256),
                      channels=(TamperChannel(a, record), b), timeout=300)
    want = aes_ecb(key, pt)
    assert aes_circuit.bits_to_block(r0[0]).tobytes() == want
    assert aes_circuit.bits_to_block(r1[0]).tobytes() == want
    assert info["kappa"] == 256
    # 64 bytes per AND on the wire, 32-byte garbler input labels
    assert c.and_count * 64 in frames and 128 * 32 in frames


def test_aes128_function_batch_with_kappa_256():
    key = bytes(range(100, 116))
    pt = Rng(b"pt").bytes(16 * 3)
    r = run_pair(lambda ch: F.aes128(ch, "garbler", key, kappa=256, ot="base"),
                 lambda ch: F.aes128(ch, "evaluator", pt, kappa=256, ot="base"), timeout=300)
    assert r == (aes_ecb(key, pt), aes_ecb(key, pt))


def test_kappa_must_agree_and_be_supported():
    c = Circuit.from_bristol(BRISTOL / "adder64.txt")
    x = int_to_bits(5, 64)
    res = run_both(lambda ch: yao_garbler(ch, c, [x], kappa=256), lambda ch: yao_evaluator(ch, c, [x]),
                   MemoryChannel.pair(timeout=30))
    assert all(isinstance(r, HandshakeError) and "label_bytes" in str(r) for r in res), res
    ch = MemoryChannel.pair()[0]
    with pytest.raises(ParameterError):
        yao_garbler(ch, c, [x], kappa=192)
    with pytest.raises(ParameterError, match="Ferret"):
        yao_garbler(ch, c, [x], kappa=256, ot="ferret")
    from pqmpc.ot import IKNP
    with pytest.raises(ParameterError, match="32-byte"):
        yao_garbler(ch, c, [x], kappa=256, ot=IKNP())
    assert ch.stats.bytes_sent == 0


def test_adder_batch_with_kappa_256_and_shared_input():
    c = Circuit.from_bristol(BRISTOL / "adder64.txt")
    rng = np.random.default_rng(4)
    xs = rng.integers(0, 2, (5, 64), dtype=np.uint8)
    y = int_to_bits(0xDEADBEEF, 64)
    r0, r1 = run_pair(lambda ch: yao_garbler(ch, c, [xs], kappa=256, chunk_ands=100, reveal="garbler"),
                      lambda ch: yao_evaluator(ch, c, [y], kappa=256, reveal="garbler"), timeout=120)
    assert r1 is None
    assert [bits_to_int(row) for row in r0[0]] == [(bits_to_int(x) + 0xDEADBEEF) % 2**64 for x in xs]
