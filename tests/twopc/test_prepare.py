"""prepare(): a warm-up before the peer connects leaves later runs correct and independent."""

from __future__ import annotations

import pytest

from pqmpc.gc import aes128
from pqmpc.net import run_pair
from pqmpc.twopc import functions as F
from pqmpc.twopc import prepare


def test_prepare_warms_once_per_setting_and_builds_the_schedule():
    c = aes128.aes128_expanded_circuit()
    first = prepare(c, ot="base")
    again = prepare(c, ot="base")
    assert again["warmed"] is False
    assert isinstance(first["warmed"], bool) and first["seconds"] >= 0
    assert "schedule" in c.__dict__  # cached_property filled before any peer shows up


def test_a_run_after_prepare_matches_openssl():
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    prepare(aes128.aes128_expanded_circuit())
    key, pt = bytes(range(16)), bytes.fromhex("00112233445566778899aabbccddeeff") * 3
    g, e = run_pair(lambda ch: F.aes128(ch, "garbler", key), lambda ch: F.aes128(ch, "evaluator", pt))
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    assert g == e == enc.update(pt)


def test_prepare_refuses_bad_settings():
    from pqmpc.errors import ParameterError

    with pytest.raises(ParameterError):
        prepare(ot="nope")
    with pytest.raises(ParameterError):
        prepare(kappa=192)


def test_function_circuit_is_the_circuit_the_function_runs():
    assert F.function_circuit("aes128", b"k" * 16) is aes128.aes128_expanded_circuit()
    assert F.function_circuit("millionaires", 5, bits=16) is F.less_than_circuit(16, False)
    assert F.function_circuit("max", -5, bits=8, signed=True) is F.max_circuit(8, True)
    assert F.function_circuit("sum", 1, signed=True) is F.signed_sum_circuit(64)
    assert F.function_circuit("equality", "héllo") is F.equality_circuit(48)
    assert F.function_circuit("hamming", b"\x0f\x01") is F.hamming_circuit(16)
    assert F.function_circuit("equality", b"") is None
    assert F.function_circuit("millionaires", 1, bits=0) is None
    assert F.function_circuit("nope") is None
    assert set(F.FUNCTIONS) <= {"aes128", "millionaires", "equality", "hamming", "sum", "max"}


def test_a_function_run_after_preparing_its_circuit():
    c = F.function_circuit("millionaires", 10, bits=32)
    prepare(c)
    g, e = run_pair(lambda ch: F.millionaires(ch, "garbler", 10, bits=32),
                    lambda ch: F.millionaires(ch, "evaluator", 11, bits=32))
    assert g is True and e is True


@pytest.mark.slow
def test_after_prepare_a_fresh_process_loads_no_kernel_inside_the_protocol():
    """Two fresh processes (pqmpc.bench.suites.yao_first): with prepare() before connecting,
    the AES run dispatches no numba kernel for the first time; it is correct either way."""
    from pqmpc.bench.suites.yao_first import one_round

    r = one_round(prepared=True)
    assert r["kernel_loads"] == 0, r
    assert set(r["garbler_phases"]) >= {"handshake", "ot", "garble and send tables", "output"}
