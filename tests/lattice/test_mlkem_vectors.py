"""ML-KEM against official vectors: NIST ACVP (final FIPS 203) and C2SP/CCTV."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from pqmpc.errors import ParameterError
from pqmpc.lattice import mlkem

VEC = Path(__file__).resolve().parents[2] / "vectors" / "external" / "mlkem"


def _hex_rows(values):
    return np.stack([np.frombuffer(bytes.fromhex(v), dtype=np.uint8) for v in values])


def _groups(name):
    with open(VEC / "acvp" / name) as f:
        return json.load(f)["testGroups"]


def _kv(path):
    out = {}
    for line in path.read_text().splitlines():
        if " = " in line:
            key, value = line.split(" = ", 1)
            out[key.strip()] = bytes.fromhex(value.strip())
    return out


@pytest.mark.parametrize("group", _groups("ML-KEM-keyGen-FIPS203.internalProjection.json"), ids=lambda g: g["parameterSet"])
def test_acvp_keygen(group):
    tests = group["tests"]
    assert len(tests) == 25
    ek, dk = mlkem.keygen_batch(group["parameterSet"], _hex_rows(t["d"] for t in tests), _hex_rows(t["z"] for t in tests))
    np.testing.assert_array_equal(ek, _hex_rows(t["ek"] for t in tests))
    np.testing.assert_array_equal(dk, _hex_rows(t["dk"] for t in tests))


_ED = _groups("ML-KEM-encapDecap-FIPS203.internalProjection.json")


@pytest.mark.parametrize("group", [g for g in _ED if g["function"] == "encapsulation"], ids=lambda g: g["parameterSet"])
def test_acvp_encaps(group):
    tests = group["tests"]
    ps = group["parameterSet"]
    key, c = mlkem.encaps_batch(ps, _hex_rows(t["ek"] for t in tests), _hex_rows(t["m"] for t in tests))
    np.testing.assert_array_equal(c, _hex_rows(t["c"] for t in tests))
    np.testing.assert_array_equal(key, _hex_rows(t["k"] for t in tests))
    np.testing.assert_array_equal(mlkem.decaps_batch(ps, _hex_rows(t["dk"] for t in tests), c), key)


@pytest.mark.parametrize("group", [g for g in _ED if g["function"] == "decapsulation"], ids=lambda g: g["parameterSet"])
def test_acvp_decaps_with_implicit_rejection(group):
    tests = group["tests"]
    assert {t["reason"] for t in tests} == {"no modification", "modify ciphertext"}
    dk = np.broadcast_to(np.frombuffer(bytes.fromhex(group["dk"]), np.uint8), (len(tests), mlkem.PARAMS[group["parameterSet"]].dk_bytes))
    key = mlkem.decaps_batch(group["parameterSet"], dk, _hex_rows(t["c"] for t in tests))
    np.testing.assert_array_equal(key, _hex_rows(t["k"] for t in tests))
    # Single-item entry point agrees with the batch.
    assert mlkem.decaps(group["parameterSet"], bytes.fromhex(group["dk"]), bytes.fromhex(tests[0]["c"])) == key[0].tobytes()


@pytest.mark.parametrize("variant", mlkem.VARIANTS)
def test_cctv_strcmp(variant):
    v = _kv(VEC / "cctv" / "strcmp" / f"{variant}.txt")
    assert mlkem.decaps(variant, v["dk"], v["c"]) == v["K"]


@pytest.mark.parametrize("variant", mlkem.VARIANTS)
def test_cctv_unlucky_sample(variant):
    # Only Encaps/Decaps: these keys were generated with the FIPS 203 ipd KeyGen.
    v = _kv(VEC / "cctv" / "unluckysample" / f"{variant}.txt")
    assert mlkem.encaps(variant, v["ek"], v["m"]) == (v["K"], v["c"])
    assert mlkem.decaps(variant, v["dk"], v["c"]) == v["K"]


@pytest.mark.parametrize("variant", mlkem.VARIANTS)
def test_cctv_modulus_rejected(variant):
    lines = gzip.decompress((VEC / "cctv" / "modulus" / f"{variant}.txt.gz").read_bytes()).split()
    p = mlkem.PARAMS[variant]
    eks = _hex_rows(x.decode() for x in lines)
    assert eks.shape == ({"ML-KEM-512": 775, "ML-KEM-768": 780, "ML-KEM-1024": 1040}[variant], p.ek_bytes)
    assert not mlkem.ek_modulus_ok(variant, eks).any()
    with pytest.raises(ParameterError, match="modulus"):
        mlkem.encaps_batch(variant, eks[:7], np.zeros((7, 32), np.uint8))
    with pytest.raises(ParameterError, match="modulus"):
        mlkem.encaps(variant, eks[-1].tobytes(), bytes(32))
