"""AES-128 encryption as a circuit, written with the builder.

Layout matches the published Bristol ``aes_128.txt``: input 0 is the 128-bit key,
input 1 the plaintext block, output 0 the ciphertext; a 16-byte string is read as a
big-endian integer, so wire ``8*(15-j) + b`` carries bit ``b`` (LSB first) of byte
``j``. :func:`block_to_bits` / :func:`bits_to_block` convert.

The S-box inverts in the composite field GF(((2^2)^2)^2): a linear change of basis
(derived at build time from a root of the AES polynomial in the tower field), the
inverse via norms (``a^-1 = conj(a) · N(a)^-1`` at each level, and in GF(4)
inversion is squaring), then the inverse basis change fused with the affine map.
That is 36 ANDs and AND-depth 4 per S-box, 200 S-boxes (160 in the rounds, 40 in
the key schedule): 7,200 ANDs, AND-depth 40. (The published circuit's 32-AND S-box
gives 6,400.) Checked against OpenSSL's AES and the S-box table in the tests.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from pqmpc.gc.build import ONE, ZERO, Bits, CircuitBuilder
from pqmpc.gc.circuit import Circuit

_POLY_TAIL = (0, 1, 3, 4)  # x^8 = x^4 + x^3 + x + 1


def block_to_bits(block: bytes) -> np.ndarray:
    """16 bytes → 128 wire values in the circuit's order."""
    if len(block) != 16:
        raise ValueError("AES block/key must be 16 bytes")
    return np.unpackbits(np.frombuffer(bytes(block)[::-1], dtype=np.uint8), bitorder="little")


def bits_to_block(bits) -> bytes:
    return np.packbits(np.asarray(bits, dtype=np.uint8), bitorder="little").tobytes()[::-1]


# -- the composite field GF(((2^2)^2)^2) in software, to derive the basis change ----------
# GF(4) = GF(2)[u]/(u^2+u+1); GF(16) = GF(4)[w]/(w^2+w+MU); GF(256) = GF(16)[z]/(z^2+z+LAMBDA).
# Elements are ints: low half = constant coefficient, high half = coefficient of u/w/z.


def _m4(a, b):
    p0, p2 = (a & 1) & (b & 1), (a >> 1) & (b >> 1)
    p1 = ((a ^ (a >> 1)) & 1) & ((b ^ (b >> 1)) & 1)
    return (p0 ^ p2) | ((p1 ^ p0) << 1)


def _m16(a, b, mu):
    al, ah, bl, bh = a & 3, a >> 2, b & 3, b >> 2
    p0, p2, p1 = _m4(al, bl), _m4(ah, bh), _m4(al ^ ah, bl ^ bh)
    return (p0 ^ _m4(mu, p2)) | ((p1 ^ p0) << 2)


def _m256(a, b, mu, lam):
    al, ah, bl, bh = a & 15, a >> 4, b & 15, b >> 4
    p0, p2, p1 = _m16(al, bl, mu), _m16(ah, bh, mu), _m16(al ^ ah, bl ^ bh, mu)
    return (p0 ^ _m16(lam, p2, mu)) | ((p1 ^ p0) << 4)


def _irreducible(mul, const, size):
    # t^2 + t + const has no root in the field of that size
    return all(mul(t, t) ^ t ^ const for t in range(size))


@lru_cache(maxsize=1)
def _tower():
    """(MU, LAMBDA, phi, out_matrix): the basis change AES -> tower and tower -> S-box output.

    ``phi[i]`` is the tower image of x^i (x the AES generator), found as a root beta
    of the AES polynomial in the tower field; ``out_matrix[j]`` is the affine map's
    linear part applied to the AES preimage of tower basis vector j.
    """
    mu = next(m for m in range(1, 4) if _irreducible(_m4, m, 4))
    lam = next(v for v in range(1, 16) if _irreducible(lambda a, b: _m16(a, b, mu), v, 16))
    mul = lambda a, b: _m256(a, b, mu, lam)  # noqa: E731

    def power(b, e):
        r = 1
        for _ in range(e):
            r = mul(r, b)
        return r

    beta = next(b for b in range(2, 256)
                if power(b, 8) ^ power(b, 4) ^ power(b, 3) ^ b ^ 1 == 0)
    phi = [power(beta, i) for i in range(8)]

    def apply(cols, v):
        r = 0
        for i in range(8):
            if (v >> i) & 1:
                r ^= cols[i]
        return r

    inverse = {apply(phi, v): v for v in range(256)}
    if len(inverse) != 256:
        raise AssertionError("basis change is not invertible")

    def affine_linear(b):
        r = 0
        for i in range(8):
            bit = 0
            for k in (0, 4, 5, 6, 7):
                bit ^= (b >> ((i + k) % 8)) & 1
            r |= bit << i
        return r

    out = [affine_linear(inverse[1 << j]) for j in range(8)]
    return mu, lam, phi, out


class _Aes:
    """AES pieces over builder wire lists (bit i of a byte = coefficient of x^i)."""

    def __init__(self, b: CircuitBuilder):
        self.b = b
        self.mu, self.lam, self.phi, self.out_matrix = _tower()

    def _x(self, *vals):
        r = ZERO
        for v in vals:
            r = self.b._xor1(r, v)
        return r

    def _lin(self, cols, bits):
        # output bit j = XOR of input bits i with bit j of cols[i] set
        return [self._x(*[bits[i] for i in range(len(bits)) if (cols[i] >> j) & 1])
                for j in range(8)]

    def _const(self, value, n):
        return [ONE if (value >> i) & 1 else ZERO for i in range(n)]

    # GF(4): 3 ANDs per product
    def m4(self, a, b):
        x, n = self._x, self.b._and1
        p0, p2 = n(a[0], b[0]), n(a[1], b[1])
        p1 = n(x(a[0], a[1]), x(b[0], b[1]))
        return [x(p0, p2), x(p1, p0)]

    def sq4(self, a):
        return [self._x(a[0], a[1]), a[1]]

    # GF(16): 9 ANDs per product; inversion 9 ANDs (GF(4) inversion is squaring)
    def m16(self, a, b):
        al, ah, bl, bh = a[:2], a[2:], b[:2], b[2:]
        p0, p2 = self.m4(al, bl), self.m4(ah, bh)
        p1 = self.m4([self._x(u, v) for u, v in zip(al, ah)],
                     [self._x(u, v) for u, v in zip(bl, bh)])
        lo = [self._x(u, v) for u, v in zip(p0, self.m4(self._const(self.mu, 2), p2))]
        return lo + [self._x(u, v) for u, v in zip(p1, p0)]

    def sq16(self, a):
        al, ah = a[:2], a[2:]
        h2 = self.sq4(ah)
        lo = [self._x(u, v) for u, v in zip(self.sq4(al), self.m4(self._const(self.mu, 2), h2))]
        return lo + h2

    def inv16(self, a):
        al, ah = a[:2], a[2:]
        norm = [self._x(u, v, w) for u, v, w in
                zip(self.m4(self.sq4(ah), self._const(self.mu, 2)), self.m4(ah, al), self.sq4(al))]
        ninv = self.sq4(norm)  # x^-1 = x^2 in GF(4), and 0 -> 0
        return self.m4([self._x(u, v) for u, v in zip(al, ah)], ninv) + self.m4(ah, ninv)

    def inv256(self, a):
        al, ah = a[:4], a[4:]
        norm = [self._x(u, v, w) for u, v, w in
                zip(self.m16(self.sq16(ah), self._const(self.lam, 4)), self.m16(ah, al),
                    self.sq16(al))]
        ninv = self.inv16(norm)
        return self.m16([self._x(u, v) for u, v in zip(al, ah)], ninv) + self.m16(ah, ninv)

    def sbox(self, x: list[int]) -> list[int]:
        """SubBytes: inverse in the tower field (36 ANDs, depth 4), then the affine map."""
        inv = self.inv256(self._lin(self.phi, x))
        out = self._lin(self.out_matrix, inv)
        return [self.b._inv1(v) if (0x63 >> i) & 1 else v for i, v in enumerate(out)]

    def xtime(self, a):
        # multiply by x: shift up, reduce the carried-out bit with the AES polynomial
        top = a[7]
        out = [ZERO] + a[:7]
        for t in _POLY_TAIL:
            out[t] = self.b._xor1(out[t], top)
        return out

    def xor_bytes(self, a, b):
        return [self.b._xor1(u, v) for u, v in zip(a, b)]


def _bytes_of(bits: Bits) -> list[list[int]]:
    w = bits.wires
    return [list(w[8 * (15 - j):8 * (15 - j) + 8]) for j in range(16)]


@lru_cache(maxsize=1)
def aes128_circuit() -> Circuit:
    """The AES-128 encryption circuit (key, plaintext) → ciphertext."""
    b = CircuitBuilder()
    key, pt = b.input(128), b.input(128)
    A = _Aes(b)
    kbytes = _bytes_of(key)
    w = [kbytes[4 * i:4 * i + 4] for i in range(4)]
    rcon = 1
    for i in range(4, 44):
        t = [list(x) for x in w[i - 1]]
        if i % 4 == 0:
            t = [A.sbox(x) for x in t[1:] + t[:1]]
            t[0] = [b._inv1(v) if (rcon >> k) & 1 else v for k, v in enumerate(t[0])]
            rcon = ((rcon << 1) ^ 0x11B) if rcon & 0x80 else rcon << 1
        w.append([A.xor_bytes(p, q) for p, q in zip(w[i - 4], t)])
    state = [A.xor_bytes(p, k) for p, k in zip(_bytes_of(pt), sum(w[0:4], []))]
    for rnd in range(1, 11):
        state = [A.sbox(s) for s in state]
        state = [state[r + 4 * ((c + r) % 4)] for c in range(4) for r in range(4)]
        if rnd < 10:
            mixed = []
            for c in range(4):
                col = state[4 * c:4 * c + 4]
                for r in range(4):
                    a0, a1, a2, a3 = col[r], col[(r + 1) % 4], col[(r + 2) % 4], col[(r + 3) % 4]
                    # 2*a0 + 3*a1 + a2 + a3
                    v = A.xor_bytes(A.xtime(a0), A.xor_bytes(A.xtime(a1), a1))
                    mixed.append(A.xor_bytes(A.xor_bytes(v, a2), a3))
            state = mixed
        state = [A.xor_bytes(s, k) for s, k in zip(state, sum(w[4 * rnd:4 * rnd + 4], []))]
    out = []
    for j in range(15, -1, -1):
        out.extend(state[j])
    b.output(Bits(b, out))
    return b.build()
