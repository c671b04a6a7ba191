"""The builder-made AES-128 circuit against OpenSSL, plain and garbled."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pqmpc.gc.aes128 import aes128_circuit, bits_to_block, block_to_bits
from pqmpc.gc.circuit import bits_to_int, int_to_bits
from pqmpc.gc.evaluate import evaluate_garbled
from pqmpc.gc.garble import garble


def aes(key, block):
    return Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(block)


def _sbox_reference(x):
    # FIPS 197: multiplicative inverse in GF(2^8) mod x^8+x^4+x^3+x+1, then the affine map
    def mul(a, b):
        r = 0
        while b:
            if b & 1:
                r ^= a
            a = ((a << 1) ^ 0x11B) if a & 0x80 else a << 1
            b >>= 1
        return r
    inv = next((y for y in range(1, 256) if mul(x, y) == 1), 0)
    rot = lambda v, k: ((v << k) | (v >> (8 - k))) & 0xFF  # noqa: E731
    return inv ^ rot(inv, 1) ^ rot(inv, 2) ^ rot(inv, 3) ^ rot(inv, 4) ^ 0x63


def test_sbox_all_inputs():
    from pqmpc.gc.aes128 import _Aes
    from pqmpc.gc.build import Bits, CircuitBuilder

    b = CircuitBuilder()
    x = b.input(8)
    b.output(Bits(b, _Aes(b).sbox(list(x.wires))))
    c = b.build()
    assert c.and_count == 36 and c.depth == 4
    xs = np.stack([int_to_bits(v, 8) for v in range(256)])
    out = c.evaluate([xs])[0]
    assert [bits_to_int(o) for o in out] == [_sbox_reference(v) for v in range(256)]


def test_fips197_example():
    key = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
    pt = bytes.fromhex("00112233445566778899aabbccddeeff")
    out = aes128_circuit().evaluate([block_to_bits(key), block_to_bits(pt)])[0]
    assert bits_to_block(out).hex() == "69c4e0d86a7b0430d8cdb78070b4c55a"


@settings(max_examples=5, deadline=None)
@given(rows=st.lists(st.tuples(st.binary(min_size=16, max_size=16),
                               st.binary(min_size=16, max_size=16)), min_size=1, max_size=64))
def test_matches_openssl_batched(rows):
    c = aes128_circuit()
    keys = np.stack([block_to_bits(k) for k, _ in rows])
    pts = np.stack([block_to_bits(p) for _, p in rows])
    out = c.evaluate([keys, pts])[0]
    for i, (k, p) in enumerate(rows):
        assert bits_to_block(out[i]) == aes(k, p)


def test_garbled_aes():
    c = aes128_circuit()
    assert c.and_count == 7200 and c.depth == 40
    key, pt = bytes(range(16)), b"sixteen byte msg"
    garbled, enc = garble(c)
    labels = enc.encode([block_to_bits(key), block_to_bits(pt)])
    out = garbled.decode(evaluate_garbled(garbled, labels))[0]
    assert bits_to_block(out) == aes(key, pt)
    assert garbled.tables.nbytes == 32 * c.and_count
