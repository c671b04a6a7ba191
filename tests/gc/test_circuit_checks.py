"""The vectorised structural check of a gate list against a gate-by-gate reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.gc import kernels as K
from pqmpc.gc.circuit import first_gate_error


def reference(n_wires, n_inputs, op, in0, in1, out):
    """The rule as a person reads it: walk the gates, stop at the first broken one."""
    is_set = [w < n_inputs for w in range(n_wires)]
    for g in range(len(op)):
        k, a, b, o = int(op[g]), int(in0[g]), int(in1[g]), int(out[g])
        binary = k in (K.OP_XOR, K.OP_AND)
        if k > K.OP_EQW:
            return g, K.CHECK_BAD_OP
        if k == K.OP_EQ:
            if a not in (0, 1):
                return g, K.CHECK_BAD_CONSTANT
        elif not 0 <= a < n_wires or (binary and not 0 <= b < n_wires):
            return g, K.CHECK_OUT_OF_RANGE
        if not 0 <= o < n_wires:
            return g, K.CHECK_OUT_OF_RANGE
        if k != K.OP_EQ and (not is_set[a] or (binary and not is_set[b])):
            return g, K.CHECK_UNSET
        if is_set[o]:
            return g, K.CHECK_SET_TWICE
        is_set[o] = True
    return -1, K.CHECK_OK


@st.composite
def gate_lists(draw):
    n_wires = draw(st.integers(1, 12))
    n_inputs = draw(st.integers(0, n_wires))
    n = draw(st.integers(0, 12))
    # mostly well-formed gates writing fresh wires, with a few corruptions mixed in
    op = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
    wire = st.integers(-2, n_wires + 1)
    in0 = draw(st.lists(wire, min_size=n, max_size=n))
    in1 = draw(st.lists(wire, min_size=n, max_size=n))
    out = draw(st.one_of(st.lists(wire, min_size=n, max_size=n),
                         st.just([min(n_inputs + i, n_wires) for i in range(n)])))
    return (n_wires, n_inputs, np.array(op, np.uint8), np.array(in0, np.int64),
            np.array(in1, np.int64), np.array(out, np.int64))


@settings(max_examples=600, deadline=None)
@given(gate_lists())
def test_first_gate_error_matches_the_gate_by_gate_rule(case):
    assert first_gate_error(*case) == reference(*case)


def test_a_valid_chain_passes_and_each_break_is_named():
    op = np.array([K.OP_XOR, K.OP_AND, K.OP_INV, K.OP_EQ], np.uint8)
    in0 = np.array([0, 2, 3, 1], np.int64)
    in1 = np.array([1, 0, -1, -1], np.int64)
    out = np.array([2, 3, 4, 5], np.int64)
    assert first_gate_error(6, 2, op, in0, in1, out) == (-1, K.CHECK_OK)
    assert first_gate_error(6, 2, op, in0, in1, np.array([2, 3, 4, 4])) == (3, K.CHECK_SET_TWICE)
    assert first_gate_error(6, 2, op, np.array([0, 5, 3, 1]), in1, out) == (1, K.CHECK_UNSET)
    assert first_gate_error(6, 2, op, in0, in1, np.array([2, 3, 4, 6])) == (3, K.CHECK_OUT_OF_RANGE)
    assert first_gate_error(6, 2, op, np.array([0, 2, 3, 2]), in1, out) == (3, K.CHECK_BAD_CONSTANT)
    assert first_gate_error(6, 2, np.array([0, 1, 9, 3], np.uint8), in0, in1, out) == (2, K.CHECK_BAD_OP)
