"""Yao 2PC end to end (two threads) against plain evaluation of the same circuit."""

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import ChannelClosed, HandshakeError, ParameterError, ProtocolError
from pqmpc.gc.build import CircuitBuilder
from pqmpc.gc.circuit import Circuit, bits_to_int, int_to_bits
from pqmpc.net import MemoryChannel, run_pair
from pqmpc.rng import Rng
from pqmpc.twopc.yao import yao_evaluator, yao_garbler

sys.path.insert(0, str(Path(__file__).resolve().parent))  # helpers by bare name, package or not
from twopc_helpers import rand_bits, run_both, tamper_pair

BRISTOL = Path(__file__).resolve().parents[2] / "vectors" / "external" / "bristol"
_circuits = {}


def bristol(name):
    if name not in _circuits:
        _circuits[name] = Circuit.from_bristol(BRISTOL / name)
    return _circuits[name]


def yao(circuit, g_in, e_in, **kw):
    gkw = {k: v for k, v in kw.items() if k != "ot_e"}
    return run_pair(lambda ch: yao_garbler(ch, circuit, g_in, rng=Rng(b"g"), **gkw),
                    lambda ch: yao_evaluator(ch, circuit, e_in, rng=Rng(b"e"), **gkw), timeout=120)


def plain(circuit, ins, g_groups, e_groups, g_in, e_in):
    full = [None] * len(circuit.input_sizes)
    for j, x in zip(g_groups, g_in):
        full[j] = x
    for j, x in zip(e_groups, e_in):
        full[j] = x
    batch = max((x.shape[0] for x in full if x.ndim == 2), default=None)
    if batch is not None:
        full = [x if x.ndim == 2 else np.broadcast_to(x, (batch, x.shape[0])) for x in full]
    return circuit.evaluate(full)


@pytest.mark.parametrize("name", ["adder64.txt", "mult64.txt", "compare.txt", "sub64.txt"])
def test_bristol_two_input_samples(name):
    c = bristol(name)
    rng = np.random.default_rng(1)
    x, y = rand_bits(rng, 64), rand_bits(rng, 64)
    r0, r1 = yao(c, [x], [y])
    want = c.evaluate([x, y])
    for a, b, w in zip(r0, r1, want):
        assert np.array_equal(a, w) and np.array_equal(b, w)


@pytest.mark.parametrize("name", ["neg64.txt", "zero_equal.txt"])
def test_one_input_circuit_evaluator_has_no_input(name):
    c = bristol(name)
    x = int_to_bits(0 if name == "zero_equal.txt" else 12345, 64)
    r0, r1 = yao(c, [x], [])
    want = c.evaluate([x])
    assert all(np.array_equal(a, w) and np.array_equal(b, w) for a, b, w in zip(r0, r1, want))


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_mult64_random_values(a, b):
    r0, r1 = yao(bristol("mult64.txt"), [int_to_bits(a, 64)], [int_to_bits(b, 64)], ot="base")
    assert bits_to_int(r0[0]) == bits_to_int(r1[0]) == (a * b) % 2**64


def _random_circuit(seed, n_g, n_e, n_gates):
    """A random builder circuit mixing every gate kind (and constants) over two groups."""
    r = np.random.default_rng(seed)
    b = CircuitBuilder()
    x, y = b.input(n_g), b.input(n_e)
    pool = list(x) + list(y)
    for _ in range(n_gates):
        k = r.integers(0, 5)
        p, q = pool[r.integers(len(pool))], pool[r.integers(len(pool))] if pool else None
        if k == 0:
            pool.append(p ^ q)
        elif k == 1:
            pool.append(p & q)
        elif k == 2:
            pool.append(~p)
        elif k == 3:
            pool.append(p | q)
        else:
            pool.append(p ^ int(r.integers(0, 2)))
    outs = [pool[i] for i in r.integers(0, len(pool), size=9)]
    b.output(b.concat(*outs), b.const(5, 3))
    b.output(x[:1] if n_g else b.const(1, 1))
    return b.build()


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from([1, 7, 64]), st.sampled_from([0, 1, 9]),
       st.sampled_from([0, 1, 3]), st.sampled_from([1, 5, 1 << 16]))
def test_random_circuits_batches_and_chunking(seed, n_g, n_e, batch, chunk):
    c = _random_circuit(seed, n_g, n_e, 120)
    rng = np.random.default_rng(seed)
    g_in = [rand_bits(rng, batch, n_g)]           # batched garbler input
    e_in = [rand_bits(rng, n_e)]                  # shared by every instance
    r0, r1 = yao(c, g_in, e_in, chunk_ands=chunk, ot="base")
    want = plain(c, None, [0], [1], g_in, e_in)
    for a, b, w in zip(r0, r1, want):
        assert a.shape == w.shape == (batch, w.shape[1])
        assert np.array_equal(a, w) and np.array_equal(b, w)


def test_swapped_and_multiple_ownership():
    b = CircuitBuilder()
    x, y, z = b.input(16), b.input(16), b.input(16)
    b.output(x + y * z)
    b.output(x.lt(z))
    c = b.build()
    vals = [int_to_bits(v, 16) for v in (40000, 123, 77)]
    kw = dict(garbler_inputs=[2, 0], evaluator_inputs=[1])
    r0, r1 = yao(c, [vals[2], vals[0]], [vals[1]], **kw)
    want = c.evaluate(vals)
    for a, b_, w in zip(r0, r1, want):
        assert np.array_equal(a, w) and np.array_equal(b_, w)
    assert bits_to_int(r0[0]) == (40000 + 123 * 77) % 2**16


@pytest.mark.parametrize("reveal", ["garbler", "evaluator"])
def test_reveal_to_one_party(reveal):
    c = bristol("adder64.txt")
    x, y = int_to_bits(5, 64), int_to_bits(7, 64)
    r0, r1 = yao(c, [x], [y], reveal=reveal)
    got, none = (r0, r1) if reveal == "garbler" else (r1, r0)
    assert none is None
    assert bits_to_int(got[0]) == 12


def test_ferret_as_the_correlated_ot():
    c = bristol("compare.txt")
    rng = np.random.default_rng(5)
    x, y = rand_bits(rng, 4, 64), rand_bits(rng, 4, 64)
    r0, r1 = yao(c, [x], [y], ot="ferret")
    want = c.evaluate([x, y])
    assert np.array_equal(r0[0], want[0]) and np.array_equal(r1[0], want[0])


@pytest.mark.parametrize("kappa", [128, 256])
def test_softspoken_as_the_correlated_ot(kappa):
    c = bristol("compare.txt")
    rng = np.random.default_rng(6)
    x, y = rand_bits(rng, 3, 64), rand_bits(rng, 3, 64)
    r0, r1 = yao(c, [x], [y], ot="softspoken", kappa=kappa)
    want = c.evaluate([x, y])
    assert np.array_equal(r0[0], want[0]) and np.array_equal(r1[0], want[0])


def test_ot_kinds_must_agree():
    c = bristol("compare.txt")
    x = int_to_bits(3, 64)
    res = run_both(lambda ch: yao_garbler(ch, c, [x], ot="softspoken"), lambda ch: yao_evaluator(ch, c, [x]),
                   MemoryChannel.pair(timeout=30))
    assert all(isinstance(r, HandshakeError) for r in res), res


def test_empty_batch_and_free_only_circuit():
    b = CircuitBuilder()
    x, y = b.input(8), b.input(8)
    b.output(x ^ y ^ 0x0F)
    c = b.build()
    assert c.and_count == 0
    r0, r1 = yao(c, [np.zeros((0, 8), np.uint8)], [int_to_bits(3, 8)])
    assert r0[0].shape == r1[0].shape == (0, 8)
    r0, r1 = yao(c, [int_to_bits(0xF0, 8)], [int_to_bits(0x01, 8)])
    assert bits_to_int(r0[0]) == bits_to_int(r1[0]) == 0xF0 ^ 0x01 ^ 0x0F


def test_handshake_mismatch_fails_on_both_sides():
    a, s = bristol("adder64.txt"), bristol("sub64.txt")
    x = int_to_bits(1, 64)
    res = run_both(lambda ch: yao_garbler(ch, a, [x]), lambda ch: yao_evaluator(ch, s, [x]),
                   MemoryChannel.pair(timeout=30))
    assert all(isinstance(r, HandshakeError) for r in res), res
    assert all("circuit" in str(r) for r in res)
    res = run_both(lambda ch: yao_garbler(ch, a, [x], reveal="garbler"), lambda ch: yao_evaluator(ch, a, [x]),
                   MemoryChannel.pair(timeout=30))
    assert all(isinstance(r, HandshakeError) and "reveal" in str(r) for r in res), res


def test_batch_size_mismatch():
    c = bristol("adder64.txt")
    res = run_both(lambda ch: yao_garbler(ch, c, [np.zeros((3, 64), np.uint8)]),
                   lambda ch: yao_evaluator(ch, c, [np.zeros((2, 64), np.uint8)]),
                   MemoryChannel.pair(timeout=30))
    assert all(isinstance(r, HandshakeError) and "batch" in str(r) for r in res), res


def test_peer_dies_mid_circuit():
    c = bristol("mult64.txt")
    x = int_to_bits(3, 64)
    sent = []

    def crash_after_two_table_chunks(i, data):
        if len(data) == 32 * 500:
            sent.append(i)
            if len(sent) == 3:
                return None
        return data

    chans = tamper_pair(crash_after_two_table_chunks)
    res = run_both(lambda ch: yao_garbler(ch, c, [x], chunk_ands=500),
                   lambda ch: yao_evaluator(ch, c, [x]), chans)
    assert isinstance(res[0], ChannelClosed)
    assert isinstance(res[1], ChannelClosed)
    assert "Yao evaluator (receive and evaluate tables)" in str(res[1])


def test_truncated_tables_are_a_protocol_error():
    c = bristol("adder64.txt")
    x = int_to_bits(3, 64)

    def truncate_tables(i, data):
        return data[:-7] if len(data) == 63 * 32 else data

    res = run_both(lambda ch: yao_garbler(ch, c, [x]), lambda ch: yao_evaluator(ch, c, [x]),
                   tamper_pair(truncate_tables))
    assert isinstance(res[1], ProtocolError) and "step 5 (garbled tables)" in str(res[1]), res


def test_forged_output_label_is_detected():
    c = bristol("adder64.txt")
    x = int_to_bits(3, 64)

    def flip_output_label(i, data):
        if len(data) == 64 * 16:  # the evaluator's output labels
            data = bytearray(data)
            data[5] ^= 1
            return bytes(data)
        return data

    res = run_both(lambda ch: yao_garbler(ch, c, [x], reveal="garbler", ot="base"),
                   lambda ch: yao_evaluator(ch, c, [x], reveal="garbler", ot="base"),
                   tamper_pair(None, flip_output_label))
    assert isinstance(res[0], ProtocolError) and "neither of its two labels" in str(res[0]), res


def test_bad_arguments():
    c = bristol("adder64.txt")
    ch, _ = MemoryChannel.pair()
    with pytest.raises(ParameterError):
        yao_garbler(ch, c, [np.zeros(63, np.uint8)])
    with pytest.raises(ParameterError):
        yao_garbler(ch, c, [np.full(64, 2, np.uint8)])
    with pytest.raises(ParameterError):
        yao_garbler(ch, c, [np.zeros(64, np.uint8)], reveal="nobody")
    with pytest.raises(ParameterError):
        yao_garbler(ch, c, [np.zeros(64, np.uint8)], garbler_inputs=[0], evaluator_inputs=[0])
    with pytest.raises(ParameterError):
        yao_garbler(ch, c, [np.zeros(64, np.uint8)], ot="carrier-pigeon")
    assert ch.stats.bytes_sent == 0  # nothing was sent for a rejected call


def test_implausible_peer_batch_is_rejected():
    c = bristol("adder64.txt")
    x = int_to_bits(3, 64)

    def claim_huge_batch(i, data):
        if data.startswith(b'{"batch"'):
            return b'{"batch":549755813888,"batched":[1]}'
        return data

    res = run_both(lambda ch: yao_garbler(ch, c, [x]), lambda ch: yao_evaluator(ch, c, [x]),
                   tamper_pair(None, claim_huge_batch))
    assert isinstance(res[0], ProtocolError) and "step 2 (layout)" in str(res[0]), res


@pytest.mark.parametrize("fault", ["crash", "truncate"])
def test_faults_in_a_long_stream(fault):
    # 20 instances of mult64 = 80,660 tables: both sides stream through their helper threads
    c = bristol("mult64.txt")
    rng = np.random.default_rng(9)
    x, y = rand_bits(rng, 20, 64), rand_bits(rng, 64)
    chunks = []

    def on_send(i, data):
        if len(data) == 32 * 4096:
            chunks.append(i)
            if len(chunks) == 4:
                return None if fault == "crash" else data[:-32]
        return data

    res = run_both(lambda ch: yao_garbler(ch, c, [x], chunk_ands=4096),
                   lambda ch: yao_evaluator(ch, c, [y]), tamper_pair(on_send))
    if fault == "crash":
        assert isinstance(res[0], ChannelClosed) and isinstance(res[1], ChannelClosed), res
        assert "Yao evaluator (receive and evaluate tables)" in str(res[1])
    else:
        assert isinstance(res[1], ProtocolError) and "step 5 (garbled tables)" in str(res[1]), res


def test_long_stream_matches_plain():
    c = bristol("mult64.txt")
    rng = np.random.default_rng(10)
    x, y = rand_bits(rng, 20, 64), rand_bits(rng, 64)
    r0, r1 = yao(c, [x], [y], chunk_ands=3000)
    want = c.evaluate([x, np.broadcast_to(y, (20, 64))])
    assert np.array_equal(r0[0], want[0]) and np.array_equal(r1[0], want[0])
