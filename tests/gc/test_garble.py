"""Garbled evaluation equals plain evaluation; keys, labels and streaming behave."""

import contextlib
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import ParameterError, ProtocolError
from pqmpc.gc import halfgates
from pqmpc.gc.build import CircuitBuilder
from pqmpc.gc.circuit import Circuit
from pqmpc.gc.evaluate import Evaluator, evaluate_garbled, evaluate_stream
from pqmpc.gc.garble import Garbler, garble
from pqmpc.gc.random_circuit import random_circuit
from pqmpc.gc.tweaks import tweak_high
from pqmpc.primitives.cpu import HAVE_VAES
from pqmpc.rng import Rng

ROOT = Path(__file__).resolve().parents[2]
BRISTOL = sorted((ROOT / "vectors" / "external" / "bristol").glob("*.txt"))
BACKENDS = ["fused", "levels", "levels-bulk"]


@contextlib.contextmanager
def backend_mode(backend):
    """'levels-bulk' is the levels backend with every AND level sent through OpenSSL."""
    if backend != "levels-bulk":
        yield backend
        return
    old = halfgates.WIDE_LEVEL
    halfgates.WIDE_LEVEL = 1
    try:
        yield "levels"
    finally:
        halfgates.WIDE_LEVEL = old


def random_inputs(c, seed, batch=None):
    r = np.random.default_rng(seed)
    return [r.integers(0, 2, n, dtype=np.uint8) for n in c.input_sizes]


def check_garbled(c, inputs, backend="auto", rng=None):
    with backend_mode(backend) as be:
        garbled, enc = garble(c, rng=rng, backend=be)
        assert garbled.tables.shape == (c.and_count, 32)
        labels = enc.encode(inputs)
        out = evaluate_garbled(garbled, labels, backend=be)
    got = garbled.decode(out)
    want = c.evaluate(inputs)
    for g, w in zip(got, want):
        assert np.array_equal(g, w)
    return garbled, enc, out


def sample_builder_circuit():
    b = CircuitBuilder()
    x, y = b.input(16), b.input(16)
    b.output(x + y, x * y, b.lt(x, y, signed=True), b.popcount(x ^ y), b.const(0b101, 3))
    b.output(b.mux(b.eq(x, y), x, y) - 7)
    return b.build()


@pytest.mark.parametrize("path", BRISTOL, ids=lambda p: p.name)
@pytest.mark.parametrize("backend", BACKENDS)
def test_bristol_samples_garbled_equal_plain(path, backend):
    c = Circuit.from_bristol(path)
    for seed in range(3):
        check_garbled(c, random_inputs(c, seed), backend, Rng(b"t%d" % seed))


@settings(max_examples=30, deadline=None)
@given(n_in=st.integers(1, 40), n_gates=st.integers(1, 400), n_out=st.integers(1, 20),
       p_and=st.floats(0, 1), window=st.one_of(st.none(), st.integers(1, 64)),
       seed=st.integers(0, 2**32 - 1), groups=st.integers(1, 3))
def test_random_circuits_garbled_equal_plain(n_in, n_gates, n_out, p_and, window, seed, groups):
    n_out = min(n_out, n_gates)
    sizes = [n_in // groups + (1 if j < n_in % groups else 0) for j in range(groups)]
    sizes = [s for s in sizes if s] or [1]
    c = random_circuit(sizes, n_gates, n_out, seed=seed, p_and=p_and, p_unary=0.2, window=window,
                       n_output_groups=2)
    ins = random_inputs(c, seed)
    tables = []
    for backend in BACKENDS:
        g, _, _ = check_garbled(c, ins, backend, Rng(b"same"))
        tables.append(g.tables.tobytes())
    assert tables[0] == tables[1] == tables[2], "backends must give identical garbled tables"


def test_builder_circuit_garbled_equal_plain():
    c = sample_builder_circuit()
    for seed in range(5):
        for backend in BACKENDS:
            check_garbled(c, random_inputs(c, seed), backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_wide_levels_mixed_with_narrow(backend):
    """Levels above and below WIDE_LEVEL in one circuit, streamed across their borders."""
    c = random_circuit([300, 300], 6000, 64, seed=3, p_and=0.6, window=None)
    ins = random_inputs(c, 4)
    ref, _ = garble(c, rng=Rng(b"mixed"), backend="fused")
    with backend_mode(backend) as be:
        g = Garbler(c, rng=Rng(b"mixed"), backend=be)
        chunks = list(g.stream(chunk_ands=333))
        assert np.array_equal(np.concatenate(chunks), ref.tables)
        out = evaluate_stream(c, g.encoder.encode(ins), np.array_split(ref.tables, 5), backend=be)
    assert all(np.array_equal(a, b) for a, b in zip(ref.decode(out), c.evaluate(ins)))


def test_output_labels_are_zero_label_xor_value_delta():
    c = sample_builder_circuit()
    g = Garbler(c, Rng(b"labels"))
    garbled = g.finish()
    ins = random_inputs(c, 1)
    out = evaluate_garbled(garbled, g.encoder.encode(ins))
    plain = c.evaluate(ins)
    for lab, z, bits in zip(out, g.output_zero_labels(), plain):
        assert np.array_equal(lab, z ^ (bits[:, None] * g.delta))
    assert np.array_equal(np.concatenate([z[:, 0] & 1 for z in g.output_zero_labels()]),
                          garbled.decoding)


def test_delta_lsb_is_one_and_labels_fresh():
    c = sample_builder_circuit()
    deltas = set()
    for _ in range(20):
        _, enc = garble(c)
        assert enc.delta[0] & 1 == 1
        deltas.add(enc.delta.tobytes())
    assert len(deltas) == 20


def test_supplied_delta_and_input_labels_are_respected():
    c = sample_builder_circuit()
    rng = Rng(b"supplied")
    delta = rng.blocks(1)[0]
    delta[0] |= 1
    zero = [rng.blocks(n) for n in c.input_sizes]
    garbled, enc = garble(c, delta=delta.tobytes(), input_labels=zero)
    assert np.array_equal(enc.delta, delta)
    for j, z in enumerate(zero):
        assert np.array_equal(enc.zero_labels(j), z)
        assert np.array_equal(enc.one_labels(j), z ^ delta)
    ins = random_inputs(c, 3)
    # the evaluator's labels may be computed from the supplied correlation alone
    labels = [z ^ (x[:, None] * delta) for z, x in zip(zero, ins)]
    got = garbled.decode(evaluate_garbled(garbled, labels))
    assert all(np.array_equal(a, b) for a, b in zip(got, c.evaluate(ins)))
    # one (n_inputs, 16) array works the same; a second garbling under this Δ gets
    # the next garbling id (never the same tweaks), which the evaluator follows
    g2, enc2 = garble(c, delta=delta, input_labels=np.concatenate(zero), rng=Rng(b"other"))
    assert g2.tweak_base == garbled.tweak_base + 1
    assert np.array_equal(enc2.zero_labels(1), zero[1])
    got = g2.decode(evaluate_garbled(g2, labels))
    assert all(np.array_equal(a, b) for a, b in zip(got, c.evaluate(ins)))


def test_bad_delta_and_labels_rejected():
    c = sample_builder_circuit()
    d = np.zeros(16, np.uint8)
    with pytest.raises(ParameterError, match="least significant bit"):
        garble(c, delta=d)
    with pytest.raises(ParameterError):
        garble(c, delta=b"short")
    with pytest.raises(ParameterError):
        garble(c, input_labels=[np.zeros((3, 16), np.uint8)] * 2)
    with pytest.raises(ParameterError):
        garble(c, backend="gpu")


def test_seeded_garbling_is_deterministic():
    c = sample_builder_circuit()
    a, _ = garble(c, rng=Rng(b"seed"))
    b, _ = garble(c, rng=Rng(b"seed"))
    d, _ = garble(c, rng=Rng(b"other seed"))
    assert np.array_equal(a.tables, b.tables)
    assert not np.array_equal(a.tables, d.tables)


@pytest.mark.parametrize("chunk", [1, 3, 64, 10**6])
@pytest.mark.parametrize("backend", BACKENDS)
def test_streaming_matches_whole(chunk, backend):
    c = random_circuit([30, 20], 3000, 40, seed=chunk, window=100)
    with backend_mode(backend) as be:
        whole, _ = garble(c, rng=Rng(b"stream"), backend=be)
        g = Garbler(c, rng=Rng(b"stream"), backend=be)
        chunks = list(g.stream(chunk_ands=chunk))
    assert all(ch.shape[1] == 32 for ch in chunks)
    assert np.array_equal(np.concatenate(chunks), whole.tables)
    assert np.array_equal(g.decoding, whole.decoding)
    ins = random_inputs(c, chunk)
    # the evaluator may cut the stream differently from the garbler
    pieces = np.array_split(whole.tables, 7)
    with backend_mode(backend) as be:
        out = evaluate_stream(c, g.encoder.encode(ins), pieces, backend=be)
    assert all(np.array_equal(a, b) for a, b in zip(whole.decode(out), c.evaluate(ins)))


def test_stream_by_level():
    c = Circuit.from_bristol(ROOT / "vectors" / "external" / "bristol" / "mult64.txt")
    g = Garbler(c, rng=Rng(b"lvl"))
    chunks = list(g.stream(by_level=True))
    assert len(chunks) == c.depth
    whole, _ = garble(c, rng=Rng(b"lvl"))
    assert np.array_equal(np.concatenate(chunks), whole.tables)
    ev = Evaluator(c, g.encoder.encode(random_inputs(c, 0)))
    for ch in chunks:
        ev.feed(ch.tobytes())
    assert all(np.array_equal(a, b) for a, b in
               zip(whole.decode(ev.finish()), c.evaluate(random_inputs(c, 0))))


def test_stream_circuit_without_ands():
    b = CircuitBuilder()
    x = b.input(8)
    b.output(~x ^ 0x5A, b.const(3, 2))
    c = b.build()
    g = Garbler(c)
    assert list(g.stream()) == []
    ins = [np.arange(8, dtype=np.uint8) % 2]
    out = evaluate_stream(c, g.encoder.encode(ins), [])
    dec = (np.concatenate(out)[:, 0] & 1) ^ g.decoding
    assert np.array_equal(dec, np.concatenate(c.evaluate(ins)))


def test_evaluator_checks_peer_tables():
    c = random_circuit([8, 8], 200, 8, seed=5)
    garbled, enc = garble(c)
    labels = enc.encode(random_inputs(c, 0))
    ev = Evaluator(c, labels)
    with pytest.raises(ProtocolError, match="only"):
        ev.feed(np.zeros((c.and_count + 1, 32), np.uint8))
    with pytest.raises(ProtocolError, match="multiple of 32"):
        ev.feed(b"\x00" * 33)
    with pytest.raises(ProtocolError, match="expected"):
        ev.feed(np.zeros((2, 31), np.uint8))
    ev.feed(garbled.tables[:5])
    with pytest.raises(ProtocolError, match="missing"):
        ev.finish()


def test_encoder_validates_inputs():
    c = sample_builder_circuit()
    _, enc = garble(c)
    with pytest.raises(ParameterError):
        enc.encode([np.zeros(16, np.uint8)])
    with pytest.raises(ParameterError):
        enc.encode([np.zeros(15, np.uint8), np.zeros(16, np.uint8)])
    with pytest.raises(ParameterError):
        enc.encode([np.full(16, 2, np.uint8), np.zeros(16, np.uint8)])


def test_wrong_labels_give_garbage_not_crash():
    # a label that is neither Z nor Z^Δ must not decode reliably to the right answer
    c = Circuit.from_bristol(ROOT / "vectors" / "external" / "bristol" / "mult64.txt")
    garbled, enc = garble(c)
    ins = random_inputs(c, 9)
    labels = enc.encode(ins)
    labels[0] = labels[0] ^ np.uint8(0x80)
    got = garbled.decode(evaluate_garbled(garbled, labels))
    assert not np.array_equal(got[0], c.evaluate(ins)[0])


def test_no_aesni_fallback_gives_same_tables():
    """Without AES-NI the auto backend must not compile intrinsics and must agree.

    adder64 exercises the numba walk with the table AES (63 one-AND levels), the
    random circuit the bulk OpenSSL levels (several levels above WIDE_LEVEL).
    """
    adder = ROOT / "vectors" / "external" / "bristol" / "adder64.txt"
    want = []
    for c in (Circuit.from_bristol(adder),
              random_circuit([300, 300], 6000, 64, seed=3, p_and=0.6)):
        g, _ = garble(c, rng=Rng(b"fallback"))
        want.append(hashlib.sha256(g.tables.tobytes()).hexdigest())
    code = (
        "from pqmpc.gc.circuit import Circuit\n"
        "from pqmpc.gc.garble import garble\n"
        "from pqmpc.gc.halfgates import resolve_backend\n"
        "from pqmpc.gc.random_circuit import random_circuit\n"
        "from pqmpc.primitives.cpu import HAVE_AESNI\n"
        "from pqmpc.rng import Rng\n"
        "import hashlib, sys\n"
        "assert not HAVE_AESNI and resolve_backend('auto') == 'levels'\n"
        "for c in (Circuit.from_bristol(sys.argv[1]),\n"
        "          random_circuit([300, 300], 6000, 64, seed=3, p_and=0.6)):\n"
        "    g, _ = garble(c, rng=Rng(b'fallback'))\n"
        "    print(hashlib.sha256(g.tables.tobytes()).hexdigest())\n")
    # numba keys its cache on the target's CPU features, so the -aes build gets its
    # own cache entries next to the native ones and later runs start warm
    env = dict(os.environ, NUMBA_CPU_FEATURES="-aes")
    r = subprocess.run([sys.executable, "-c", code, str(adder)],
                       env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == want


def test_interleaved_garblers_and_evaluators_do_not_share_labels():
    """Two streams in one thread: the per-thread label buffer must not be shared."""
    c1 = random_circuit([16, 16], 2000, 16, seed=11, window=50)
    c2 = random_circuit([16, 16], 3000, 16, seed=12, window=50)
    g1, g2 = Garbler(c1, Rng(b"a")), Garbler(c2, Rng(b"b"))
    s1, s2 = g1.stream(chunk_ands=100), g2.stream(chunk_ands=77)
    t1, t2 = [], []
    for a, b in zip(s1, s2):
        t1.append(a)
        t2.append(b)
    t1 += list(s1)
    t2 += list(s2)
    for c, g, t, seed in ((c1, g1, t1, 1), (c2, g2, t2, 2)):
        whole, _ = garble(c, Rng(b"a" if c is c1 else b"b"))
        assert np.array_equal(np.concatenate(t), whole.tables)
    ins1, ins2 = random_inputs(c1, 1), random_inputs(c2, 2)
    e1 = Evaluator(c1, g1.encoder.encode(ins1))
    e2 = Evaluator(c2, g2.encoder.encode(ins2))
    e1.feed(np.concatenate(t1))
    e2.feed(np.concatenate(t2))
    o1, o2 = e1.finish(), e2.finish()
    for c, g, o, ins in ((c1, g1, o1, ins1), (c2, g2, o2, ins2)):
        dec = [(lab[:, 0] & 1) ^ d for lab, d in
               zip(o, np.split(g.decoding, np.cumsum(c.output_sizes)[:-1]))]
        assert all(np.array_equal(a, b) for a, b in zip(dec, c.evaluate(ins)))
    with pytest.raises(ProtocolError, match="finished"):
        e1.feed(t1[0])


def test_range_api_checks_the_label_table():
    """Protocols driving garble_range directly get a clear error for a bare table."""
    c = sample_builder_circuit()
    sched = c.schedule
    tables = np.empty((c.and_count, 4), np.uint64)
    delta = np.array([3, 5], np.uint64)
    with pytest.raises(ParameterError, match="new_label_table"):
        halfgates.garble_range("fused", sched, 0, c.n_gates, 0,
                               np.zeros((c.n_wires, 2), np.uint64), delta, tables)
    lab = halfgates.new_label_table(c.n_wires)
    lab[:c.n_inputs] = np.arange(2 * c.n_inputs, dtype=np.uint64).reshape(-1, 2)
    with pytest.raises(ParameterError, match="tables must be"):
        halfgates.garble_range("fused", sched, 0, c.n_gates, 0, lab, delta, tables[:-1])
    with pytest.raises(ParameterError, match="gate range"):
        halfgates.garble_range("fused", sched, 0, c.n_gates + 1, 0, lab, delta, tables)
    ref = Garbler(c, delta=delta.view(np.uint8),
                  input_labels=np.arange(2 * c.n_inputs, dtype=np.uint64).view(np.uint8)
                  .reshape(-1, 16)).finish()
    halfgates.garble_range("fused", sched, 0, c.n_gates, 0, lab, delta, tables,
                           tweak_high(ref.tweak_base))
    assert np.array_equal(tables.view(np.uint8).reshape(-1, 32), ref.tables)


# -- kappa = 256 (32-byte labels, AES-256 wide hash) -----------------------------------------


@pytest.mark.parametrize("path", BRISTOL, ids=lambda p: p.name)
def test_bristol_samples_kappa256(path):
    c = Circuit.from_bristol(path)
    ins = random_inputs(c, 5)
    garbled, enc = garble(c, rng=Rng(b"wide"), kappa=256)
    assert garbled.tables.shape == (c.and_count, 64) and garbled.kappa == 256
    assert enc.delta.shape == (32,) and enc.delta[0] & 1
    out = evaluate_garbled(garbled, enc.encode(ins))
    assert all(o.shape[1] == 32 for o in out)
    assert all(np.array_equal(a, b) for a, b in zip(garbled.decode(out), c.evaluate(ins)))


@settings(max_examples=15, deadline=None)
@given(n_gates=st.integers(1, 300), seed=st.integers(0, 2**32 - 1), chunk=st.integers(1, 50))
def test_random_circuits_kappa256_streamed(n_gates, seed, chunk):
    c = random_circuit([9, 7], n_gates, min(12, n_gates), seed=seed, p_unary=0.2, window=40)
    ins = random_inputs(c, seed)
    whole, _ = garble(c, rng=Rng(b"w"), kappa=256)
    for backend in ("fused", "levels"):
        g = Garbler(c, rng=Rng(b"w"), backend=backend, kappa=256)
        chunks = list(g.stream(chunk_ands=chunk))
        got = np.concatenate(chunks) if chunks else np.zeros((0, 64), np.uint8)
        assert np.array_equal(got, whole.tables)
        # kappa is inferred from the 32-byte labels
        out = evaluate_stream(c, g.encoder.encode(ins), chunks, backend=backend)
        for lab, z, bits in zip(out, g.output_zero_labels(), c.evaluate(ins)):
            assert np.array_equal(lab, z ^ (bits[:, None] * g.delta))


def test_kappa_parameters_checked():
    c = sample_builder_circuit()
    with pytest.raises(ParameterError, match="32 bytes"):
        garble(c, delta=bytes([1]) * 16, kappa=256)
    with pytest.raises(ParameterError):
        garble(c, kappa=192)
    with pytest.raises(ParameterError):
        garble(c, input_labels=[np.zeros((16, 16), np.uint8)] * 2, kappa=256)
    g, enc = garble(c, kappa=256)
    with pytest.raises(ProtocolError, match="multiple of 64"):
        Evaluator(c, enc.encode(random_inputs(c, 0)), kappa=256).feed(b"\0" * 32)


@pytest.mark.parametrize("kappa", [128, 256])
def test_one_and_gate_matches_documented_equations(kappa):
    """Tables of a single AND, recomputed from halfgates.py's equations with hashing.tccr(_wide)."""
    from pqmpc.primitives import hashing

    b = CircuitBuilder()
    x, y = b.input(1), b.input(1)
    b.output(x & y)
    c = b.build()
    w = kappa // 8
    rng = Rng(b"one gate %d" % kappa)
    delta = rng.blocks(1, w)[0]
    delta[0] |= 1
    a0, b0 = rng.blocks(1, w), rng.blocks(1, w)
    garbled, enc = garble(c, delta=delta, input_labels=[a0, b0], kappa=kappa)
    hi = tweak_high(garbled.tweak_base)

    def h(v, t):
        # the tweak block: gate counter in the low word, tag and garbling id in the high
        f = hashing.tccr if kappa == 128 else hashing.tccr_wide
        return f(v, np.array([[t, hi]], np.uint64).view(np.uint8))

    pa, pb = a0[0, 0] & 1, b0[0, 0] & 1
    tg = h(a0, 0) ^ h(a0 ^ delta, 0) ^ (pb * delta)
    te = h(b0, 1) ^ h(b0 ^ delta, 1) ^ a0
    z = h(a0, 0) ^ (pa * tg) ^ h(b0, 1) ^ (pb * (te ^ a0))
    assert np.array_equal(garbled.tables, np.concatenate([tg, te], axis=1))
    assert garbled.decoding[0] == z[0, 0] & 1
    for xv in (0, 1):
        for yv in (0, 1):
            ins = [np.array([xv], np.uint8), np.array([yv], np.uint8)]
            out = evaluate_garbled(garbled, enc.encode(ins))
            assert np.array_equal(out[0], z ^ ((xv & yv) * delta))


def test_package_level_names_work_as_in_the_api():
    """`from pqmpc.gc import garble` must be callable even though it is also a submodule."""
    import pqmpc.gc as gc
    import pqmpc.gc.garble
    from pqmpc.gc import evaluate_garbled as ev

    c = sample_builder_circuit()
    for f in (gc.garble, pqmpc.gc.garble):
        garbled, enc = f(c, rng=Rng(b"api"), delta=None)
        ins = random_inputs(c, 0)
        got = garbled.decode(ev(garbled, enc.encode(ins)))
        assert all(np.array_equal(a, b) for a, b in zip(got, c.evaluate(ins)))


@pytest.mark.skipif(not HAVE_VAES, reason="numba's target has no VAES")
@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.floats(0.05, 0.95))
def test_vaes_walk_gives_the_128_bit_walks_bytes(seed, cut, p_and):
    """The VAES walk (four/eight ANDs per step, one-AND tails) against the AES-NI walk, on
    circuits with narrow and wide AND levels, cut into chunks that split AND runs."""
    from pqmpc.gc import fused, fused_vaes
    from pqmpc.gc.halfgates import new_label_table, round_keys

    c = random_circuit([24, 24], 400, 8, seed=seed % 1000, p_and=p_and)
    s, rk = c.schedule, round_keys()
    rng = np.random.default_rng(seed)
    d = rng.integers(0, 2**63, 2, dtype=np.int64).view(np.uint64) | np.array([1, 0], np.uint64)
    labs, tabs = [], []
    for walk in (fused, fused_vaes):
        lab = new_label_table(c.n_wires)
        lab[:c.n_inputs] = np.random.default_rng(seed + 1).integers(0, 2**63, (c.n_inputs, 2)).view(np.uint64)
        tab = np.zeros((c.and_count, 4), np.uint64)
        k, g = 0, 0
        while g < s.n_gates:  # chunks of `cut` ANDs, as Garbler.garble_into cuts them
            end = s.chunk_end(min(k + cut, c.and_count))
            walk.garble_range(rk, s.gates, g, end, k, np.uint64(7), lab, d[0], d[1], tab[k:])
            k, g = int(s.and_before[end]), end
        labs.append(lab.copy())
        tabs.append(tab)
        ev = lab.copy()  # evaluate on the zero-labels of the inputs: each wire gets one of its labels
        k, g = 0, 0
        while g < s.n_gates:
            end = s.chunk_end(min(k + cut, c.and_count))
            walk.evaluate_range(rk, s.gates, g, end, k, np.uint64(7), ev, tab[k:])
            k, g = int(s.and_before[end]), end
        diff = ev[:c.n_wires] ^ lab[:c.n_wires]
        assert np.all((diff == 0).all(axis=1) | (diff == d).all(axis=1))
        labs.append(ev)
    assert np.array_equal(tabs[0], tabs[1])
    assert all(np.array_equal(x, y) for x, y in zip(labs[:2], labs[2:]))


def test_garble_and_evaluate_into_caller_buffers():
    """out=: tables and output labels land in the caller's buffers (views, no copies), with
    the same bytes as a fresh garbling; one buffer serves call after call."""
    c = random_circuit([32, 32], 3000, 16, seed=11, p_and=0.5)
    ins = [Rng(b"in").bits(n) for n in c.input_sizes]
    want_g, _ = garble(c, rng=Rng(b"out="))
    buf = np.full((c.and_count + 5, 32), 0xAB, np.uint8)
    labels_out = np.empty((c.n_outputs, 16), np.uint8)
    for _ in range(2):
        g, e = garble(c, rng=Rng(b"out="), out=buf)
        assert np.shares_memory(g.tables, buf) and np.array_equal(g.tables, want_g.tables)
        assert (buf[c.and_count:] == 0xAB).all()  # nothing written past the tables
        res = evaluate_garbled(g, e.encode(ins), out=labels_out)
        assert all(np.shares_memory(r, labels_out) for r in res)
        assert all(np.array_equal(a, b) for a, b in zip(g.decode(res), c.evaluate(ins)))
    with pytest.raises(ParameterError):
        garble(c, rng=Rng(b"x"), out=np.empty((c.and_count - 1, 32), np.uint8))
    with pytest.raises(ParameterError):
        garble(c, rng=Rng(b"x"), out=np.empty((c.and_count, 16), np.uint8))
    with pytest.raises(ParameterError):
        evaluate_garbled(g, e.encode(ins), out=np.empty((c.n_outputs + 1, 16), np.uint8))
    with pytest.raises(ParameterError):
        garble(c, rng=Rng(b"x"), scheme="threehalves", out=buf)
