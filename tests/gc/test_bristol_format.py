"""Strict Bristol Fashion parsing: every error kind names its line."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import CircuitError
from pqmpc.gc.circuit import Circuit, bits_to_int, int_to_bits
from pqmpc.gc.random_circuit import random_circuit

GOOD = """3 6
2 2 1
1 1

2 1 0 1 3 AND
1 1 3 4 INV
2 1 4 2 5 XOR
"""


def test_good_parses_and_evaluates():
    c = Circuit.from_bristol(GOOD)
    assert c.input_sizes == (2, 1) and c.output_sizes == (1,)
    for a in range(4):
        for b in range(2):
            out = c.evaluate([int_to_bits(a, 2), int_to_bits(b, 1)])[0]
            assert out[0] == (1 - ((a & 1) & (a >> 1))) ^ b


def test_trailing_spaces_blank_lines_and_crlf_accepted():
    text = "3 6  \n2 2 1 \n1 1 \n\n\n2 1 0 1 3 AND \n\n1 1 3 4 INV\r\n2 1 4 2 5 XOR\n\n"
    assert Circuit.from_bristol(text) == Circuit.from_bristol(GOOD)


def test_path_and_bytes_inputs(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text(GOOD)
    assert Circuit.from_bristol(p) == Circuit.from_bristol(str(p)) == \
        Circuit.from_bristol(GOOD.encode())


def test_missing_file_is_reported_as_such(tmp_path):
    with pytest.raises(FileNotFoundError):
        Circuit.from_bristol(str(tmp_path / "nope.txt"))


def bad(text, line, fragment):
    with pytest.raises(CircuitError) as info:
        Circuit.from_bristol(text)
    assert info.value.line == line, str(info.value)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_unknown_gate():
    bad(GOOD.replace("INV", "NOT"), 6, "unknown gate 'NOT'")


def test_wrong_arity():
    bad(GOOD.replace("2 1 0 1 3 AND", "1 1 0 3 AND"), 5, "wrong arity: AND takes 2 inputs")
    bad(GOOD.replace("1 1 3 4 INV", "2 1 3 0 4 INV"), 6, "INV takes 1 input")


def test_wire_list_length_mismatch():
    bad(GOOD.replace("2 1 0 1 3 AND", "2 1 0 1 AND"), 5, "but lists 2 wires")


def test_wire_out_of_range():
    bad(GOOD.replace("2 1 4 2 5 XOR", "2 1 4 9 5 XOR"), 7, "out of range")


def test_wire_used_before_set():
    text = GOOD.replace("1 1 3 4 INV\n2 1 4 2 5 XOR", "2 1 4 2 5 XOR\n1 1 3 4 INV")
    bad(text, 6, "used before it is set")


def test_wire_set_twice():
    bad(GOOD.replace("1 1 3 4 INV", "1 1 3 0 INV"), 6, "set twice")


def test_gate_count_mismatch():
    bad(GOOD.replace("3 6", "4 6", 1), 1,
        "gate count mismatch: header announces 4 gates but the file has 3")


def test_input_count_mismatch():
    bad(GOOD.replace("2 2 1", "3 2 1"), 2, "says 3 inputs but lists 2")


def test_output_count_mismatch():
    bad(GOOD.replace("\n1 1\n", "\n2 1\n"), 3, "says 2 outputs")


def test_inputs_exceed_wires():
    bad(GOOD.replace("2 2 1", "2 6 1"), 2, "inputs need 7 wires")


def test_output_never_set():
    text = "1 5\n2 2 1\n1 1\n\n2 1 0 1 3 AND\n"
    bad(text, 3, "output wire 4 is never set")


def test_not_an_integer():
    bad(GOOD.replace("2 1 0 1 3 AND", "2 1 0 x 3 AND"), 5, "expected integers")


def test_bad_eq_constant():
    bad("1 2\n1 1\n1 1\n\n1 1 2 1 EQ\n", 5, "EQ constant")


def test_truncated_header():
    bad("3 6\n2 2 1\n", 3, "truncated header")


def test_eq_and_eqw():
    text = "3 5\n1 1\n2 1 1\n\n1 1 1 1 EQ\n1 1 0 2 EQW\n2 1 0 1 4 XOR\n"
    # wires 3..4 are outputs; wire 3 never set -> rejected
    with pytest.raises(CircuitError):
        Circuit.from_bristol(text)
    text = "3 4\n1 1\n2 1 1\n\n1 1 1 1 EQ\n2 1 0 1 2 XOR\n1 1 0 3 EQW\n"
    c = Circuit.from_bristol(text)
    for x in (0, 1):
        a, b = c.evaluate([np.array([x], np.uint8)])
        assert list(a) == [1 - x] and list(b) == [x]
    assert Circuit.from_bristol(c.to_bristol()) == c


def test_mand_expands_to_and_gates():
    text = "1 7\n2 2 2\n1 2\n\n4 2 0 1 2 3 5 6 MAND\n"
    c = Circuit.from_bristol(text)
    assert c.and_count == 2 and c.n_gates == 2 and c.depth == 1
    for a in range(4):
        for b in range(4):
            out = c.evaluate([int_to_bits(a, 2), int_to_bits(b, 2)])[0]
            assert bits_to_int(out) == a & b
    bad("1 7\n2 2 2\n1 2\n\n3 2 0 1 2 5 6 MAND\n", 5, "MAND takes 2n inputs")
    bad("1 7\n2 2 2\n1 2\n\n4 2 0 1 2 3 5 5 MAND\n", 5, "set twice")


def test_canonical_text_and_digest():
    c = Circuit.from_bristol(GOOD)
    text = c.to_bristol()
    assert text == GOOD
    assert all(line == line.rstrip() for line in text.split("\n"))
    assert len(c.digest()) == 32
    assert c.digest() != Circuit.from_bristol(GOOD.replace("XOR", "AND")).digest()


def test_counts_and_depth():
    c = Circuit.from_bristol(GOOD)
    assert (c.and_count, c.xor_count, c.inv_count, c.depth) == (1, 1, 1, 1)


def test_evaluate_rejects_bad_shapes():
    c = Circuit.from_bristol(GOOD)
    with pytest.raises(ValueError):
        c.evaluate([np.zeros(3, np.uint8), np.zeros(1, np.uint8)])
    with pytest.raises(ValueError):
        c.evaluate([np.zeros(2, np.uint8)])
    with pytest.raises(ValueError):
        c.evaluate([np.array([0, 2], np.uint8), np.zeros(1, np.uint8)])


def test_int_bit_helpers():
    assert list(int_to_bits(6, 4)) == [0, 1, 1, 0]
    assert bits_to_int(int_to_bits(-3, 8), signed=True) == -3
    assert bits_to_int(int_to_bits(-3, 8)) == 253


@settings(max_examples=40, deadline=None)
@given(n_in=st.integers(1, 30), n_gates=st.integers(1, 300), n_out=st.integers(1, 30),
       seed=st.integers(0, 2**32 - 1), groups=st.integers(1, 4))
def test_random_circuits_round_trip(n_in, n_gates, n_out, seed, groups):
    n_out = min(n_out, n_gates)
    c = random_circuit([n_in] * groups, n_gates, n_out, seed=seed, p_unary=0.3,
                       n_output_groups=groups)
    text = c.to_bristol()
    again = Circuit.from_bristol(text)
    assert again == c and again.to_bristol() == text and again.digest() == c.digest()
    rng = np.random.default_rng(seed)
    ins = [rng.integers(0, 2, (3, n), dtype=np.uint8) for n in c.input_sizes]
    assert all(np.array_equal(a, b) for a, b in zip(c.evaluate(ins), again.evaluate(ins)))


def test_fast_and_line_readers_agree(monkeypatch):
    """The byte scanner and the line-by-line reader build identical circuits."""
    from pathlib import Path

    from pqmpc.gc import bristol

    texts = [p.read_text() for p in
             sorted((Path(__file__).resolve().parents[2] / "vectors/external/bristol")
                    .glob("*.txt"))]
    texts += [random_circuit([5, 7], 300, 9, seed=s, p_unary=0.3).to_bristol() for s in range(5)]
    texts.append("3 6  \r\n2 2 1 \r\n1 1\r\n\r\n2 1 0 1 3 AND\t\r\n1 1 3 4 INV \n\n2 1 4 2 5 XOR")
    fast = [Circuit.from_bristol(t) for t in texts]
    calls = []
    real = bristol._scan_fast
    monkeypatch.setattr(bristol, "_scan_fast", lambda *a: calls.append(real(*a)) or None)
    slow = [Circuit.from_bristol(t) for t in texts]
    assert all(c is not None for c in calls), "the fast path should accept all of these"
    assert fast == slow
