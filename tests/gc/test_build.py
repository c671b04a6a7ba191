"""Builder circuits against Python integers, and their AND counts."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import ParameterError
from pqmpc.gc.build import CircuitBuilder
from pqmpc.gc.circuit import Circuit, bits_to_int, int_to_bits


def s(x, n):
    return x - (1 << n) if x >> (n - 1) else x


OPS = {
    "add": (lambda b, x, y: x + y, lambda x, y, n: (x + y) % (1 << n)),
    "sub": (lambda b, x, y: x - y, lambda x, y, n: (x - y) % (1 << n)),
    "neg": (lambda b, x, y: -x, lambda x, y, n: (-x) % (1 << n)),
    "xor": (lambda b, x, y: x ^ y, lambda x, y, n: x ^ y),
    "and": (lambda b, x, y: x & y, lambda x, y, n: x & y),
    "or": (lambda b, x, y: x | y, lambda x, y, n: x | y),
    "not": (lambda b, x, y: ~x, lambda x, y, n: x ^ ((1 << n) - 1)),
    "mul": (lambda b, x, y: x * y, lambda x, y, n: (x * y) % (1 << n)),
    "lt": (lambda b, x, y: x.lt(y), lambda x, y, n: int(x < y)),
    "le": (lambda b, x, y: x.le(y), lambda x, y, n: int(x <= y)),
    "gt": (lambda b, x, y: x.gt(y), lambda x, y, n: int(x > y)),
    "ge": (lambda b, x, y: x.ge(y), lambda x, y, n: int(x >= y)),
    "slt": (lambda b, x, y: x.lt(y, signed=True), lambda x, y, n: int(s(x, n) < s(y, n))),
    "sge": (lambda b, x, y: x.ge(y, signed=True), lambda x, y, n: int(s(x, n) >= s(y, n))),
    "eq": (lambda b, x, y: x.eq(y), lambda x, y, n: int(x == y)),
    "ne": (lambda b, x, y: x.ne(y), lambda x, y, n: int(x != y)),
    "max": (lambda b, x, y: b.max(x, y), lambda x, y, n: max(x, y)),
    "smin": (lambda b, x, y: b.min(x, y, signed=True),
             lambda x, y, n: min(x, y, key=lambda v: s(v, n))),
    "mux": (lambda b, x, y: b.mux(x[0], x, y), lambda x, y, n: x if x & 1 else y),
    "shl3": (lambda b, x, y: x << 3, lambda x, y, n: (x << 3) % (1 << n)),
    "shr3": (lambda b, x, y: x >> 3, lambda x, y, n: x >> 3),
    "sar3": (lambda b, x, y: b.shr(x, 3, signed=True),
             lambda x, y, n: (s(x, n) >> 3) % (1 << n)),
    "popcount": (lambda b, x, y: b.popcount(x), lambda x, y, n: bin(x).count("1")),
    "hamming": (lambda b, x, y: b.hamming_distance(x, y), lambda x, y, n: bin(x ^ y).count("1")),
    "add_const": (lambda b, x, y: x + 5, lambda x, y, n: (x + 5) % (1 << n)),
    "const_sub": (lambda b, x, y: 3 - x, lambda x, y, n: (3 - x) % (1 << n)),
    "concat_slice": (lambda b, x, y: b.concat(y[: n_half(y)], x[n_half(x):]),
                     lambda x, y, n: (y % (1 << (n // 2))) | ((x >> (n // 2)) << (n // 2))),
}


def n_half(v):
    return len(v) // 2


def build(name, n):
    b = CircuitBuilder()
    x, y = b.input(n), b.input(n)
    b.output(OPS[name][0](b, x, y))
    return b.build()


@pytest.mark.parametrize("name", sorted(OPS))
@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 24), data=st.data())
def test_builder_matches_python(name, n, data):
    c = build(name, n)
    vals = data.draw(st.lists(st.tuples(st.integers(0, (1 << n) - 1), st.integers(0, (1 << n) - 1)),
                              min_size=1, max_size=40))
    vals += [(0, 0), ((1 << n) - 1, 0), (0, (1 << n) - 1), (1 << (n - 1), (1 << (n - 1)) - 1)]
    xs = np.stack([int_to_bits(v[0], n) for v in vals])
    ys = np.stack([int_to_bits(v[1], n) for v in vals])
    out = c.evaluate([xs, ys])[0]
    for i, (x, y) in enumerate(vals):
        assert bits_to_int(out[i]) == OPS[name][1](x, y, n), (name, n, x, y)


@pytest.mark.parametrize("n", [1, 8, 32, 64])
def test_and_counts_are_minimal(n):
    assert build("add", n).and_count == n - 1
    assert build("sub", n).and_count == n - 1
    assert build("neg", n).and_count == max(n - 2, 0)  # as Bristol neg64: 62
    assert build("lt", n).and_count == n
    assert build("slt", n).and_count == n
    assert build("eq", n).and_count == n - 1
    assert build("mux", n).and_count <= n
    assert build("xor", n).and_count == 0 and build("not", n).and_count == 0
    assert build("shl3", n).and_count == 0
    eq = build("eq", n)
    assert eq.depth == (n - 1).bit_length()


def test_popcount_cost_and_width():
    c = build("popcount", 64)
    assert c.output_sizes == (7,)
    assert c.and_count < 64


def test_round_trip_and_digest_stable():
    c = build("mul", 16)
    again = Circuit.from_bristol(c.to_bristol())
    assert again == c and again.digest() == c.digest()
    assert build("mul", 16).digest() == c.digest()


def test_outputs_that_are_inputs_constants_or_repeated():
    b = CircuitBuilder()
    x = b.input(4)
    y = x & b.const(0b0110, 4)
    b.output(x, b.const(0b1010, 4), y, y)
    c = b.build()
    assert c.output_sizes == (16,)
    for v in range(16):
        out = bits_to_int(c.evaluate([int_to_bits(v, 4)])[0])
        assert out == v | (0b1010 << 4) | ((v & 6) << 8) | ((v & 6) << 12)


def test_constant_folding_and_dead_gate_removal():
    b = CircuitBuilder()
    x, y = b.input(8), b.input(8)
    _unused = x * y
    b.output((x & 0) ^ (y | 0) ^ (x ^ x))
    c = b.build()
    assert c.and_count == 0
    assert c.n_gates == 8  # EQW copies of y: outputs need their own wires


def test_builder_rejects_mixing():
    b1, b2 = CircuitBuilder(), CircuitBuilder()
    x, y = b1.input(4), b2.input(4)
    with pytest.raises(ParameterError):
        b1.add(x, y)
    with pytest.raises(ParameterError):
        b1.add(x, b1.input(5))
    with pytest.raises(ParameterError):
        b1.mux(x, x, x)


def test_inputs_declared_after_gates_still_come_first():
    b = CircuitBuilder()
    x = b.input(8)
    z = x + 1
    y = b.input(8)
    b.output(z ^ y)
    c = b.build()
    assert c.input_sizes == (8, 8)
    for v, w in [(0, 0), (255, 3), (17, 200)]:
        out = c.evaluate([int_to_bits(v, 8), int_to_bits(w, 8)])[0]
        assert bits_to_int(out) == ((v + 1) % 256) ^ w


def test_empty_and_zero_width():
    b = CircuitBuilder()
    x = b.input(3)
    b.output(b.reduce_and(x), b.reduce_or(x), b.reduce_xor(x))
    c = b.build()
    for v in range(8):
        out = c.evaluate([int_to_bits(v, 3)])[0]
        assert list(out) == [int(v == 7), int(v != 0), bin(v).count("1") % 2]
