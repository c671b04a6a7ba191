"""The published sample circuits against Python integer arithmetic."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.gc.circuit import Circuit, bits_to_int, int_to_bits

BRISTOL_DIR = Path(__file__).resolve().parents[2] / "vectors" / "external" / "bristol"

M = 1 << 64
EDGE = [0, 1, 2, M - 1, M - 2, 1 << 63, (1 << 63) - 1, (1 << 63) + 1, 0x5555555555555555,
        0xAAAAAAAAAAAAAAAA, 0xFFFFFFFF, 1 << 32]


def _signed(x):
    return x - M if x >> 63 else x


REFERENCE = {
    "adder64.txt": lambda a, b: [(a + b) % M],
    "sub64.txt": lambda a, b: [(a - b) % M],
    "mult64.txt": lambda a, b: [(a * b) % M],
    "compare.txt": lambda a, b: [int(_signed(a) < _signed(b))],
    "compare_eq.txt": lambda a, b: [int(_signed(a) <= _signed(b))],
    "neg64.txt": lambda a: [(-a) % M],
    "zero_equal.txt": lambda a: [int(a == 0)],
}

_cache = {}


def load(name):
    if name not in _cache:
        _cache[name] = Circuit.from_bristol(BRISTOL_DIR / name)
    return _cache[name]


def check_batch(name, rows):
    """Evaluate all rows in one batched call and compare each with Python ints."""
    c = load(name)
    ins = [np.stack([int_to_bits(r[j], n) for r in rows]) for j, n in enumerate(c.input_sizes)]
    outs = c.evaluate(ins)
    for i, r in enumerate(rows):
        want = REFERENCE[name](*r)
        got = [bits_to_int(o[i]) for o in outs]
        assert got == want, (name, r)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_edge_values(name):
    arity = len(load(name).input_sizes)
    if arity == 1:
        rows = [(a,) for a in EDGE]
    else:
        rows = [(a, b) for a in EDGE for b in EDGE]
    check_batch(name, rows)


@pytest.mark.parametrize("name", sorted(REFERENCE))
@settings(max_examples=25, deadline=None)
@given(data=st.lists(st.tuples(st.integers(0, M - 1), st.integers(0, M - 1)),
                     min_size=1, max_size=70))
def test_random_values(name, data):
    arity = len(load(name).input_sizes)
    check_batch(name, [r[:arity] for r in data])


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_single_and_batch_agree(name):
    c = load(name)
    rng = np.random.default_rng(7)
    ins = [rng.integers(0, 2, (5, n), dtype=np.uint8) for n in c.input_sizes]
    batch = c.evaluate(ins)
    for i in range(5):
        single = c.evaluate([x[i] for x in ins])
        for o_b, o_s in zip(batch, single):
            assert np.array_equal(o_b[i], o_s)


def test_published_counts():
    expect = {"adder64.txt": (63, 313, 0), "sub64.txt": (63, 313, 63), "neg64.txt": (62, 63, 64),
              "mult64.txt": (4033, 9642, 0), "zero_equal.txt": (63, 0, 64),
              "compare.txt": (272, 23, 295), "compare_eq.txt": (273, 22, 298)}
    for name, counts in expect.items():
        c = load(name)
        assert (c.and_count, c.xor_count, c.inv_count) == counts


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_round_trip(name):
    c = load(name)
    text = c.to_bristol()
    again = Circuit.from_bristol(text)
    assert again == c
    assert again.to_bristol() == text
    assert again.digest() == c.digest()
