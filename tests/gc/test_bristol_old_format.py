"""The pre-Fashion Bristol format: 'ngates nwires' / 'n1 n2 nout' / gates."""

import pathlib

import numpy as np
import pytest

from pqmpc.errors import CircuitError
from pqmpc.gc import Circuit, bits_to_int, int_to_bits

SAMPLES = pathlib.Path(__file__).resolve().parents[2] / "vectors" / "external" / "bristol"


def as_old_format(fashion: str) -> str:
    lines = fashion.split("\n")
    ins = lines[1].split()[1:]
    outs = lines[2].split()[1:]
    assert len(ins) == 2 and len(outs) == 1
    return "\n".join([lines[0], " ".join(ins + outs), ""] + lines[3:])


@pytest.mark.parametrize("name", ["adder64.txt", "mult64.txt", "compare.txt"])
def test_old_format_reads_the_same_circuit(name):
    fashion = (SAMPLES / name).read_text()
    old = Circuit.from_bristol(as_old_format(fashion))
    new = Circuit.from_bristol(fashion)
    assert old.to_bristol() == new.to_bristol()
    rng = np.random.default_rng(7)
    a, b = (rng.integers(0, 2, size=(20, 64), dtype=np.uint8) for _ in range(2))
    assert np.array_equal(old.evaluate([a, b])[0], new.evaluate([a, b])[0])


def test_old_format_adder_adds():
    c = Circuit.from_bristol(as_old_format((SAMPLES / "adder64.txt").read_text()))
    x, y = 0x0123456789ABCDEF, 0xFEDCBA9876543211
    out = c.evaluate([int_to_bits(x, 64), int_to_bits(y, 64)])[0]
    assert bits_to_int(out) == (x + y) % 2**64


def test_old_format_errors_still_name_the_line():
    text = "2 4\n1 1 1\n\n2 1 0 1 2 AND\n2 1 2 9 3 XOR\n"
    with pytest.raises(CircuitError) as err:
        Circuit.from_bristol(text)
    assert err.value.line == 5
