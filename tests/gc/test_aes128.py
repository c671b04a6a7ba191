"""The builder-made AES-128 circuit against OpenSSL, plain and garbled."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pqmpc.gc.aes128 import aes128_circuit, bits_to_block, block_to_bits
from pqmpc.gc.evaluate import evaluate_garbled
from pqmpc.gc.garble import garble


def aes(key, block):
    return Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(block)


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
    assert c.and_count == 21600 and c.depth == 40
    key, pt = bytes(range(16)), b"sixteen byte msg"
    garbled, enc = garble(c)
    labels = enc.encode([block_to_bits(key), block_to_bits(pt)])
    out = garbled.decode(evaluate_garbled(garbled, labels))[0]
    assert bits_to_block(out) == aes(key, pt)
    assert garbled.tables.nbytes == 32 * c.and_count
