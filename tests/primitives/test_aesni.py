"""AES-NI / PCLMULQDQ kernels: known answers, kernel == fallback, and a target without the instructions."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pqmpc.errors import ParameterError
from pqmpc.primitives import aesni

SIZES = [0, 1, 3, 7, 9, 1000]
REPO = Path(__file__).resolve().parents[2]
native = pytest.mark.skipif(not aesni.HAVE_AESNI, reason="no AES-NI on this numba target")
native_clmul = pytest.mark.skipif(not aesni.HAVE_PCLMUL, reason="no PCLMULQDQ on this numba target")


def blocks(n, width=16, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, width), dtype=np.uint8)


def openssl_ecb(key, x):
    return np.frombuffer(Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(x.tobytes()),
                         dtype=np.uint8).reshape(-1, 16)


# ---------------------------------------------------------------- detection

def test_flags_follow_numba_target():
    info = aesni.detect_features()
    assert info["aes"] == aesni.HAVE_AESNI and info["pclmul"] == aesni.HAVE_PCLMUL
    spec = aesni._parse_features(info["numba_features"])
    if spec.get("aes") is False:
        assert not aesni.HAVE_AESNI


def test_parse_features():
    assert aesni._parse_features("+aes,-pclmul, +sse2,bogus") == {"aes": True, "pclmul": False, "sse2": True}
    assert aesni._parse_features("") == {}


def test_backend_names():
    with pytest.raises(ParameterError):
        aesni.ecb_encrypt(bytes(16), blocks(1), backend="turbo")
    if not aesni.HAVE_AESNI:
        with pytest.raises(ParameterError):
            aesni.ecb_encrypt(bytes(16), blocks(1), backend="native")


# ---------------------------------------------------------------- AES ECB

FIPS197 = [  # FIPS 197 appendix C.1 and C.3
    ("000102030405060708090a0b0c0d0e0f", "69c4e0d86a7b0430d8cdb78070b4c55a"),
    ("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "8ea2b7ca516745bfeafc49904b496089"),
]
PT = np.frombuffer(bytes.fromhex("00112233445566778899aabbccddeeff"), dtype=np.uint8).reshape(1, 16)


@pytest.mark.parametrize("key,ct", FIPS197)
@pytest.mark.parametrize("backend", ["auto", "fallback"])
def test_ecb_fips197(key, ct, backend):
    assert aesni.ecb_encrypt(bytes.fromhex(key), PT, backend=backend).tobytes().hex() == ct


@pytest.mark.parametrize("keylen", [16, 32])
@pytest.mark.parametrize("n", SIZES)
def test_ecb_matches_openssl(keylen, n):
    key = bytes(range(100, 100 + keylen))
    x = blocks(n, seed=n)
    want = openssl_ecb(key, x)
    assert np.array_equal(aesni.ecb_encrypt(key, x), want)
    assert np.array_equal(aesni.ecb_encrypt(key, x, backend="fallback"), want)


def test_ecb_in_place_and_bad_args():
    key = bytes(16)
    x = blocks(37)
    want = openssl_ecb(key, x)
    assert aesni.ecb_encrypt(key, x, out=x) is x
    assert np.array_equal(x, want)
    with pytest.raises(ParameterError):
        aesni.ecb_encrypt(bytes(24), x)
    with pytest.raises(ParameterError):
        aesni.ecb_encrypt(key, x[:, :8].copy())
    with pytest.raises(ParameterError):
        aesni.ecb_encrypt(key, x, out=np.empty((36, 16), np.uint8))


@pytest.mark.parametrize("keylen", [16, 32])
def test_soft_block_encrypt_matches_openssl(keylen):
    # The table AES is what other kernels get on CPUs without AES-NI.
    from numba import njit

    @njit
    def run(rk, x, out, wide):
        if wide:
            ks = aesni.aes256_load_keys(rk)
            for i in range(x.shape[0]):
                b = aesni.aes256_encrypt_soft(ks, (x[i, 0], x[i, 1]))
                out[i, 0], out[i, 1] = b[0], b[1]
        else:
            ks = aesni.aes128_load_keys(rk)
            for i in range(x.shape[0]):
                b = aesni.aes128_encrypt_soft(ks, (x[i, 0], x[i, 1]))
                out[i, 0], out[i, 1] = b[0], b[1]

    key = bytes(range(7, 7 + keylen))
    x = blocks(257, seed=5)
    out = np.empty_like(x)
    run(aesni.round_keys(key), x.view(np.uint64), out.view(np.uint64), keylen == 32)
    assert np.array_equal(out, openssl_ecb(key, x))


def test_round_keys_layout():
    # FIPS 197 A.1: key 2b7e...3c, last round key d014...a6
    rk = aesni.round_keys(bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c"))
    assert rk.shape == (11, 2) and rk.dtype == np.uint64
    assert rk[10].tobytes().hex() == "d014f9a8c9ee2589e13f0cc8b6630ca6"
    assert aesni.round_keys(bytes(32)).shape == (15, 2)


# ---------------------------------------------------------------- no AES-NI target

_CHILD = r"""
import json, sys
import numpy as np
from pqmpc.primitives import aesni
req = json.loads(sys.stdin.read())
res = {"aes": aesni.HAVE_AESNI, "pclmul": aesni.HAVE_PCLMUL, "enc": aesni.aes128_encrypt.__name__, "out": {}}
for name, (fn, args) in req.items():
    arrs = [np.array(a, dtype=np.uint8) if isinstance(a, list) else a for a in args]
    if name.startswith("ecb"):
        arrs[0] = bytes(arrs[0])
    res["out"][name] = np.asarray(getattr(aesni, fn)(*arrs)).tolist()
print(json.dumps(res))
"""


def _child_cases():
    x = blocks(11, seed=3)
    return {
        "ecb128": ("ecb_encrypt", [list(range(16)), x.tolist()]),
        "ecb256": ("ecb_encrypt", [list(range(32)), x.tolist()]),
    }


@pytest.mark.parametrize("env", [{"NUMBA_CPU_FEATURES": "-aes,-pclmul"}, {"NUMBA_CPU_NAME": "generic"}],
                         ids=["features-minus-aes", "cpu-generic"])
def test_fallback_without_instructions(env):
    """The process must not abort, must report no AES-NI, and must give the same bytes."""
    cases = _child_cases()
    full_env = dict(os.environ, **env, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps(cases), capture_output=True,
                          text=True, env=full_env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["aes"] is False and res["pclmul"] is False
    assert res["enc"] == "aes128_encrypt_soft"
    for name, (fn, args) in cases.items():
        arrs = [np.array(a, dtype=np.uint8) if isinstance(a, list) else a for a in args]
        if name.startswith("ecb"):
            arrs[0] = bytes(arrs[0])
        want = np.asarray(getattr(aesni, fn)(*arrs)).tolist()
        assert res["out"][name] == want, name
