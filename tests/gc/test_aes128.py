"""The builder's AES-128 circuits against the S-box table and OpenSSL's AES."""

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import ParameterError
from pqmpc.gc import aes128 as A
from pqmpc.gc.build import CircuitBuilder
from pqmpc.gc.evaluate import evaluate_garbled
from pqmpc.gc.garble import garble


def openssl_aes(key: bytes, blocks: bytes) -> bytes:
    return Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(blocks)


def test_sbox_circuit_matches_table_on_all_bytes():
    b = CircuitBuilder()
    b.output(A.sbox(b, b.input(8)))
    c = b.build()
    assert c.and_count == 32
    ins = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1, bitorder="little")
    got = np.packbits(c.evaluate([ins])[0], axis=1, bitorder="little")[:, 0]
    # the table itself comes from the GF(2^8) definition; pin a few FIPS-197 entries
    table = A._sbox_table()
    assert (table[0x00], table[0x01], table[0x53], table[0xFF]) == (0x63, 0x7C, 0xED, 0x16)
    assert np.array_equal(got, table)


def test_gate_counts():
    assert A.aes128_circuit().and_count == 6400
    assert A.aes128_expanded_circuit().and_count == 5120
    assert A.aes128_circuit().input_sizes == (128, 128)
    assert A.aes128_expanded_circuit().input_sizes == (1408, 128)


def test_fips197_appendix_c1():
    key = bytes(range(16))
    pt = bytes.fromhex("00112233445566778899aabbccddeeff")
    want = bytes.fromhex("69c4e0d86a7b0430d8cdb78070b4c55a")
    c = A.aes128_circuit()
    out = c.evaluate([A.block_to_bits(key)[0], A.block_to_bits(pt)[0]])[0]
    assert A.bits_to_block(out)[0].tobytes() == want
    # the documented bit order: the hex string of the key is the integer on the wires
    key_int = int.from_bytes(key, "big")
    assert [(key_int >> i) & 1 for i in range(128)] == A.block_to_bits(key)[0].tolist()


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16)),
                min_size=1, max_size=8))
def test_circuits_match_openssl(pairs):
    keys = b"".join(k for k, _ in pairs)
    pts = b"".join(p for _, p in pairs)
    want = b"".join(openssl_aes(k, p) for k, p in pairs)
    kb, pb = A.block_to_bits(keys), A.block_to_bits(pts)
    full = A.bits_to_block(A.aes128_circuit().evaluate([kb, pb])[0]).tobytes()
    rk = np.stack([A.expand_key_bits(k) for k, _ in pairs])
    exp = A.bits_to_block(A.aes128_expanded_circuit().evaluate([rk, pb])[0]).tobytes()
    assert full == want
    assert exp == want


def test_expand_key_last_round_key():
    # FIPS-197 appendix A.1: the last four words for key 2b7e1516...
    key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    assert A.expand_key(key)[-16:].hex() == "d014f9a8c9ee2589e13f0cc8b6630ca6"
    with pytest.raises(ParameterError):
        A.expand_key(b"short")
    with pytest.raises(ParameterError):
        A.block_to_bits(b"\x00" * 15)


def test_garbled_aes_matches_openssl():
    c = A.aes128_circuit()
    assert c.and_count == 6400
    key, pt = bytes(range(16)), b"sixteen byte msg"
    garbled, enc = garble(c)
    labels = enc.encode([A.block_to_bits(key)[0], A.block_to_bits(pt)[0]])
    out = garbled.decode(evaluate_garbled(garbled, labels))[0]
    assert A.bits_to_block(out)[0].tobytes() == openssl_aes(key, pt)
    assert garbled.tables.nbytes == 32 * c.and_count
