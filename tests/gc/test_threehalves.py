"""Three-halves garbling (Rosulek–Roy 2021): correctness, sizes, backends, equations."""

import contextlib
import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import ParameterError, ProtocolError
from pqmpc.gc import halfgates
from pqmpc.gc import threehalves as th
from pqmpc.gc.aes128 import aes128_circuit
from pqmpc.gc.build import CircuitBuilder
from pqmpc.gc.circuit import Circuit
from pqmpc.gc.evaluate import Evaluator, evaluate_garbled, evaluate_stream
from pqmpc.gc.garble import Garbler, garble
from pqmpc.gc.random_circuit import random_circuit
from pqmpc.gc.tweaks import Delta, tweak_high
from pqmpc.rng import Rng

ROOT = Path(__file__).resolve().parents[2]
BRISTOL = sorted((ROOT / "vectors" / "external" / "bristol").glob("*.txt"))
BACKENDS = ["fused", "levels", "levels-bulk"]
TH = "threehalves"


@contextlib.contextmanager
def backend_mode(backend):
    """'levels-bulk': the levels backend with every AND level sent through OpenSSL."""
    if backend != "levels-bulk":
        yield backend
        return
    old = halfgates.WIDE_LEVEL
    halfgates.WIDE_LEVEL = 1
    try:
        yield "levels"
    finally:
        halfgates.WIDE_LEVEL = old


def random_inputs(c, seed):
    r = np.random.default_rng(seed)
    return [r.integers(0, 2, n, dtype=np.uint8) for n in c.input_sizes]


def check(c, inputs, backend="auto", rng=None):
    with backend_mode(backend) as be:
        g, enc = garble(c, rng=rng, backend=be, scheme=TH)
        assert g.scheme == TH
        assert g.table_bytes == th.packed_size(c.and_count) == g.tables.size
        out = evaluate_garbled(g, enc.encode(inputs), backend=be)
    for got, want in zip(g.decode(out), c.evaluate(inputs)):
        assert np.array_equal(got, want)
    return g, enc, out


def builder_circuit():
    b = CircuitBuilder()
    x, y = b.input(16), b.input(16)
    b.output(x + y, x * y, b.lt(x, y, signed=True), b.popcount(x ^ y), b.const(0b101, 3))
    b.output(b.mux(b.eq(x, y), x, y) - 7)
    return b.build()


@pytest.mark.parametrize("path", BRISTOL, ids=lambda p: p.name)
@pytest.mark.parametrize("backend", BACKENDS)
def test_bristol_samples_garbled_equal_plain(path, backend):
    c = Circuit.from_bristol(path)
    tables = {check(c, random_inputs(c, s), backend, Rng(b"b%d" % s))[0].tables.tobytes()
              for s in range(3)}
    assert len(tables) == 3


@settings(max_examples=30, deadline=None)
@given(n_in=st.integers(1, 40), n_gates=st.integers(1, 400), n_out=st.integers(1, 20),
       p_and=st.floats(0, 1), window=st.one_of(st.none(), st.integers(1, 64)),
       seed=st.integers(0, 2**32 - 1))
def test_random_circuits_all_backends_identical(n_in, n_gates, n_out, p_and, window, seed):
    c = random_circuit([n_in, n_in], n_gates, min(n_out, n_gates), seed=seed, p_and=p_and,
                       p_unary=0.2, window=window, n_output_groups=2)
    ins = random_inputs(c, seed)
    tables = [check(c, ins, be, Rng(b"same"))[0].tables.tobytes() for be in BACKENDS]
    assert tables[0] == tables[1] == tables[2], "backends must give identical tables"


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), chunk=st.integers(1, 40))
def test_builder_circuit_streamed_in_any_chunks(seed, chunk):
    c = builder_circuit()
    ins = random_inputs(c, seed)
    whole, enc, out = check(c, ins, "fused", Rng(b"stream %d" % seed))
    g = Garbler(c, Rng(b"stream %d" % seed), scheme=TH)
    chunks = list(g.stream(chunk_ands=chunk))
    # R$ comes from a PRF of the AND index: chunking does not change the bytes
    rows = np.concatenate([th.unpack_tables(x) for x in chunks])
    assert np.array_equal(th.pack_tables(rows), whole.tables)
    assert sum(x.size for x in chunks) == sum(th.packed_size(len(th.unpack_tables(x)))
                                              for x in chunks)
    got = evaluate_stream(c, enc.encode(ins), chunks, scheme=TH)
    assert all(np.array_equal(a, b) for a, b in zip(got, out))
    # the evaluator may cut differently: feed unpacked rows one at a time
    ev = Evaluator(c, enc.encode(ins), scheme=TH)
    for r in rows:
        ev.feed(r[None, :])
    assert all(np.array_equal(a, b) for a, b in zip(ev.finish(), out))


def test_table_size_is_197_bits_per_and():
    c = aes128_circuit()
    g, _ = garble(c, rng=Rng(b"size"), scheme=TH)
    assert c.and_count == 6400 and c.and_count % 8 == 0
    assert g.table_bytes == 6400 * 197 // 8 == 157_600
    assert 8 * g.table_bytes / c.and_count == 197.0
    hg, _ = garble(c, rng=Rng(b"size"))
    assert hg.table_bytes == 32 * 6400
    for m in range(0, 50):
        assert th.packed_size(m) == 24 * m + (5 * m + 7) // 8 <= 25 * m
        assert th.ands_in_packed(th.packed_size(m)) == m


def _tccr(x, t, hi):
    from pqmpc.primitives import hashing
    blk = np.ascontiguousarray(x, np.uint64).view(np.uint8).reshape(1, 16)
    return hashing.tccr(blk, np.array([[t, hi]], np.uint64).view(np.uint8)).view(np.uint64)[0]


def test_one_and_gate_matches_documented_equations():
    """Evaluate a garbled AND by hand with the equations of pqmpc/gc/threehalves.py."""
    b = CircuitBuilder()
    x, y = b.input(1), b.input(1)
    b.output(x & y)
    c = b.build()
    for seed in range(8):  # both permute bits of both inputs, several R$ draws
        rng = Rng(b"one gate %d" % seed)
        delta = rng.blocks(1, 16)[0]
        delta[0] |= 1
        a0, b0 = rng.blocks(1, 16), rng.blocks(1, 16)
        g, enc = garble(c, delta=delta, input_labels=[a0, b0], rng=rng, scheme=TH)
        hi = tweak_high(g.tweak_base)
        g0, g1, g2, z = th.unpack_tables(g.tables)[0]
        assert g.tables.size == 25 and z < 32
        c0 = garble_zero = None
        for xv, yv in itertools.product((0, 1), repeat=2):
            wa = (a0 ^ xv * delta).view(np.uint64)[0]
            wb = (b0 ^ yv * delta).view(np.uint64)[0]
            i, j = int(wa[0] & 1), int(wb[0] & 1)
            ha, hb, hab = _tccr(wa, 0, hi), _tccr(wb, 1, hi), _tccr(wa ^ wb, 2, hi)
            e = [int(h[1] & 1) for h in (ha, hb, hab)]
            zb = [int(z >> n) & 1 for n in range(5)]
            r1 = zb[0] ^ (i & zb[2]) ^ ((i ^ j) & zb[4]) ^ e[0] ^ e[2]
            r2 = zb[1] ^ (j & zb[3]) ^ ((i ^ j) & zb[4]) ^ e[1] ^ e[2]
            rm = th.RP[i, j] ^ (r1 * th.S1) ^ (r2 * th.S2)
            halves = [wa[0], wa[1], wb[0], wb[1]]
            lin = [np.bitwise_xor.reduce([h for h, bit in zip(halves, row) if bit] or
                                         [np.uint64(0)]) for row in rm]
            cl = ha[0] ^ hab[0] ^ (g0 if i else 0) ^ (g2 if i ^ j else 0) ^ lin[0]
            cr = hb[0] ^ hab[0] ^ (g1 if j else 0) ^ (g2 if i ^ j else 0) ^ lin[1]
            got = np.array([cl, cr], np.uint64)
            out = evaluate_garbled(g, [a0 ^ xv * delta, b0 ^ yv * delta])[0]
            assert np.array_equal(out.view(np.uint64)[0], got)
            if xv == yv == 0:
                c0 = got
            garble_zero = c0
            want = c0 ^ (delta.view(np.uint64) if xv & yv else np.uint64(0))
            assert np.array_equal(got, want)
        assert g.decoding[0] == garble_zero[0] & 1


def test_control_bits_hide_the_colours_and_matrices_are_the_only_solution():
    """Each evaluator position sees r_ij uniform over R$ whatever (a, b) are; the r-encoding
    is the only one (up to R$) for which V·X = Z is solvable (checked exhaustively)."""
    v = np.vstack([th.v_block(i, j) for i in (0, 1) for j in (0, 1)]).astype(int)
    vinv = th.V_INV.astype(int)
    for a, b in itertools.product((0, 1), repeat=2):
        for i, j in itertools.product((0, 1), repeat=2):
            seen = sorted(th.control_bits(a, b, s0, s1)[i, j]
                          for s0, s1 in itertools.product((0, 1), repeat=2))
            assert seen == [(0, 0), (0, 1), (1, 0), (1, 1)]
        ok = []
        for bits in itertools.product((0, 1), repeat=8):
            z = []
            for n, (i, j) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
                p = np.zeros((4, 6), int)
                p[0, 0] = p[1, 1] = p[2, 2] = p[3, 3] = 1
                p[0, 4] = p[1, 5] = i
                p[2, 4] = p[3, 5] = j
                zij = (th.r_matrix(i, j, bits[2 * n], bits[2 * n + 1]).astype(int) @ p) % 2
                zij[0, 4] ^= int(i == a and j == b)
                zij[1, 5] ^= int(i == a and j == b)
                z.append(zij)
            z = np.vstack(z)
            if not ((v @ ((vinv @ z) % 2)) % 2 != z).any():
                ok.append(bits)
        want = sorted(tuple(x for ij in ((0, 0), (0, 1), (1, 0), (1, 1))
                            for x in th.control_bits(a, b, s0, s1)[ij])
                      for s0, s1 in itertools.product((0, 1), repeat=2))
        assert sorted(ok) == want


def test_two_garblings_under_one_delta_share_no_tweak():
    b = CircuitBuilder()
    x, y = b.input(1), b.input(1)
    b.output(x & y)
    c = b.build()
    rng = Rng()
    d = Delta(rng=rng)
    a0, b0 = rng.blocks(1, 16), rng.blocks(1, 16)
    g1, _ = garble(c, delta=d, input_labels=[a0, b0], rng=rng, scheme=TH)
    g2, _ = garble(c, delta=d, input_labels=[a0, b0 ^ d.value], rng=rng, scheme=TH)
    assert g1.tweak_base != g2.tweak_base
    r1, r2 = th.unpack_tables(g1.tables)[0], th.unpack_tables(g2.tables)[0]
    # with one tweak the A-hashes would cancel: G0 ⊕ G0' would be a fixed linear
    # combination of labels and Δ halves; with distinct ids it is hash output
    dl, dr = d.value.view(np.uint64)
    al, ar = a0.view(np.uint64)[0]
    bl, br = b0.view(np.uint64)[0]
    halves = [al, ar, bl, br, dl, dr]
    combos = {np.bitwise_xor.reduce([h for h, s in zip(halves, m) if s] or [np.uint64(0)])
              for m in itertools.product((0, 1), repeat=6)}
    assert r1[0] ^ r2[0] not in combos
    with pytest.raises(ParameterError, match="already used"):
        garble(c, delta=d, tweak_base=g1.tweak_base, rng=rng, scheme=TH)
    for g, bz in ((g1, b0), (g2, b0 ^ d.value)):
        for xv, yv in itertools.product((0, 1), repeat=2):
            out = evaluate_garbled(g, [a0 ^ xv * d.value, bz ^ yv * d.value])
            assert g.decode(out)[0][0] == xv & yv


def test_parameters_and_peer_input_checked():
    c = builder_circuit()
    with pytest.raises(ParameterError, match="kappa = 128 only"):
        garble(c, kappa=256, scheme=TH)
    with pytest.raises(ParameterError, match="scheme must be"):
        garble(c, scheme="fourthirds")
    g, enc = garble(c, rng=Rng(b"peer"), scheme=TH)
    labels = enc.encode(random_inputs(c, 1))
    ev = Evaluator(c, labels, scheme=TH)
    with pytest.raises(ProtocolError, match="packed size"):
        ev.feed(g.tables[:-1].tobytes() + b"\0\0\0")
    bad = g.tables.copy()
    used = 5 * c.and_count
    if used % 8:
        bad[24 * c.and_count + used // 8] |= 0x80
        with pytest.raises(ProtocolError, match="padding"):
            Evaluator(c, labels, scheme=TH).feed(bad)
    with pytest.raises(ProtocolError, match="only .* AND gates remain"):
        Evaluator(c, labels, scheme=TH).feed(th.pack_tables(np.zeros((c.and_count + 1, 4),
                                                                     np.uint64)))
    with pytest.raises(ProtocolError, match="tables missing"):
        Evaluator(c, labels, scheme=TH).finish()
    # half-gates tables read as three-halves (or the reverse) fail loudly or decode garbage
    hg, henc = garble(c, rng=Rng(b"peer"))
    with pytest.raises(ProtocolError):
        Evaluator(c, henc.encode(random_inputs(c, 1)), scheme=TH).feed(hg.tables.tobytes())
