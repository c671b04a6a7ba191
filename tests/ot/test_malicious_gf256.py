"""GF(2^256) of the 256-bit malicious checks (pqmpc.primitives.gf256) against a plain
polynomial reference on Python integers; the field polynomial is irreducible; the fused
AES-256-CTR challenge kernel gives the stream of MultiKeyCTR and the bulk products."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import ParameterError
from pqmpc.primitives import gf256

POLY = (1 << 256) | (1 << 10) | (1 << 5) | (1 << 2) | 1


def clmul(a: int, b: int) -> int:
    r = 0
    while b:
        if b & 1:
            r ^= a
        a <<= 1
        b >>= 1
    return r


def pmod(x: int, p: int = POLY) -> int:
    d = p.bit_length() - 1
    while x.bit_length() - 1 >= d:
        x ^= p << (x.bit_length() - 1 - d)
    return x


def pmulmod(a: int, b: int) -> int:
    return pmod(clmul(a, b))


def as_int(row) -> int:
    return int.from_bytes(bytes(row), "little")


def test_field_polynomial_is_irreducible():
    # Rabin: degree-256 p is irreducible iff x^(2^256) = x mod p and gcd(x^(2^128) - x, p) = 1.
    x = 2
    y = x
    for i in range(256):
        y = pmulmod(y, y)
        if i == 127:
            half = y
    assert y == x
    a, b = POLY, half ^ x
    while b:
        a, b = b, pmod(a, b)
    assert a == 1


@settings(max_examples=20, deadline=None)
@given(n=st.integers(0, 40), seed=st.integers(0, 2**32 - 1))
def test_mul_and_dot_match_the_reference(n, seed):
    g = np.random.default_rng(seed)
    a = g.integers(0, 256, (n, 32), dtype=np.uint8)
    b = g.integers(0, 256, (n, 32), dtype=np.uint8)
    if n:
        a[0] = 0xFF  # all-ones operands: every carry-less term and both folds are exercised
        b[0] = 0xFF
    prod = gf256.mul(a, b)
    want = 0
    for i in range(n):
        p = pmulmod(as_int(a[i]), as_int(b[i]))
        assert as_int(prod[i]) == p
        want ^= p
    assert as_int(gf256.dot(a, b)) == want


def test_identity_and_shapes():
    one = np.zeros((1, 32), np.uint8)
    one[0, 0] = 1
    x = np.random.default_rng(3).integers(0, 256, (1, 32), dtype=np.uint8)
    assert np.array_equal(gf256.mul(x, one), x)
    with pytest.raises(ParameterError):
        gf256.mul(np.zeros((2, 16), np.uint8), np.zeros((2, 16), np.uint8))
    with pytest.raises(ParameterError):
        gf256.dot(np.zeros((2, 32), np.uint8), np.zeros((3, 32), np.uint8))
