import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pqmpc import Rng
from pqmpc.primitives import hashing
from pqmpc.primitives.aes import DEFAULT_KEY


def pi_py(block: bytes) -> bytes:
    return Cipher(algorithms.AES(DEFAULT_KEY), modes.ECB()).encryptor().update(block)


def xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def test_tccr_definition_blockwise():
    x = Rng(b"h").blocks(9)
    tw = np.array([0, 1, 2, 3, 1 << 40, 5, 6, 7, 2**64 - 1], dtype=np.uint64)
    got = hashing.tccr(x, tw)
    for i in range(9):
        px = pi_py(x[i].tobytes())
        t = int(tw[i]).to_bytes(16, "little")
        assert got[i].tobytes() == xor(pi_py(xor(px, t)), px)


def test_tccr_block_tweak_equals_integer_tweak():
    x = Rng(b"h").blocks(5)
    tw = np.arange(5, dtype=np.uint64)
    tb = np.zeros((5, 16), np.uint8)
    tb[:, 0] = np.arange(5)
    assert np.array_equal(hashing.tccr(x, tw), hashing.tccr(x, tb))


def test_cr_and_ccr_definitions():
    x = Rng(b"c").blocks(4)
    for i in range(4):
        b = x[i].tobytes()
        assert hashing.cr(x)[i].tobytes() == xor(pi_py(b), b)
        lo, hi = b[:8], b[8:]
        s = hi + xor(lo, hi)  # σ(xL‖xR) = (xL⊕xR)‖xL with xL the high half
        assert hashing.ccr(x)[i].tobytes() == xor(pi_py(s), s)


def test_tweak_changes_output_and_empty_input():
    x = np.zeros((2, 16), np.uint8)
    h = hashing.tccr(x, np.array([0, 1], np.uint64))
    assert not np.array_equal(h[0], h[1])
    assert hashing.tccr(np.zeros((0, 16), np.uint8), np.zeros(0, np.uint64)).shape == (0, 16)


def test_shake_domain_separation():
    assert hashing.shake(b"x", 32, b"a") != hashing.shake(b"x", 32, b"b")
    assert len(hashing.shake(b"", 7)) == 7
