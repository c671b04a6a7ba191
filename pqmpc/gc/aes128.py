"""AES-128 as a Boolean circuit, written with :class:`pqmpc.gc.build.CircuitBuilder`.

Two circuits:

* :func:`aes128_circuit` — inputs ``(key: 128, plaintext: 128)``, output the
  ciphertext (128). Key schedule inside: 200 S-boxes, 6,400 AND gates.
* :func:`aes128_expanded_circuit` — inputs ``(round_keys: 1408, plaintext: 128)``.
  The key schedule is a function of the key holder's input alone, so the key
  holder can run it in the clear (:func:`expand_key_bits`) and the circuit only
  pays for the 160 S-boxes of the rounds: 5,120 AND gates. This is what
  :func:`pqmpc.twopc.functions.aes128` garbles.

S-box: the 113-gate circuit of Boyar and Peralta ("A new combinational logic
minimization technique with applications to cryptology", SEA 2010) — a linear
layer, an inversion in GF(2^8) through GF(2^4) with 32 AND gates, a linear layer.
It is checked against the S-box table on all 256 inputs (``tests/gc/test_aes128.py``), and the
whole circuit against OpenSSL's AES through ``cryptography``.

Byte and bit order (the Bristol convention of ``docs/garbling.md``): a 16-byte
string in FIPS-197 order (``key[0]`` first, as in the standard's hex notation) is
read as a **big-endian** integer, and wire ``i`` of the group carries bit ``i`` of
that integer. So the first wire is the low bit of the *last* byte, and the hex
string ``0x000102...0f`` given on the command line is the FIPS-197 key
``00 01 02 ... 0f``. The ciphertext output is the same: its integer, written
big-endian, is the ciphertext bytes. :func:`block_to_bits` and
:func:`bits_to_block` convert (batched over rows).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..errors import ParameterError
from ..primitives.aes import expand_key as aes_expand_key
from ..primitives.aes import sbox_table
from .build import Bits, CircuitBuilder
from .circuit import Circuit

ROUNDS = 10
ROUND_KEY_BITS = 128 * (ROUNDS + 1)

# Boyar–Peralta 113-gate S-box as a straight-line program. Inputs U0..U7 with U0
# the most significant bit of the byte, outputs S0..S7 likewise. Each step is
# (target, op, a, b) with op "^" (XOR), "&" (AND) or "=" (XNOR, i.e. NOT XOR).
_SBOX_SLP = """
y14 ^ U3 U5; y13 ^ U0 U6; y9 ^ U0 U3; y8 ^ U0 U5; t0 ^ U1 U2; y1 ^ t0 U7;
y4 ^ y1 U3; y12 ^ y13 y14; y2 ^ y1 U0; y5 ^ y1 U6; y3 ^ y5 y8; t1 ^ U4 y12;
y15 ^ t1 U5; y20 ^ t1 U1; y6 ^ y15 U7; y10 ^ y15 t0; y11 ^ y20 y9; y7 ^ U7 y11;
y17 ^ y10 y11; y19 ^ y10 y8; y16 ^ t0 y11; y21 ^ y13 y16; y18 ^ U0 y16;
t2 & y12 y15; t3 & y3 y6; t4 ^ t3 t2; t5 & y4 U7; t6 ^ t5 t2; t7 & y13 y16;
t8 & y5 y1; t9 ^ t8 t7; t10 & y2 y7; t11 ^ t10 t7; t12 & y9 y11; t13 & y14 y17;
t14 ^ t13 t12; t15 & y8 y10; t16 ^ t15 t12; t17 ^ t4 t14; t18 ^ t6 t16;
t19 ^ t9 t14; t20 ^ t11 t16; t21 ^ t17 y20; t22 ^ t18 y19; t23 ^ t19 y21;
t24 ^ t20 y18; t25 ^ t21 t22; t26 & t21 t23; t27 ^ t24 t26; t28 & t25 t27;
t29 ^ t28 t22; t30 ^ t23 t24; t31 ^ t22 t26; t32 & t31 t30; t33 ^ t32 t24;
t34 ^ t23 t33; t35 ^ t27 t33; t36 & t24 t35; t37 ^ t36 t34; t38 ^ t27 t36;
t39 & t29 t38; t40 ^ t25 t39; t41 ^ t40 t37; t42 ^ t29 t33; t43 ^ t29 t40;
t44 ^ t33 t37; t45 ^ t42 t41;
z0 & t44 y15; z1 & t37 y6; z2 & t33 U7; z3 & t43 y16; z4 & t40 y1; z5 & t29 y7;
z6 & t42 y11; z7 & t45 y17; z8 & t41 y10; z9 & t44 y12; z10 & t37 y3;
z11 & t33 y4; z12 & t43 y13; z13 & t40 y5; z14 & t29 y2; z15 & t42 y9;
z16 & t45 y14; z17 & t41 y8;
t46 ^ z15 z16; t47 ^ z10 z11; t48 ^ z5 z13; t49 ^ z9 z10; t50 ^ z2 z12;
t51 ^ z2 z5; t52 ^ z7 z8; t53 ^ z0 z3; t54 ^ z6 z7; t55 ^ z16 z17;
t56 ^ z12 t48; t57 ^ t50 t53; t58 ^ z4 t46; t59 ^ z3 t54; t60 ^ t46 t57;
t61 ^ z14 t57; t62 ^ t52 t58; t63 ^ t49 t58; t64 ^ z4 t59; t65 ^ t61 t62;
t66 ^ z1 t63; S0 ^ t59 t63; S6 = t56 t62; S7 = t48 t60; t67 ^ t64 t65;
S3 ^ t53 t66; S4 ^ t51 t66; S5 ^ t47 t65; S1 = t64 S3; S2 = t55 t67
"""


def _parse_slp(text: str) -> tuple[tuple[str, str, str, str], ...]:
    steps = []
    for item in text.replace("\n", " ").split(";"):
        parts = item.split()
        if parts:
            steps.append(tuple(parts))
    return tuple(steps)


SBOX_STEPS = _parse_slp(_SBOX_SLP)


def sbox(b: CircuitBuilder, x: Bits) -> Bits:
    """AES S-box of one byte ``x`` (8 bits, least significant first): 32 AND gates."""
    env = {f"U{i}": x[7 - i] for i in range(8)}
    for target, op, p, q in SBOX_STEPS:
        u, v = env[p], env[q]
        if op == "^":
            env[target] = u ^ v
        elif op == "&":
            env[target] = u & v
        else:
            env[target] = ~(u ^ v)
    return b.concat(*(env[f"S{7 - i}"] for i in range(8)))


def _xtime(b: CircuitBuilder, a: Bits) -> Bits:
    # multiply by x in GF(2^8) mod x^8+x^4+x^3+x+1: shift up, fold bit 7 into bits 0,1,3,4
    h = a[7]
    return b.concat(h, a[0] ^ h, a[1], a[2] ^ h, a[3] ^ h, a[4], a[5], a[6])


def _mix_column(b: CircuitBuilder, col: list[Bits]) -> list[Bits]:
    a0, a1, a2, a3 = col
    total = a0 ^ a1 ^ a2 ^ a3
    # 2·a_i ⊕ 3·a_{i+1} ⊕ a_{i+2} ⊕ a_{i+3} = a_i ⊕ total ⊕ xtime(a_i ⊕ a_{i+1})
    return [col[i] ^ total ^ _xtime(b, col[i] ^ col[(i + 1) % 4]) for i in range(4)]


def _bytes_of(b: CircuitBuilder, bits: Bits) -> list[Bits]:
    """Split a 128-bit group (big-endian byte string convention) into 16 bytes, FIPS order."""
    return [bits[8 * (15 - j): 8 * (16 - j)] for j in range(16)]


def _join_bytes(b: CircuitBuilder, state: list[Bits]) -> Bits:
    return b.concat(*reversed(state))


def _key_schedule(b: CircuitBuilder, key: list[Bits]) -> list[list[Bits]]:
    words = [key[4 * i: 4 * i + 4] for i in range(4)]
    rcon = 1
    for i in range(4, 4 * (ROUNDS + 1)):
        t = list(words[i - 1])
        if i % 4 == 0:
            t = t[1:] + t[:1]
            t = [sbox(b, x) for x in t]
            t[0] = t[0] ^ rcon
            rcon = (rcon << 1) ^ (0x11B if rcon & 0x80 else 0)
        words.append([p ^ q for p, q in zip(words[i - 4], t)])
    return [sum((words[4 * r + c] for c in range(4)), []) for r in range(ROUNDS + 1)]


def _encrypt(b: CircuitBuilder, round_keys: list[list[Bits]], state: list[Bits]) -> list[Bits]:
    """State and round keys are 16 bytes in FIPS order (byte ``r + 4c`` is row r, column c)."""
    state = [s ^ k for s, k in zip(state, round_keys[0])]
    for rnd in range(1, ROUNDS + 1):
        sub = [sbox(b, x) for x in state]
        # ShiftRows: row r of column c comes from column c + r
        shifted = [sub[r + 4 * ((c + r) % 4)] for c in range(4) for r in range(4)]
        if rnd < ROUNDS:
            mixed = []
            for c in range(4):
                mixed.extend(_mix_column(b, shifted[4 * c: 4 * c + 4]))
            shifted = mixed
        state = [s ^ k for s, k in zip(shifted, round_keys[rnd])]
    return state


@cache
def aes128_circuit() -> Circuit:
    """AES-128 encryption with the key schedule inside: inputs ``(key, plaintext)``."""
    b = CircuitBuilder()
    key = _bytes_of(b, b.input(128))
    pt = _bytes_of(b, b.input(128))
    ct = _encrypt(b, _key_schedule(b, key), pt)
    b.output(_join_bytes(b, ct))
    return b.build()


@cache
def aes128_expanded_circuit() -> Circuit:
    """AES-128 encryption under an expanded key: inputs ``(round_keys: 1408, plaintext)``.

    The round-key group is the 176-byte key schedule ``w[0] ‖ ... ‖ w[43]`` read as
    one big-endian integer, exactly as :func:`expand_key_bits` produces it.
    """
    b = CircuitBuilder()
    rk_bits = b.input(ROUND_KEY_BITS)
    # byte j of the 176-byte schedule sits at bits 8*(175-j) .. 8*(175-j)+7
    rk = [rk_bits[8 * (175 - j): 8 * (176 - j)] for j in range(176)]
    round_keys = [rk[16 * r: 16 * r + 16] for r in range(ROUNDS + 1)]
    pt = _bytes_of(b, b.input(128))
    b.output(_join_bytes(b, _encrypt(b, round_keys, pt)))
    return b.build()


# -- conversions in the clear ---------------------------------------------------------

def _as_rows(data, width: int, name: str) -> np.ndarray:
    if isinstance(data, (bytes, bytearray, memoryview)):
        arr = np.frombuffer(bytes(data), dtype=np.uint8)
        if arr.size % width:
            raise ParameterError(f"{name}: {arr.size} bytes is not a multiple of {width}")
        return arr.reshape(-1, width)
    arr = np.asarray(data)
    if arr.dtype != np.uint8 or arr.ndim not in (1, 2) or arr.shape[-1] != width:
        raise ParameterError(f"{name} must be bytes or a ({width},) / (n, {width}) uint8 array")
    return arr.reshape(-1, width)


def block_to_bits(data, width: int = 16) -> np.ndarray:
    """Byte strings ``(n, width)`` → circuit input bits ``(n, 8·width)`` (big-endian integer)."""
    rows = _as_rows(data, width, "block")
    return np.ascontiguousarray(np.unpackbits(rows[:, ::-1], axis=1, bitorder="little"))


def bits_to_block(bits) -> np.ndarray:
    """Inverse of :func:`block_to_bits`: ``(n, 8·w)`` or ``(8·w,)`` bits → ``(n, w)`` bytes."""
    bits = np.atleast_2d(np.asarray(bits, dtype=np.uint8))
    return np.ascontiguousarray(np.packbits(bits, axis=1, bitorder="little")[:, ::-1])


def _sbox_table() -> np.ndarray:
    """The AES S-box as a 256-entry table (derived from its definition in primitives.aes)."""
    return sbox_table()


def expand_key(key: bytes) -> bytes:
    """The 176-byte AES-128 key schedule (FIPS-197 §5.2), computed in the clear."""
    key = bytes(key)
    if len(key) != 16:
        raise ParameterError(f"an AES-128 key is 16 bytes, got {len(key)}")
    return aes_expand_key(key).tobytes()


def expand_key_bits(key: bytes) -> np.ndarray:
    """Input bits of :func:`aes128_expanded_circuit`'s round-key group for ``key``."""
    return block_to_bits(expand_key(key), 176)[0]
