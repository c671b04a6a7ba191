"""AES-128 encryption as a circuit, written with the builder.

Layout matches the published Bristol ``aes_128.txt``: input 0 is the 128-bit key,
input 1 the plaintext block, output 0 the ciphertext; a 16-byte string is read as a
big-endian integer, so wire ``8*(15-j) + b`` carries bit ``b`` (LSB first) of byte
``j``. :func:`block_to_bits` / :func:`bits_to_block` convert.

The S-box computes the GF(2^8) inverse as ``x^254`` with an addition chain of four
multiplications (squaring is linear, hence free) and Karatsuba multiplication of
the 8-bit polynomials (27 ANDs each), then the affine map: 108 ANDs and AND-depth 4
per S-box, 200 S-boxes (160 in the rounds, 40 in the key schedule), 21,600 ANDs in
all. The published circuit uses a 32-AND S-box (6,400 ANDs); this one is derived
from the field definition alone and is checked against OpenSSL's AES in the tests.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from pqmpc.gc.build import ZERO, Bits, CircuitBuilder
from pqmpc.gc.circuit import Circuit

_POLY_TAIL = (0, 1, 3, 4)  # x^8 = x^4 + x^3 + x + 1


def block_to_bits(block: bytes) -> np.ndarray:
    """16 bytes → 128 wire values in the circuit's order."""
    if len(block) != 16:
        raise ValueError("AES block/key must be 16 bytes")
    return np.unpackbits(np.frombuffer(bytes(block)[::-1], dtype=np.uint8), bitorder="little")


def bits_to_block(bits) -> bytes:
    return np.packbits(np.asarray(bits, dtype=np.uint8), bitorder="little").tobytes()[::-1]


class _Aes:
    def __init__(self, b: CircuitBuilder):
        self.b = b

    def _reduce(self, coeffs: list[int]) -> list[int]:
        c = list(coeffs) + [ZERO] * (15 - len(coeffs))
        for i in range(14, 7, -1):
            for t in _POLY_TAIL:
                c[i - 8 + t] = self.b._xor1(c[i - 8 + t], c[i])
        return c[:8]

    def _kmul(self, a: list[int], b: list[int]) -> list[int]:
        """Polynomial product over GF(2) by Karatsuba (3^log2(n) ANDs)."""
        n = len(a)
        if n == 1:
            return [self.b._and1(a[0], b[0])]
        h = n // 2
        x = self.b._xor1
        p0 = self._kmul(a[:h], b[:h])
        p2 = self._kmul(a[h:], b[h:])
        p1 = self._kmul([x(u, v) for u, v in zip(a[:h], a[h:])],
                        [x(u, v) for u, v in zip(b[:h], b[h:])])
        out = [ZERO] * (2 * n - 1)
        for i, v in enumerate(p0):
            out[i] = x(out[i], v)
            out[i + h] = x(out[i + h], v)
        for i, v in enumerate(p2):
            out[i + 2 * h] = x(out[i + 2 * h], v)
            out[i + h] = x(out[i + h], v)
        for i, v in enumerate(p1):
            out[i + h] = x(out[i + h], v)
        return out

    def mul(self, a, b):
        return self._reduce(self._kmul(a, b))

    def sq(self, a):
        c = [ZERO] * 15
        for i, v in enumerate(a):
            c[2 * i] = v
        return self._reduce(c)

    def sbox(self, x: list[int]) -> list[int]:
        x2 = self.sq(x)
        x3 = self.mul(x2, x)
        x15 = self.mul(self.sq(self.sq(x3)), x3)
        x63 = self.mul(self.sq(self.sq(x15)), x3)
        x127 = self.mul(self.sq(x63), x)
        inv = self.sq(x127)
        xo = self.b._xor1
        out = []
        for i in range(8):
            v = inv[i]
            for k in (4, 5, 6, 7):
                v = xo(v, inv[(i + k) % 8])
            if (0x63 >> i) & 1:
                v = self.b._inv1(v)
            out.append(v)
        return out

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
