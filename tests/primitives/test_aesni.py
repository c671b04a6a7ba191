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
from pqmpc.primitives.prg import SeedExpander

SIZES = [0, 1, 3, 7, 9, 23, 1000]
# Every kernel is checked on each path it has here: "auto" (VAES where present),
# "aesni" (128-bit AES-NI only) and "fallback" (OpenSSL / plain numba).
PATHS = ["auto", "fallback"] + (["aesni"] if aesni.HAVE_AESNI else [])
GF_PATHS = ["auto", "fallback"] + (["aesni"] if aesni.HAVE_PCLMUL else [])  # "aesni" = xmm PCLMULQDQ only
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


def test_detection_off_x86(monkeypatch):
    monkeypatch.setattr(aesni.platform, "machine", lambda: "aarch64")
    info = aesni.detect_features()
    assert not any(info[f] for f in ("aes", "pclmul", "vaes", "vpclmulqdq", "avx2"))


@pytest.mark.parametrize("spec,expect", [
    ("-aes", {"aes": False, "vaes": False}),
    ("-avx", {"vaes": False, "vpclmulqdq": False}),
    ("-sse2", {"aes": False, "pclmul": False}),
    ("-pclmul", {"pclmul": False, "vpclmulqdq": False}),
])
def test_detection_follows_llvm_dependencies(monkeypatch, spec, expect):
    monkeypatch.setattr(aesni._nb_config, "CPU_FEATURES", spec)
    info = aesni.detect_features()
    for feat, val in expect.items():
        assert info[feat] is val, feat


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
@pytest.mark.parametrize("backend", PATHS)
def test_ecb_fips197(key, ct, backend):
    assert aesni.ecb_encrypt(bytes.fromhex(key), PT, backend=backend).tobytes().hex() == ct
    # 40 read-only copies: the 16-block VAES steps and the tail both see the vector.
    many = np.frombuffer(PT.tobytes() * 40, dtype=np.uint8).reshape(40, 16)
    assert {r.tobytes().hex() for r in aesni.ecb_encrypt(bytes.fromhex(key), many, backend=backend)} == {ct}


@pytest.mark.parametrize("keylen", [16, 32])
@pytest.mark.parametrize("n", SIZES)
def test_ecb_matches_openssl(keylen, n):
    key = bytes(range(100, 100 + keylen))
    x = blocks(n, seed=n)
    want = openssl_ecb(key, x)
    assert np.array_equal(aesni.ecb_encrypt(key, x), want)
    for path in PATHS:
        assert np.array_equal(aesni.ecb_encrypt(key, x, backend=path), want), path


@pytest.mark.parametrize("n", [1, 2, 37])
@pytest.mark.parametrize("path", PATHS)
def test_ecb_in_place(n, path):
    key = bytes(16)
    x = blocks(n)
    want = openssl_ecb(key, x)
    assert aesni.ecb_encrypt(key, x, out=x, backend=path) is x
    assert np.array_equal(x, want)


def test_ecb_bad_args():
    key = bytes(16)
    x = blocks(37)
    with pytest.raises(ParameterError):
        aesni.ecb_encrypt(bytes(24), x)
    with pytest.raises(ParameterError):
        aesni.ecb_encrypt(key, x[:, :8].copy())
    with pytest.raises(ParameterError):
        aesni.ecb_encrypt(key, x, out=np.empty((36, 16), np.uint8))


from numba import njit


@njit(cache=True)
def _soft_ecb(ks, x, out):
    # The table AES is what other kernels get on CPUs without AES-NI.
    for i in range(x.shape[0]):
        b = aesni.aes_encrypt_soft(ks, (x[i, 0], x[i, 1]))
        out[i, 0], out[i, 1] = b[0], b[1]


@njit(cache=True)
def _foreign(ks, x, out, kids):
    # What another engineer's kernel does with the building blocks.
    n = x.shape[0]
    i = 0
    while i + 8 <= n:
        b = ((x[i, 0], x[i, 1]), (x[i + 1, 0], x[i + 1, 1]), (x[i + 2, 0], x[i + 2, 1]), (x[i + 3, 0], x[i + 3, 1]),
             (x[i + 4, 0], x[i + 4, 1]), (x[i + 5, 0], x[i + 5, 1]), (x[i + 6, 0], x[i + 6, 1]),
             (x[i + 7, 0], x[i + 7, 1]))
        y = aesni.aes_encrypt8(ks, b)
        z = aesni.aes_encrypt8_soft(ks, b)
        for j in range(8):
            if y[j] != z[j]:
                return False
            out[i + j, 0], out[i + j, 1] = y[j][0], y[j][1]
        i += 8
    while i < n:
        y = aesni.aes_encrypt(ks, (x[i, 0], x[i, 1]))
        out[i, 0], out[i, 1] = y[0], y[1]
        i += 1
    for i in range(n):
        left, right = aesni.ggm_children(ks, (x[i, 0], x[i, 1]))
        kids[2 * i, 0], kids[2 * i, 1] = left[0], left[1]
        kids[2 * i + 1, 0], kids[2 * i + 1, 1] = right[0], right[1]
    return True


@pytest.mark.parametrize("keylen", [16, 32])
@pytest.mark.parametrize("n", [0, 5, 8, 21])
def test_building_blocks_in_a_foreign_kernel(keylen, n):
    key = bytes(range(3, 3 + keylen))
    x = blocks(n, seed=n)
    out = np.empty_like(x)
    kids = np.empty((2 * n, 16), np.uint8)
    assert _foreign(aesni.key_tuple(key), x.view(np.uint64), out.view(np.uint64), kids.view(np.uint64))
    assert np.array_equal(out, openssl_ecb(key, x))
    assert np.array_equal(kids, aesni.ggm_expand_level(x, key=key, backend="fallback"))


@pytest.mark.parametrize("keylen", [16, 32])
def test_soft_block_encrypt_matches_openssl(keylen):
    key = bytes(range(7, 7 + keylen))
    x = blocks(257, seed=5)
    out = np.empty_like(x)
    _soft_ecb(aesni.key_tuple(key), x.view(np.uint64), out.view(np.uint64))
    assert np.array_equal(out, openssl_ecb(key, x))


def test_round_keys_layout():
    # FIPS 197 A.1: key 2b7e...3c, last round key d014...a6
    rk = aesni.round_keys(bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c"))
    assert rk.shape == (11, 2) and rk.dtype == np.uint64
    assert rk[10].tobytes().hex() == "d014f9a8c9ee2589e13f0cc8b6630ca6"
    assert aesni.round_keys(bytes(32)).shape == (15, 2)


# ---------------------------------------------------------------- TCCR

def tccr_reference(key, x, tweak_blocks):
    px = openssl_ecb(key, x)
    return openssl_ecb(key, px ^ tweak_blocks) ^ px


def int_tweak_blocks(tw):
    t = np.zeros((len(tw), 16), np.uint8)
    t[:, :8] = np.asarray(tw, dtype="<u8").view(np.uint8).reshape(-1, 8)
    return t


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("form", ["int", "block"])
def test_tccr_matches_two_openssl_passes(n, form):
    x = blocks(n, seed=10 + n)
    if form == "int":
        tw = np.random.default_rng(n).integers(0, 2**63, n, dtype=np.int64).astype(np.uint64) * 2 + 1
        tb = int_tweak_blocks(tw)
    else:
        tw = tb = blocks(n, seed=20 + n)
    want = tccr_reference(aesni.DEFAULT_KEY, x, tb)
    assert np.array_equal(aesni.tccr(x, tw), want)
    for path in PATHS:
        assert np.array_equal(aesni.tccr(x, tw, backend=path), want), path


def test_tccr_aes256_key_and_small_int_tweaks():
    key = bytes(range(32))
    x = blocks(19, seed=4)
    tw = np.arange(19, dtype=np.int32)
    want = tccr_reference(key, x, int_tweak_blocks(tw.astype(np.uint64)))
    assert np.array_equal(aesni.tccr(x, tw, key=key), want)
    for path in PATHS:
        assert np.array_equal(aesni.tccr(x, tw, key=key, backend=path), want), path


def test_tccr_rejects_bad_tweaks():
    x = blocks(4)
    with pytest.raises(ParameterError):
        aesni.tccr(x, np.arange(3))
    with pytest.raises(ParameterError):
        aesni.tccr(x, np.zeros((4, 8), np.uint8))
    with pytest.raises(ParameterError):
        aesni.tccr(x, np.zeros(4, np.float64))


# ---------------------------------------------------------------- wide TCCR

def tccr_wide_reference(x, tweak_blocks):
    out = []
    for row, t in zip(x, tweak_blocks):
        enc = Cipher(algorithms.AES(row.tobytes()), modes.ECB()).encryptor()
        t1 = t.copy()
        t1[15] |= 0x80
        out.append(np.frombuffer(enc.update(t.tobytes() + t1.tobytes()), np.uint8))
    return np.array(out, dtype=np.uint8).reshape(-1, 32)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("form", ["int", "block"])
def test_tccr_wide_is_aes256_keyed_by_the_input(n, form):
    x = blocks(n, 32, seed=30 + n)
    if form == "int":
        tw = np.random.default_rng(n).integers(0, 2**63, n, dtype=np.int64).astype(np.uint64) * 2 + 1
        tb = int_tweak_blocks(tw)
    else:
        tw = tb = blocks(n, seed=40 + n)
        tb[:, 15] &= 0x7F
    want = tccr_wide_reference(x, tb)
    assert np.array_equal(aesni.tccr_wide(x, tw), want)
    for path in PATHS + ["table"]:
        assert np.array_equal(aesni.tccr_wide(x, tw, backend=path), want), path


def test_tccr_wide_separates_tweaks_and_halves():
    x = np.repeat(blocks(1, 32, seed=9), 3, axis=0)
    y = aesni.tccr_wide(x, np.array([0, 1, 2], np.uint64))
    halves = {y[i, 16 * h:16 * h + 16].tobytes() for i in range(3) for h in range(2)}
    assert len(halves) == 6
    with pytest.raises(ParameterError):
        tb = np.zeros((3, 16), np.uint8)
        tb[1, 15] = 0x80
        aesni.tccr_wide(x, tb)
    with pytest.raises(ParameterError):
        aesni.tccr_wide(blocks(3), np.arange(3))


# ---------------------------------------------------------------- GGM

@pytest.mark.parametrize("m", SIZES)
def test_ggm_expand_level(m):
    s = blocks(m, seed=50 + m)
    c = np.zeros(16, np.uint8)
    c[0] = 1
    want = np.empty((2 * m, 16), np.uint8)
    want[0::2] = openssl_ecb(aesni.DEFAULT_KEY, s) ^ s
    want[1::2] = openssl_ecb(aesni.DEFAULT_KEY, s ^ c) ^ s ^ c
    assert np.array_equal(aesni.ggm_expand_level(s), want)
    for path in PATHS:
        assert np.array_equal(aesni.ggm_expand_level(s, backend=path), want), path
    key = bytes(range(16, 32))
    other = aesni.ggm_expand_level(s, key=key)
    for path in PATHS:
        assert np.array_equal(other, aesni.ggm_expand_level(s, key=key, backend=path)), path
    assert m == 0 or not np.array_equal(other, want)


# ---------------------------------------------------------------- GF(2^128)

def gf_int_mul(a, b):
    """Schoolbook product mod x^128 + x^7 + x^2 + x + 1, independent of the kernels."""
    r = 0
    for i in range(128):
        if (b >> i) & 1:
            r ^= a << i
    for i in range(254, 127, -1):
        if (r >> i) & 1:
            r ^= ((1 << 128) | 0x87) << (i - 128)
    return r


def as_int(row):
    return int.from_bytes(row.tobytes(), "little")


@pytest.mark.parametrize("n", SIZES)
def test_gf128_against_python_ints(n):
    a, b = blocks(n, seed=60 + n), blocks(n, seed=70 + n)
    got = aesni.gf128_mul(a, b)
    for path in GF_PATHS:
        assert np.array_equal(got, aesni.gf128_mul(a, b, backend=path)), path
    for i in range(min(n, 64)):
        assert as_int(got[i]) == gf_int_mul(as_int(a[i]), as_int(b[i]))


def test_gf128_edge_values():
    one = (1).to_bytes(16, "little")
    x = (2).to_bytes(16, "little")
    top = (1 << 127).to_bytes(16, "little")
    full = b"\xff" * 16
    a = np.frombuffer(one + top + top + full + full, np.uint8).reshape(-1, 16)
    b = np.frombuffer(full + x + top + full + one, np.uint8).reshape(-1, 16)
    for backend in GF_PATHS:
        got = aesni.gf128_mul(a, b, backend=backend)
        assert got[0].tobytes() == full
        assert as_int(got[1]) == 0x87  # x^127 * x = x^128 = x^7 + x^2 + x + 1
        for i in range(5):
            assert as_int(got[i]) == gf_int_mul(as_int(a[i]), as_int(b[i]))


@pytest.mark.parametrize("n", SIZES)
def test_gf128_dot(n):
    from pqmpc.primitives import gf128

    a, b = blocks(n, seed=90 + n), blocks(n, seed=91 + n)
    want = 0
    for i in range(n):
        want ^= gf_int_mul(as_int(a[i]), as_int(b[i]))
    for path in GF_PATHS:
        got = aesni.gf128_dot(a, b, backend=path)
        assert got.shape == (16,) and as_int(got) == want, path
    assert as_int(gf128.dot(a, b)) == want
    with pytest.raises(ParameterError):
        aesni.gf128_dot(a, blocks(n + 1))


def test_gf128_block_function_in_njit():
    from numba import njit

    @njit
    def dot(a, b):
        acc = (np.uint64(0), np.uint64(0))
        for i in range(a.shape[0]):
            acc = aesni.bxor(acc, aesni.gf128_mul_block((a[i, 0], a[i, 1]), (b[i, 0], b[i, 1])))
        return acc

    a, b = blocks(33, seed=1), blocks(33, seed=2)
    acc = dot(a.view(np.uint64), b.view(np.uint64))
    want = 0
    for i in range(33):
        want ^= gf_int_mul(as_int(a[i]), as_int(b[i]))
    assert int(acc[0]) | (int(acc[1]) << 64) == want


@native
def test_in_kernel_aes256_schedule_matches_fips():
    from numba import njit

    @njit
    def sched(k0, k1):
        return aesni.aes256_expand_ni(k0, k1), aesni.aes256_expand_soft(k0, k1)

    key = bytes(range(32))
    w = np.frombuffer(key, np.uint64)
    ni, soft = sched((w[0], w[1]), (w[2], w[3]))
    want = aesni.round_keys(key)
    assert np.array_equal(np.array(ni, dtype=np.uint64), want)
    assert np.array_equal(np.array(soft, dtype=np.uint64), want)


# ---------------------------------------------------------------- hashing front end

class _PlainPerm:
    """A permutation object that is not FixedKeyAES: hashing must take its generic path."""

    def __init__(self, key):
        self.key = key

    def permute(self, x):
        return openssl_ecb(self.key, x).copy()


@pytest.mark.parametrize("n", [0, 1, 9, 1000])
def test_hashing_fused_equals_generic_path(n):
    from pqmpc.primitives import hashing
    from pqmpc.primitives.aes import FixedKeyAES

    x = blocks(n, seed=80 + n)
    tw = np.arange(n, dtype=np.uint64) * 3 + 7
    for key in (aesni.DEFAULT_KEY, bytes(range(32))):
        fast, slow = FixedKeyAES(key), _PlainPerm(key)
        assert np.array_equal(hashing.cr(x, fast), hashing.cr(x, slow))
        assert np.array_equal(hashing.ccr(x, fast), hashing.ccr(x, slow))
        assert np.array_equal(hashing.tccr(x, tw, fast), hashing.tccr(x, tw, slow))
    for path in PATHS:
        for key in (None, bytes(range(32))):
            assert np.array_equal(aesni.cr(x, key, sigma=True), aesni.cr(x, key, sigma=True, backend=path))
            assert np.array_equal(aesni.cr(x, key), aesni.cr(x, key, backend=path))
            assert np.array_equal(aesni.cr(x, key), hashing.cr(x, _PlainPerm(key or aesni.DEFAULT_KEY)))
    xw = blocks(n, 32, seed=n)
    assert np.array_equal(hashing.tccr_wide(xw, tw), tccr_wide_reference(xw, int_tweak_blocks(tw)))


# ---------------------------------------------------------------- no AES-NI target

_CHILD = r"""
import json, sys
import numpy as np
from pqmpc.primitives import aesni
req = json.loads(sys.stdin.read())
res = {"aes": aesni.HAVE_AESNI, "pclmul": aesni.HAVE_PCLMUL, "enc": aesni.aes128_encrypt.__name__, "out": {}}
for name, (fn, args) in req.items():
    arrs = [np.array(a, dtype=np.uint8) if isinstance(a, list)
            else np.array(a["u64"], dtype=np.uint64) if isinstance(a, dict) else a for a in args]
    if name.startswith("ecb"):
        arrs[0] = bytes(arrs[0])
    res["out"][name] = np.asarray(getattr(aesni, fn)(*arrs)).tolist()
from pqmpc.primitives import aes_kernels, prg
seeds = np.arange(3 * 32, dtype=np.uint8).reshape(3, 32)
g = prg.MultiKeyCTR(seeds)
res["prg"] = [g.backend, np.concatenate([g.next(5), g.next(60)], axis=1).tolist()]
res["table_active"] = aes_kernels.TABLE_AES_ACTIVE
if "FOREIGN_TEST_FILE" in __import__("os").environ:
    import importlib.util
    spec = importlib.util.spec_from_file_location("_t_aesni", __import__("os").environ["FOREIGN_TEST_FILE"])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["_t_aesni"] = mod  # numba's cache records the module by name
    spec.loader.exec_module(mod)
    x = mod.blocks(13, seed=6)
    out = np.empty_like(x)
    kids = np.empty((26, 16), np.uint8)
    ok = mod._foreign(aesni.key_tuple(bytes(16)), x.view(np.uint64), out.view(np.uint64), kids.view(np.uint64))
    res["foreign"] = [bool(ok), out.tolist(), kids.tolist()]
print(json.dumps(res))
"""


def _child_cases():
    x = blocks(11, seed=3)
    return {
        "ecb128": ("ecb_encrypt", [list(range(16)), x.tolist()]),
        "ecb256": ("ecb_encrypt", [list(range(32)), x.tolist()]),
        "tccr": ("tccr", [x.tolist(), np.arange(11, dtype=np.uint64) * 977]),
        "tccr_wide": ("tccr_wide", [blocks(9, 32, seed=8).tolist(), np.arange(9, dtype=np.uint64)]),
        "ggm": ("ggm_expand_level", [x.tolist()]),
        "ccr": ("cr", [x.tolist(), None, True]),
        "tccr_tag": ("tccr", [x.tolist(), np.arange(11, dtype=np.uint64) * 5, None, None, "auto", 5]),
        "tccr_wide_tag": ("tccr_wide", [blocks(9, 32, seed=8).tolist(), np.arange(9, dtype=np.uint64), None, "auto",
                                        (3 << 32) | 1]),
        "gf128": ("gf128_mul", [x.tolist(), blocks(11, seed=4).tolist()]),
    }


@pytest.mark.parametrize("env", [{"NUMBA_CPU_FEATURES": "-aes,-pclmul", "FOREIGN_TEST_FILE": __file__},
                                 {"NUMBA_CPU_NAME": "generic"}],
                         ids=["features-minus-aes", "cpu-generic"])
def test_fallback_without_instructions(env):
    """The process must not abort, must report no AES-NI, and must give the same bytes."""
    cases = _child_cases()
    full_env = dict(os.environ, **env, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    wire = {k: (fn, [{"u64": a.tolist()} if isinstance(a, np.ndarray) else a for a in args])
            for k, (fn, args) in cases.items()}
    proc = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps(wire), capture_output=True,
                          text=True, env=full_env, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["aes"] is False and res["pclmul"] is False
    assert res["enc"] == "aes128_encrypt_soft"
    # Secret-keyed paths never take the table AES: the CTR PRG runs on OpenSSL there, and the table
    # AES still bound for other packages' njit kernels is announced by exactly one RuntimeWarning.
    backend, stream = res["prg"]
    assert backend == "OpenSSL" and res["table_active"] is True
    assert stream == SeedExpander(np.arange(3 * 32, dtype=np.uint8).reshape(3, 32)).next(65).tolist()
    assert proc.stderr.count("RuntimeWarning") == 1, proc.stderr[-3000:]
    assert "not constant time" in proc.stderr
    for name, (fn, args) in cases.items():
        arrs = [np.array(a, dtype=np.uint8) if isinstance(a, list) else a for a in args]
        if name.startswith("ecb"):
            arrs[0] = bytes(arrs[0])
        want = np.asarray(getattr(aesni, fn)(*arrs)).tolist()
        assert res["out"][name] == want, name
    if "FOREIGN_TEST_FILE" in env:
        ok, out, kids = res["foreign"]
        x = blocks(13, seed=6)
        assert ok and out == openssl_ecb(bytes(16), x).tolist()
        assert kids == aesni.ggm_expand_level(x, key=bytes(16)).tolist()
