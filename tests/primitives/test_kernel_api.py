"""The split kernel API: modules and the compatibility shim, protocol tags, the fixed-key schedule, the CTR PRG."""

import ast
import importlib
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from numba import njit

from pqmpc.errors import ParameterError
from pqmpc.primitives import aes, aes_kernels, aesni, cpu, ggm, hashing, prg
from pqmpc.primitives.aes import DEFAULT_KEY

PKG = Path(__file__).resolve().parents[2] / "pqmpc" / "primitives"
MODULES = ["aes", "aes_kernels", "aes_table", "aes_unrolled", "bits", "blocks", "cpu", "gf128", "ggm", "hashing",
           "llvm_ir", "prg", "transpose_kernels"]
SIZES = [0, 1, 7, 8, 9, 16, 17, 40]
PATHS = ["auto", "fallback"] + (["aesni"] if cpu.HAVE_AESNI else [])


def blocks(n, width=16, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, width), dtype=np.uint8)


def ecb(key, x):
    return np.frombuffer(Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(np.ascontiguousarray(x).tobytes()),
                         dtype=np.uint8).reshape(-1, 16)


# ---------------------------------------------------------------- layout

@pytest.mark.parametrize("name", MODULES)
def test_every_module_declares_its_public_names(name):
    mod = importlib.import_module(f"pqmpc.primitives.{name}")
    assert mod.__all__, name
    for attr in mod.__all__:
        assert hasattr(mod, attr), f"{name}.{attr}"
        assert not attr.startswith("_"), f"{name}.{attr}"


def test_modules_stay_small():
    # aes_unrolled holds generated IR templates and is allowed to be longer; none is over ~600 lines.
    for path in PKG.glob("*.py"):
        assert len(path.read_text().splitlines()) <= 600, path.name


# Every name other packages, tests and benchmarks used from the old aesni module (grep of aesni.<name>).
OLD_NAMES = ["aes128_encrypt", "aes128_load_keys", "HAVE_AESNI", "tccr_wide", "tccr", "round_keys", "ecb_encrypt",
             "cr", "ggm_expand_level", "DEFAULT_KEY", "aesenclast", "aes256_encrypt", "aesenc", "key_tuple",
             "gf128_mul", "HAVE_PCLMUL", "gf128_dot", "detect_features", "bxor", "aes_encrypt", "_parse_features",
             "gf128_mul_block", "aes256_load_keys", "aes128_encrypt8_ni", "platform", "ggm_children", "backend_info",
             "aes_encrypt_soft", "aes_encrypt8_soft", "aes_encrypt8", "aes256_expand_soft", "aes256_expand_ni",
             "aes256_expand", "aes256_encrypt_ni", "aes256_encrypt8_ni", "aes128_encrypt_ni", "_nb_config",
             "HAVE_VAES", "HAVE_VPCLMUL", "FEATURES", "GGM_C", "tweak_block", "gf128_mul_ni", "gf128_mul_soft",
             "aes128_encrypt_soft", "aes256_encrypt_soft", "aesenc_soft", "aesenclast_soft", "clmul_00", "clmul_11"]


def test_shim_keeps_every_old_name():
    for name in OLD_NAMES:
        assert hasattr(aesni, name), name
    # Re-exports are the very objects of the new modules (so njit callers inline the same functions).
    assert aesni.aes128_encrypt is aes_kernels.aes128_encrypt
    assert aesni.HAVE_AESNI is cpu.HAVE_AESNI
    assert aesni.ggm_expand_level is ggm.ggm_expand_level
    assert aesni.tccr_wide is hashing.tccr_wide
    assert aesni.backend_info is cpu.backend_info


def test_shim_is_only_imports_and_wrappers():
    tree = ast.parse((PKG / "aesni.py").read_text())
    defs = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert sorted(defs) == ["cr", "tccr"]  # the two whose old signature differs from hashing's


def test_backend_info_names_every_path():
    info = cpu.backend_info()
    assert {"aes_kernels", "njit_building_blocks", "gf128", "cpu_name"} <= set(info)
    assert ("table" in info["njit_building_blocks"]) == (not cpu.HAVE_AESNI)
    assert aes_kernels.TABLE_AES_ACTIVE == (not cpu.HAVE_AESNI)


# ---------------------------------------------------------------- block validator, OpenSSL wrappers

def test_block_validator():
    from pqmpc.primitives.blocks import as_blocks, check_key, out_blocks

    x = blocks(4)
    assert as_blocks(x) is x
    assert as_blocks(blocks(4, 32), width=32).shape == (4, 32)
    strided = blocks(8)[::2]
    assert as_blocks(strided).flags.c_contiguous
    for bad in (x.astype(np.uint16), x.reshape(-1), blocks(4, 8)):
        with pytest.raises(ParameterError):
            as_blocks(bad)
    with pytest.raises(ParameterError):
        out_blocks(np.empty((4, 16), np.uint8)[::-1], 4)
    ro = np.empty((4, 16), np.uint8)
    ro.flags.writeable = False
    with pytest.raises(ParameterError):
        out_blocks(ro, 4)
    assert out_blocks(None, 3, 32).shape == (3, 32)
    with pytest.raises(ParameterError):
        check_key(bytes(24))


@pytest.mark.parametrize("n", [0, 1, 2, 33])
@pytest.mark.parametrize("keylen", [16, 32])
def test_openssl_ecb_one_wrapper(n, keylen):
    key = bytes(range(50, 50 + keylen))
    x = blocks(n, seed=n)
    want = ecb(key, x)
    assert np.array_equal(aes.openssl_ecb(key, x), want)
    assert np.array_equal(aes.aes_ecb(key, x), want)
    assert np.array_equal(aes.FixedKeyAES(key).permute(x), want)
    y = x.copy()
    assert aes.openssl_ecb(key, y, out=y) is y and np.array_equal(y, want)  # in place


@pytest.mark.parametrize("nbytes", [0, 1, 15, 16, 17, 31, 32, 33, 1000])
def test_aes_ctr_any_length(nbytes):
    key, nonce = bytes(range(16)), bytes(range(100, 116))
    want = Cipher(algorithms.AES(key), modes.CTR(nonce)).encryptor().update(bytes(nbytes))
    assert aes.aes_ctr(key, nbytes, nonce).tobytes() == want


@pytest.mark.parametrize("lengths", [[], [0], [1], [3, 0, 1, 5, 2, 5], [0, 0], list(range(12))])
def test_cbc_mac_many_messages(lengths):
    key = bytes(range(16))
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    msgs = blocks(int(starts[-1]), seed=len(lengths))
    got = aes.cbc_mac(key, msgs, starts)
    assert got.shape == (len(lengths), 16)
    for i, n in enumerate(lengths):
        part = msgs[starts[i]:starts[i + 1]].tobytes()
        ct = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).encryptor().update(part)
        assert got[i].tobytes() == (ct[-16:] if n else bytes(16)), i


def test_cbc_mac_rejects_bad_offsets():
    for starts in ([1, 2], [0, 3, 2], [0, 5], []):
        with pytest.raises(ParameterError):
            aes.cbc_mac(bytes(16), blocks(2), starts)


@pytest.mark.parametrize("keylen", [16, 32])
def test_round_keys_match_fips197_expansion(keylen):
    keys = blocks(37, keylen, seed=keylen)
    want = np.stack([aes.expand_key(k.tobytes()).view(np.uint64) for k in keys])
    got = aes_kernels.round_keys_many(keys)
    assert got.shape == (37, 11 if keylen == 16 else 15, 2) and np.array_equal(got, want)
    assert np.array_equal(aes_kernels.round_keys(keys[3].tobytes()), want[3])
    assert aes_kernels.round_keys_many(np.zeros((0, keylen), np.uint8)).shape[0] == 0
    with pytest.raises(ParameterError):
        aes_kernels.round_keys_many(blocks(2, 24))


def test_round_keys_fips197_appendix_a():
    # A.1 (AES-128) last round key; A.3 (AES-256) last round key.
    assert aes_kernels.round_keys(bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c"))[10].tobytes().hex() == \
        "d014f9a8c9ee2589e13f0cc8b6630ca6"
    k256 = bytes.fromhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
    assert aes_kernels.round_keys(k256)[14].tobytes().hex() == "fe4890d1e6188d0b046df344706c631e"


# ---------------------------------------------------------------- fixed-key schedule

def test_fixed_key_schedule_is_one_cached_read_only_array():
    rk = aes_kernels.fixed_key_schedule()
    assert rk is aes_kernels.fixed_key_schedule()
    assert np.array_equal(rk, aes_kernels.round_keys(DEFAULT_KEY)) and rk.shape == (11, 2)
    assert not rk.flags.writeable
    assert aes_kernels.fixed_key_tuple() == aes_kernels.key_tuple(DEFAULT_KEY)
    other = bytes(range(32))
    assert np.array_equal(aes_kernels.fixed_key_schedule(other), aes_kernels.round_keys(other))


# ---------------------------------------------------------------- protocol tags

def tccr_reference(key, x, tweak_blocks):
    px = ecb(key, x)
    return ecb(key, px ^ tweak_blocks) ^ px


def tagged_blocks(tw, tag):
    t = np.zeros((len(tw), 2), np.uint64)
    t[:, 0] = tw
    t[:, 1] = tag
    return t.view(np.uint8).reshape(-1, 16)


def test_tag_constants():
    vals = list(hashing.PROTOCOL_TAGS.values())
    assert len(set(vals)) == len(vals) and all(0 <= v < 1 << 32 for v in vals)
    for name in ("TAG_IKNP", "TAG_KKRT", "TAG_FERRET", "TAG_SPCOT", "TAG_GC", "TAG_PSI", "TAG_RANDOM_OT"):
        assert getattr(hashing, name) in vals and getattr(hashing, name) != 0
    assert hashing.TAG_NONE == 0
    assert hashing.make_tag(hashing.TAG_GC, 3) == hashing.TAG_GC | (3 << 32)
    for bad in ((1 << 32, 0), (1, 1 << 31), (-1, 0)):
        with pytest.raises(ParameterError):
            hashing.make_tag(*bad)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("keylen", [16, 32])
def test_tccr_tag_every_path(n, keylen):
    key = DEFAULT_KEY if keylen == 16 else bytes(range(32))
    x = blocks(n, seed=n)
    tw = np.arange(n, dtype=np.uint64) + np.uint64(2**40)
    tag = hashing.make_tag(hashing.TAG_KKRT, 77)
    want = tccr_reference(key, x, tagged_blocks(tw, tag))
    untagged = tccr_reference(key, x, tagged_blocks(tw, 0))
    for path in PATHS:
        assert np.array_equal(hashing.tccr(x, tw, key=key, backend=path, tag=tag), want), path
        assert np.array_equal(hashing.tccr(x, tw, key=key, backend=path), untagged), path
        assert np.array_equal(aesni.tccr(x, tw, key, backend=path, tag=tag), want), path
    if n:
        assert not np.array_equal(want, untagged)


def test_tccr_tag_with_generic_permutation_object():
    class Perm:
        def permute(self, x):
            return ecb(DEFAULT_KEY, x).copy()

    x, tw = blocks(9), np.arange(9, dtype=np.uint64)
    assert np.array_equal(hashing.tccr(x, tw, Perm(), tag=5), hashing.tccr(x, tw, tag=5))
    out = np.empty_like(x)
    assert hashing.tccr(x, tw, Perm(), out=out, tag=5) is out


def test_tag_argument_checks():
    x = blocks(3)
    with pytest.raises(ParameterError):
        hashing.tccr(x, blocks(3), tag=1)  # block tweaks carry their own high word
    with pytest.raises(ParameterError):
        hashing.tccr(x, np.arange(3), tag=1 << 63)  # bit 127 is tccr_wide's half selector
    with pytest.raises(ParameterError):
        hashing.tccr(x, np.arange(3), tag=-1)
    with pytest.raises(ParameterError):
        hashing.tccr(x, np.arange(3), DEFAULT_KEY, key=DEFAULT_KEY)


def tccr_wide_reference(x, tweak_blocks):
    out = []
    for row, t in zip(x, tweak_blocks):
        enc = Cipher(algorithms.AES(row.tobytes()), modes.ECB()).encryptor()
        t1 = t.copy()
        t1[15] |= 0x80
        out.append(np.frombuffer(enc.update(t.tobytes() + t1.tobytes()), np.uint8))
    return np.array(out, dtype=np.uint8).reshape(-1, 32)


@pytest.mark.parametrize("n", SIZES)
def test_tccr_wide_tag_every_path(n):
    x = blocks(n, 32, seed=100 + n)
    tw = np.arange(n, dtype=np.uint64) * 3
    tag = hashing.make_tag(hashing.TAG_IKNP, 2**31 - 1)
    want = tccr_wide_reference(x, tagged_blocks(tw, tag))
    for path in PATHS + ["table"]:  # "table" is an old name of "fallback" now
        assert np.array_equal(hashing.tccr_wide(x, tw, backend=path, tag=tag), want), path
        assert np.array_equal(hashing.tccr_wide(x, tw, backend=path), tccr_wide_reference(x, tagged_blocks(tw, 0)))


# ---------------------------------------------------------------- njit building blocks of hashing

@njit(cache=True)
def _hash_kernel(ks, x, tw, tag, out):
    for i in range(x.shape[0]):
        b = (x[i, 0], x[i, 1])
        y = hashing.tccr_block(ks, b, tw[i], tag)
        c = hashing.cr_block(ks, b)
        d = hashing.ccr_block(ks, b)
        out[0, i, 0], out[0, i, 1] = y[0], y[1]
        out[1, i, 0], out[1, i, 1] = c[0], c[1]
        out[2, i, 0], out[2, i, 1] = d[0], d[1]


@njit(cache=True)
def _wide_kernel(x, tw, tag, out):
    for i in range(x.shape[0]):
        y0, y1 = hashing.tccr_wide_block((x[i, 0], x[i, 1]), (x[i, 2], x[i, 3]), tw[i], tag)
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = y0[0], y0[1], y1[0], y1[1]


@pytest.mark.parametrize("keylen", [16, 32])
def test_njit_hash_blocks_match_bulk(keylen):
    key = DEFAULT_KEY if keylen == 16 else bytes(range(32))
    x = blocks(13, seed=3)
    tw = np.arange(13, dtype=np.uint64) * 5
    tag = hashing.TAG_FERRET
    out = np.empty((3, 13, 2), np.uint64)
    _hash_kernel(aes_kernels.key_tuple(key), x.view(np.uint64), tw, np.uint64(tag), out)
    got = out.view(np.uint8).reshape(3, 13, 16)
    assert np.array_equal(got[0], hashing.tccr(x, tw, key=key, tag=tag))
    assert np.array_equal(got[1], hashing.cr(x, key=key))
    assert np.array_equal(got[2], hashing.ccr(x, key=key))


def test_njit_tccr_wide_block_matches_bulk():
    x = blocks(11, 32, seed=4)
    tw = np.arange(11, dtype=np.uint64)
    out = np.empty((11, 4), np.uint64)
    _wide_kernel(x.view(np.uint64), tw, np.uint64(hashing.TAG_GC), out)
    assert np.array_equal(out.view(np.uint8), hashing.tccr_wide(x, tw, tag=hashing.TAG_GC))


# ---------------------------------------------------------------- the CTR PRG

def ctr_reference(seed, nbytes):
    return np.frombuffer(Cipher(algorithms.AES(bytes(seed)), modes.CTR(bytes(16))).encryptor().update(bytes(nbytes)),
                         np.uint8)


@pytest.mark.parametrize("width", [16, 32])
@pytest.mark.parametrize("backend", ["auto", "fallback"])
def test_multikey_ctr_continues_like_openssl(width, backend):
    seeds = blocks(5, width, seed=width)
    g = prg.MultiKeyCTR(seeds, backend=backend)
    s = prg.SeedExpander(seeds)
    chunks = [0, 16, 5, 27, 160, 1, 64]
    got = np.concatenate([g.next(c) for c in chunks], axis=1)
    ref = np.concatenate([s.next(c) for c in chunks], axis=1)
    want = np.stack([ctr_reference(sd, sum(chunks)) for sd in seeds])
    assert np.array_equal(got, want) and np.array_equal(ref, want)
    assert g.pos == s.pos == sum(chunks)
    assert g.backend == ("numba+AES-NI" if cpu.HAVE_AESNI and backend == "auto" else "OpenSSL")


def test_prg_outputs_into_caller_buffers():
    seeds = blocks(3, seed=8)
    buf = np.zeros((6, 48), np.uint8)
    view = buf[::2]  # rows not contiguous with each other
    prg.SeedExpander(seeds).next(48, out=view)
    assert np.array_equal(view, prg.prg_expand(seeds, 48))
    assert not buf[1::2].any()
    with pytest.raises(ParameterError):
        prg.MultiKeyCTR(seeds).next(16, out=np.empty((3, 15), np.uint8))
    with pytest.raises(ParameterError):
        prg.MultiKeyCTR(blocks(2, 24))
    with pytest.raises(ParameterError):
        prg.MultiKeyCTR(seeds, backend="table")
    assert prg.MultiKeyCTR(np.zeros((0, 16), np.uint8)).next(32).shape == (0, 32)
