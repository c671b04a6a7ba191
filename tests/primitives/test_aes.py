import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pqmpc import Rng
from pqmpc.errors import ParameterError
from pqmpc.primitives.aes import DEFAULT_KEY, FixedKeyAES, aes_ctr, aes_ecb, expand_key


def blocks(hexstr):
    return np.frombuffer(bytes.fromhex(hexstr), np.uint8).reshape(-1, 16).copy()


def test_fips197_appendix_c_vectors():
    pt = blocks("00112233445566778899aabbccddeeff")
    k128 = bytes(range(16))
    k256 = bytes(range(32))
    assert aes_ecb(k128, pt).tobytes().hex() == "69c4e0d86a7b0430d8cdb78070b4c55a"
    assert aes_ecb(k256, pt).tobytes().hex() == "8ea2b7ca516745bfeafc49904b496089"
    assert FixedKeyAES(k128).permute(pt).tobytes().hex() == "69c4e0d86a7b0430d8cdb78070b4c55a"


def test_key_expansion_last_round_keys_fips197_appendix_a():
    assert expand_key(bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c"))[-1].tobytes().hex() == \
        "d014f9a8c9ee2589e13f0cc8b6630ca6"
    k = bytes.fromhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
    assert expand_key(k).shape == (15, 16)
    assert expand_key(k)[-1].tobytes().hex() == "fe4890d1e6188d0b046df344706c631e"


@pytest.mark.parametrize("n", [0, 1, 3, 1000])
def test_permute_matches_openssl_on_any_count(n):
    x = Rng(b"p").blocks(n)
    ref = Cipher(algorithms.AES(DEFAULT_KEY), modes.ECB()).encryptor().update(x.tobytes())
    got = FixedKeyAES().permute(x)
    assert got.shape == (n, 16) and got.tobytes() == ref
    out = np.empty_like(x)
    assert FixedKeyAES().permute(x, out=out) is out and out.tobytes() == ref


def test_ctr_keystream():
    key = bytes(range(16))
    ref = Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor().update(bytes(100))
    assert aes_ctr(key, 100).tobytes() == ref
    assert aes_ctr(key, 0).size == 0


def test_bad_shapes():
    with pytest.raises(ParameterError):
        FixedKeyAES().permute(np.zeros((3, 15), np.uint8))
    with pytest.raises(ParameterError):
        aes_ecb(bytes(24), np.zeros((1, 16), np.uint8))
