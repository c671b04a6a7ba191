"""A peer's malformed or oversized messages end in ProtocolError naming the Yao step
(issue 12 items 2-3): never a raw ValueError/RecursionError, never an allocation the
peer merely announced."""

import sys
from pathlib import Path

import numpy as np
import pytest

from pqmpc.errors import ProtocolError
from pqmpc.gc.circuit import Circuit, int_to_bits
from pqmpc.twopc.yao import yao_evaluator, yao_garbler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from twopc_helpers import run_both, tamper_pair

BRISTOL = Path(__file__).resolve().parents[2] / "vectors" / "external" / "bristol"
ADDER = Circuit.from_bristol(BRISTOL / "adder64.txt")
X = int_to_bits(3, 64)

NESTED = b'{"batch":1,"batched":' + b"[" * 2000 + b"]" * 2000 + b"}"
LAYOUTS = {
    "5000-digit batch": b'{"batch":' + b"9" * 5000 + b',"batched":[1]}',
    "4000-digit batch": b'{"batch":' + b"9" * 4000 + b',"batched":[1]}',
    "deeply nested": NESTED,
    "string batch": b'{"batch":"3","batched":[1]}',
    "float batch": b'{"batch":1.5,"batched":[1]}',
    "bool batch": b'{"batch":true,"batched":[1]}',
    "negative batch": b'{"batch":-1,"batched":[1]}',
    "batched not a list": b'{"batch":2,"batched":"1"}',
    "bool group": b'{"batch":2,"batched":[true]}',
    "foreign group": b'{"batch":2,"batched":[0]}',
    "repeated group": b'{"batch":2,"batched":[1,1]}',
    "extra key": b'{"batch":null,"batched":[],"x":1}',
    "a list": b"[1,2]",
    "NaN": b'{"batch":NaN,"batched":[1]}',
    "not utf-8": b'{"batch":\xff}',
}


def run_tampered(on_send_evaluator, garbler_kw=None):
    return run_both(lambda ch: yao_garbler(ch, ADDER, [X], **(garbler_kw or {})),
                    lambda ch: yao_evaluator(ch, ADDER, [X]), tamper_pair(None, on_send_evaluator))


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_malformed_layout_is_a_protocol_error(name):
    def replace(_i, data):
        return LAYOUTS[name] if data.startswith(b'{"batch"') else data

    res = run_tampered(replace)
    assert isinstance(res[0], ProtocolError) and "step 2 (layout)" in str(res[0]), res


@pytest.mark.parametrize("garbage", [NESTED, b'{"magic":' + b"1" * 5000 + b"}", b"\x00\x01", b'{"magic": []}'])
def test_malformed_handshake_is_a_protocol_error(garbage):
    def replace(i, data):
        return garbage if i == 0 else data

    res = run_tampered(replace)
    assert isinstance(res[0], ProtocolError) and "handshake" in str(res[0]), res


def test_peer_batch_is_capped_by_max_batch():
    def claim(_i, data):
        return b'{"batch":11,"batched":[1]}' if data.startswith(b'{"batch"') else data

    res = run_tampered(claim, {"max_batch": 10})
    assert isinstance(res[0], ProtocolError) and "above the 10" in str(res[0]), res


def test_default_peer_batch_cap_is_bounded_by_the_circuit():
    # 10^6 instances of adder64 would make the garbler hold ~2 GB of labels and run
    # 64 million OTs: far below the old 16 GiB limit, above the new default
    def claim(_i, data):
        return b'{"batch":1000000,"batched":[1]}' if data.startswith(b'{"batch"') else data

    res = run_tampered(claim)
    assert isinstance(res[0], ProtocolError) and "step 2 (layout)" in str(res[0]), res


@pytest.mark.parametrize("extra", [32, 7, 1 << 20])
def test_more_tables_than_and_gates(extra):
    def extend(_i, data):
        return data + bytes(extra) if len(data) == ADDER.and_count * 32 else data

    res = run_both(lambda ch: yao_garbler(ch, ADDER, [X]), lambda ch: yao_evaluator(ch, ADDER, [X]),
                   tamper_pair(extend, None))
    assert isinstance(res[1], ProtocolError) and "step 5 (garbled tables)" in str(res[1]), res


@pytest.mark.parametrize("step,size", [("step 4", 64 * 16), ("step 6 (output decoding bits)", 8)])
def test_wrong_sized_fixed_messages(step, size):
    def grow(_i, data):
        return data + b"\x00" if len(data) == size else data

    res = run_both(lambda ch: yao_garbler(ch, ADDER, [X]), lambda ch: yao_evaluator(ch, ADDER, [X]),
                   tamper_pair(grow, None))
    assert isinstance(res[1], ProtocolError) and step in str(res[1]), res


def test_output_labels_of_the_wrong_size():
    sizes = []

    def shrink(_i, data):
        sizes.append(len(data))
        # the evaluator's output labels are its last message, after the OT's own 1024-byte one
        return data[:-1] if len(data) == 64 * 16 and sizes.count(64 * 16) == 2 else data

    res = run_both(lambda ch: yao_garbler(ch, ADDER, [X]), lambda ch: yao_evaluator(ch, ADDER, [X]),
                   tamper_pair(None, shrink))
    assert isinstance(res[0], ProtocolError) and "step 6 (output labels)" in str(res[0]), res
    assert np.array_equal(res[1][0], ADDER.evaluate([X, X])[0])
