"""Yao with three-halves garbling: AES-128 end to end, batches, chunking, handshake."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pqmpc.errors import HandshakeError, ParameterError, ProtocolError
from pqmpc.gc.aes128 import aes128_circuit
from pqmpc.gc.circuit import Circuit, bits_to_int, int_to_bits
from pqmpc.gc.threehalves import packed_size
from pqmpc.net import MemoryChannel, run_pair
from pqmpc.rng import Rng
from pqmpc.twopc.yao import yao_evaluator, yao_garbler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from twopc_helpers import rand_bits, run_both, tamper_pair

ROOT = Path(__file__).resolve().parents[2]
TH = "threehalves"
KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
PT = bytes.fromhex("00112233445566778899aabbccddeeff")
CT = bytes.fromhex("69c4e0d86a7b0430d8cdb78070b4c55a")  # FIPS-197 C.1


def be_bits(b: bytes):
    return int_to_bits(int.from_bytes(b, "big"), 8 * len(b))


def yao(circuit, g_in, e_in, **kw):
    return run_pair(lambda ch: yao_garbler(ch, circuit, g_in, rng=Rng(b"g"), scheme=TH, **kw),
                    lambda ch: yao_evaluator(ch, circuit, e_in, rng=Rng(b"e"), scheme=TH, **kw),
                    timeout=120)


def test_aes128_between_two_threads():
    c = aes128_circuit()
    info = {}
    r0, r1 = run_pair(
        lambda ch: yao_garbler(ch, c, [be_bits(KEY)], rng=Rng(b"g"), scheme=TH, info=info),
        lambda ch: yao_evaluator(ch, c, [be_bits(PT)], rng=Rng(b"e"), scheme=TH), timeout=120)
    for r in (r0, r1):
        assert bits_to_int(r[0]).to_bytes(16, "big") == CT
    assert info["phases"]


@pytest.mark.parametrize("chunk", [1, 7, 500, 1 << 16])
def test_batched_aes_any_chunking(chunk):
    c = aes128_circuit()
    rng = np.random.default_rng(chunk)
    keys, pts = rand_bits(rng, 3, 128), rand_bits(rng, 3, 128)
    r0, r1 = yao(c, [keys], [pts], chunk_ands=chunk)
    want = c.evaluate([keys, pts])
    assert np.array_equal(r0[0], want[0]) and np.array_equal(r1[0], want[0])


def test_tables_on_the_wire_are_197_bits_per_and():
    c = aes128_circuit()
    sizes = []

    def record(i, data):
        sizes.append(len(data))
        return data

    chans = tamper_pair(record)
    res = run_both(lambda ch: yao_garbler(ch, c, [be_bits(KEY)], scheme=TH, chunk_ands=1600),
                   lambda ch: yao_evaluator(ch, c, [be_bits(PT)], scheme=TH), chans)
    assert bits_to_int(res[1][0]).to_bytes(16, "big") == CT
    assert sizes.count(packed_size(1600)) == 4 and packed_size(1600) * 8 == 197 * 1600


def test_scheme_mismatch_fails_on_both_sides():
    c = Circuit.from_bristol(ROOT / "vectors" / "external" / "bristol" / "adder64.txt")
    x = int_to_bits(5, 64)
    res = run_both(lambda ch: yao_garbler(ch, c, [x], scheme=TH),
                   lambda ch: yao_evaluator(ch, c, [x]), MemoryChannel.pair(timeout=30))
    assert all(isinstance(r, HandshakeError) and "scheme" in str(r) for r in res), res
    with pytest.raises(ParameterError, match="kappa = 128 only"):
        yao_garbler(MemoryChannel.pair()[0], c, [x], scheme=TH, kappa=256)


def test_malformed_packed_tables_are_a_protocol_error():
    c = Circuit.from_bristol(ROOT / "vectors" / "external" / "bristol" / "adder64.txt")
    x = int_to_bits(3, 64)
    n = packed_size(c.and_count)

    def set_padding_bit(i, data):
        return data[:-1] + bytes([data[-1] | 0x80]) if len(data) == n else data

    def truncate(i, data):
        return data[:-3] if len(data) == n else data

    for fault in (set_padding_bit, truncate):
        res = run_both(lambda ch: yao_garbler(ch, c, [x], scheme=TH),
                       lambda ch: yao_evaluator(ch, c, [x], scheme=TH), tamper_pair(fault))
        assert isinstance(res[1], ProtocolError) and "step 5 (garbled tables)" in str(res[1]), res


PROC = """
import sys
from pqmpc.gc.aes128 import aes128_circuit
from pqmpc.gc.circuit import bits_to_int, int_to_bits
from pqmpc.net import TcpChannel, TcpListener
from pqmpc.twopc.yao import yao_evaluator, yao_garbler
role, val = sys.argv[1], int(sys.argv[2], 16)
c = aes128_circuit()
if role == "g":
    with TcpListener("127.0.0.1", 0) as srv:
        print(srv.port, flush=True)
        ch = srv.accept(timeout=120)
    out = yao_garbler(ch, c, [int_to_bits(val, 128)], scheme="threehalves")
else:
    ch = TcpChannel.connect("127.0.0.1", int(sys.argv[3]), timeout=120, retry_for=30)
    out = yao_evaluator(ch, c, [int_to_bits(val, 128)], scheme="threehalves")
ch.close()
print(bits_to_int(out[0]).to_bytes(16, "big").hex(), flush=True)
"""


def test_aes128_between_two_processes():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    g = subprocess.Popen([sys.executable, "-c", PROC, "g", KEY.hex()], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        port = g.stdout.readline().strip()
        assert port.isdigit(), g.stderr.read()
        e = subprocess.run([sys.executable, "-c", PROC, "e", PT.hex(), port], capture_output=True,
                           text=True, cwd=ROOT, env=env, timeout=300)
        assert e.returncode == 0, e.stderr[-3000:]
        out_g, err_g = g.communicate(timeout=120)
    finally:
        if g.poll() is None:
            g.kill()
    assert g.returncode == 0, err_g[-3000:]
    assert e.stdout.strip() == out_g.strip() == CT.hex()
