"""X25519 public keys that look like uniformly random 32-byte strings.

Why this exists: the McQuoid–Rosulek–Roy OT (see :mod:`.simplest`) hides the
receiver's choice only if its real public key is indistinguishable from the
random string the sender decodes on the other branch. An ordinary X25519
public key is not: it is always on the main curve (a random string is on the
twist half of the time), always in the prime-order subgroup (a random curve
point is there with probability 1/8) and always has bit 255 clear. So the
receiver here

* picks the main curve or its quadratic twist with a fair coin (the exact
  ratio #E / (#E + #E') differs from 1/2 by less than 2^-128),
* computes ``P = clamp(a)·G`` (curve) or ``clamp(a)·G'`` (twist, ``G'`` a
  generator of the twist's prime-order subgroup) through OpenSSL's X25519,
  which is twist-secure and so computes either,
* adds a uniformly random torsion point (curve torsion is Z/8, twist Z/4),
  which needs ``y(P)``, recovered with one square root, and
* sets bit 255 at random.

The sender only ever computes ``X25519(b, ·)``; its clamped scalar is a
multiple of 8 and kills every torsion component, so the added torsion point
never changes the shared secret: ``X25519(b, x(P + T)) == X25519(a, X25519(b, G))``.

What remains is computational: that clamped X25519 keys (scalars
``2^254 + 8k``, ``k < 2^251``) look like uniform elements of the prime-order
subgroup, the same assumption every protocol that encodes X25519 keys as
random strings makes. Classical only: a quantum computer breaks all of this.

The field arithmetic around the OpenSSL calls is Python integers modulo
``p = 2^255 - 19`` plus one batched numba kernel for the square roots; none
of it is constant time.
"""

from __future__ import annotations

import functools

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from numba import njit

P = 2**255 - 19
A = 486662
A24 = (A - 2) // 4
#: Order of the base point's subgroup; the main curve has 8·L points.
L = 2**252 + 27742317777372353535851937790883648493
ORDER_CURVE = 8 * L
#: #E + #E' = 2p + 2 for a curve and its quadratic twist.
ORDER_TWIST = 2 * P + 2 - ORDER_CURVE
L_TWIST = ORDER_TWIST // 4
#: The twist written as ``TWIST_B·y^2 = x^3 + A x^2 + x``; 2 is a non-square mod p (p ≡ 5 mod 8).
TWIST_B = 2
SQRT_M1 = pow(2, (P - 1) // 4, P)
BASE_U = 9


def rhs(x: int) -> int:
    """``x^3 + A x^2 + x`` mod p (the curve equation's right-hand side)."""
    return x * (x * (x + A) + 1) % P


def is_square(v: int) -> bool:
    v %= P
    return v == 0 or pow(v, (P - 1) // 2, P) == 1


def sqrt(v: int) -> int:
    """A square root mod p (p ≡ 5 mod 8, Atkin's method); ``ValueError`` if none."""
    v %= P
    r = pow(v, (P + 3) // 8, P)
    if r * r % P != v:
        r = r * SQRT_M1 % P
        if r * r % P != v:
            raise ValueError("not a square mod p")
    return r


# ---------------------------------------------------------------------------
# Batched square roots: Python's pow() takes ~150 µs for a 255-bit exponent,
# more than the OpenSSL X25519 calls around it. Radix-2^26 limbs (10 per
# element, int64) in numba do the exponentiation for a whole batch.

_M26 = (1 << 26) - 1
_FOLD = 608  # 2^260 = 2^5 · 2^255 ≡ 32 · 19 (mod p)


@njit(inline='always')
def _fe_reduce(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18):
    m = np.int64(_M26)
    c1 += c0 >> 26
    c0 &= m
    c2 += c1 >> 26
    c1 &= m
    c3 += c2 >> 26
    c2 &= m
    c4 += c3 >> 26
    c3 &= m
    c5 += c4 >> 26
    c4 &= m
    c6 += c5 >> 26
    c5 &= m
    c7 += c6 >> 26
    c6 &= m
    c8 += c7 >> 26
    c7 &= m
    c9 += c8 >> 26
    c8 &= m
    c10 += c9 >> 26
    c9 &= m
    c11 += c10 >> 26
    c10 &= m
    c12 += c11 >> 26
    c11 &= m
    c13 += c12 >> 26
    c12 &= m
    c14 += c13 >> 26
    c13 &= m
    c15 += c14 >> 26
    c14 &= m
    c16 += c15 >> 26
    c15 &= m
    c17 += c16 >> 26
    c16 &= m
    c18 += c17 >> 26
    c17 &= m
    c19 = c18 >> 26
    c18 &= m
    r0 = c0 + c10 * _FOLD
    r1 = c1 + c11 * _FOLD
    r2 = c2 + c12 * _FOLD
    r3 = c3 + c13 * _FOLD
    r4 = c4 + c14 * _FOLD
    r5 = c5 + c15 * _FOLD
    r6 = c6 + c16 * _FOLD
    r7 = c7 + c17 * _FOLD
    r8 = c8 + c18 * _FOLD
    r9 = c9 + c19 * _FOLD
    r1 += r0 >> 26
    r0 &= m
    r2 += r1 >> 26
    r1 &= m
    r3 += r2 >> 26
    r2 &= m
    r4 += r3 >> 26
    r3 &= m
    r5 += r4 >> 26
    r4 &= m
    r6 += r5 >> 26
    r5 &= m
    r7 += r6 >> 26
    r6 &= m
    r8 += r7 >> 26
    r7 &= m
    r9 += r8 >> 26
    r8 &= m
    r0 += (r9 >> 26) * _FOLD
    r9 &= m
    r1 += r0 >> 26
    r0 &= m
    return (r0, r1, r2, r3, r4, r5, r6, r7, r8, r9)


@njit(inline='always')
def _fe_mul(a, b):
    a0, a1, a2, a3, a4, a5, a6, a7, a8, a9 = a
    b0, b1, b2, b3, b4, b5, b6, b7, b8, b9 = b
    c0 = a0 * b0
    c1 = a0 * b1 + a1 * b0
    c2 = a0 * b2 + a1 * b1 + a2 * b0
    c3 = a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0
    c4 = a0 * b4 + a1 * b3 + a2 * b2 + a3 * b1 + a4 * b0
    c5 = (a0 * b5 + a1 * b4 + a2 * b3 + a3 * b2 + a4 * b1
          + a5 * b0)
    c6 = (a0 * b6 + a1 * b5 + a2 * b4 + a3 * b3 + a4 * b2
          + a5 * b1 + a6 * b0)
    c7 = (a0 * b7 + a1 * b6 + a2 * b5 + a3 * b4 + a4 * b3
          + a5 * b2 + a6 * b1 + a7 * b0)
    c8 = (a0 * b8 + a1 * b7 + a2 * b6 + a3 * b5 + a4 * b4
          + a5 * b3 + a6 * b2 + a7 * b1 + a8 * b0)
    c9 = (a0 * b9 + a1 * b8 + a2 * b7 + a3 * b6 + a4 * b5
          + a5 * b4 + a6 * b3 + a7 * b2 + a8 * b1 + a9 * b0)
    c10 = (a1 * b9 + a2 * b8 + a3 * b7 + a4 * b6 + a5 * b5
          + a6 * b4 + a7 * b3 + a8 * b2 + a9 * b1)
    c11 = (a2 * b9 + a3 * b8 + a4 * b7 + a5 * b6 + a6 * b5
          + a7 * b4 + a8 * b3 + a9 * b2)
    c12 = (a3 * b9 + a4 * b8 + a5 * b7 + a6 * b6 + a7 * b5
          + a8 * b4 + a9 * b3)
    c13 = (a4 * b9 + a5 * b8 + a6 * b7 + a7 * b6 + a8 * b5
          + a9 * b4)
    c14 = a5 * b9 + a6 * b8 + a7 * b7 + a8 * b6 + a9 * b5
    c15 = a6 * b9 + a7 * b8 + a8 * b7 + a9 * b6
    c16 = a7 * b9 + a8 * b8 + a9 * b7
    c17 = a8 * b9 + a9 * b8
    c18 = a9 * b9
    return _fe_reduce(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18)


@njit
def _fe_pow2k(a, k):
    """a^(2^k), k >= 1."""
    for _ in range(k):
        a = _fe_mul(a, a)
    return a


@njit(cache=True)
def _fe_sqrt_candidates(limbs):
    """Row-wise v^((p+3)/8) = v^(2^252 - 2) for (n, 10) int64 limbs, in place."""
    for r in range(limbs.shape[0]):
        row = limbs[r]
        x1 = (row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9])
        x2 = _fe_mul(_fe_pow2k(x1, 1), x1)      # x_k = v^(2^k - 1)
        x4 = _fe_mul(_fe_pow2k(x2, 2), x2)
        x8 = _fe_mul(_fe_pow2k(x4, 4), x4)
        x16 = _fe_mul(_fe_pow2k(x8, 8), x8)
        x32 = _fe_mul(_fe_pow2k(x16, 16), x16)
        x64 = _fe_mul(_fe_pow2k(x32, 32), x32)
        acc = _fe_mul(_fe_pow2k(x64, 64), x64)  # x_128
        acc = _fe_mul(_fe_pow2k(acc, 64), x64)  # x_192
        acc = _fe_mul(_fe_pow2k(acc, 32), x32)  # x_224
        acc = _fe_mul(_fe_pow2k(acc, 16), x16)  # x_240
        acc = _fe_mul(_fe_pow2k(acc, 8), x8)    # x_248
        acc = _fe_mul(_fe_pow2k(acc, 2), x2)    # x_250
        acc = _fe_mul(_fe_pow2k(acc, 1), x1)    # x_251
        acc = _fe_mul(acc, acc)                 # v^(2^252 - 2)
        for k in range(10):
            row[k] = acc[k]


def sqrt_batch(values: list[int]) -> list[int]:
    """Square roots mod p of a list of squares (``ValueError`` for a non-square)."""
    n = len(values)
    if n == 0:
        return []
    limbs = np.empty((n, 10), dtype=np.int64)
    for i, v in enumerate(values):
        v %= P
        for k in range(10):
            limbs[i, k] = (v >> (26 * k)) & _M26
    _fe_sqrt_candidates(limbs)
    out = []
    for i, v in enumerate(values):
        r = sum(int(limbs[i, k]) << (26 * k) for k in range(10)) % P
        v %= P
        if r * r % P != v:
            r = r * SQRT_M1 % P
            if r * r % P != v:
                raise ValueError("not a square mod p")
        out.append(r)
    return out


def ladder(k: int, u: int) -> tuple[int, int]:
    """Projective ``(X : Z)`` of ``k·(u, ·)``, any k >= 0 (no clamping), curve or twist."""
    x1, x2, z2, x3, z3 = u % P, 1, 0, u % P, 1
    swap = 0
    for t in reversed(range(max(k.bit_length(), 1))):
        bit = (k >> t) & 1
        if swap ^ bit:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = (x2 + z2) % P, (x2 - z2) % P
        aa, bb = a * a % P, b * b % P
        e = (aa - bb) % P
        c, d = (x3 + z3) % P, (x3 - z3) % P
        da, cb = d * a % P, c * b % P
        x3, z3 = (da + cb) ** 2 % P, x1 * (da - cb) ** 2 % P
        x2, z2 = aa * bb % P, e * (aa + A24 * e) % P
    if swap:
        x2, z2 = x3, z3
    return x2, z2


def affine_add(p1, p2, b: int):
    """Sum of two affine points on ``b·y^2 = x^3 + A x^2 + x`` (``None`` is the identity)."""
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2:
        if (y1 + y2) % P == 0:
            return None
        lam = (3 * x1 * x1 + 2 * A * x1 + 1) * pow(2 * b * y1, -1, P) % P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (b * lam * lam - A - x1 - x2) % P
    return x3, (lam * (x1 - x3) - y1) % P


def _first(pred):
    x = 2
    while True:
        v = rhs(x)
        if v and pred(v):
            return x
        x += 1


@functools.cache
def tables() -> dict:
    """Torsion points of curve and twist and the twist generator, derived once.

    Everything is computed from the curve constants (nothing-up-my-sleeve: the
    smallest suitable u-coordinates), so there is no table to mistype.
    """
    out = {}
    for name, order, cof, b, on_it in (("curve", L, 8, 1, is_square),
                                       ("twist", L_TWIST, 4, TWIST_B, lambda v: not is_square(v))):
        x = 2
        while True:
            v = rhs(x)
            if v and on_it(v):
                xx, zz = ladder(order, x)
                if zz:
                    tx = xx * pow(zz, -1, P) % P
                    # exact order cof: (cof/2)·T is the 2-torsion point (0, 0)
                    hx, hz = ladder(cof // 2, tx)
                    if hx == 0 and hz:
                        break
            x += 1
        ty = sqrt(rhs(tx) * pow(b, -1, P))
        pts = [None]
        for _ in range(cof - 1):
            pts.append(affine_add(pts[-1], (tx, ty), b))
        out[name] = pts
    # twist generator: 4·R for the first twist point R, of order L_TWIST
    xr = _first(lambda v: not is_square(v))
    gx, gz = ladder(4, xr)
    out["twist_generator"] = gx * pow(gz, -1, P) % P
    return out


def u_bytes(x: int) -> bytes:
    return int(x).to_bytes(32, "little")


@functools.cache
def twist_generator_key() -> X25519PublicKey:
    return X25519PublicKey.from_public_bytes(u_bytes(tables()["twist_generator"]))


def _batch_inverse(values: list[int]) -> list[int]:
    """Montgomery's trick: all inverses for one modular inversion."""
    n = len(values)
    if n == 0:
        return []
    prefix = [1] * (n + 1)
    for i, v in enumerate(values):
        prefix[i + 1] = prefix[i] * v % P
    inv = pow(prefix[n], -1, P)
    out = [0] * n
    for i in range(n - 1, -1, -1):
        out[i] = prefix[i] * inv % P
        inv = inv * values[i] % P
    return out


def uniform_keys(scalars: np.ndarray, coins: np.ndarray):
    """Receiver keys: ``(secret key objects, twist flags, (n, 32) uniform-looking public strings)``.

    ``scalars`` is ``(n, 32)`` random bytes; ``coins`` ``(n,)`` random bytes whose
    bit 0 picks curve/twist, bits 1–3 the torsion point and bit 4 bit 255.
    """
    n = scalars.shape[0]
    tab = tables()
    gt = twist_generator_key()
    keys, xs = [], []
    twist = (coins & 1).astype(bool)
    for i in range(n):
        sk = X25519PrivateKey.from_private_bytes(scalars[i].tobytes())
        u = sk.exchange(gt) if twist[i] else sk.public_key().public_bytes_raw()
        keys.append(sk)
        xs.append(int.from_bytes(u, "little"))
    # torsion index j: for the 2-torsion point (0, 0), x(P + T) = 1/x needs no y;
    # other points need y(P) and one affine addition.
    jidx = ((coins >> 1) & 7).astype(np.int64)
    jidx[twist] &= 3
    half_inv = pow(TWIST_B, -1, P)
    need = [i for i in range(n) if jidx[i] and (tab["twist"] if twist[i] else tab["curve"])[jidx[i]][1] != 0]
    ys = dict(zip(need, sqrt_batch([rhs(xs[i]) * (half_inv if twist[i] else 1) for i in need])))
    dens, plan = [], []
    for i in range(n):
        j = int(jidx[i])
        if j == 0:
            plan.append(None)
            continue
        b, pts = (TWIST_B, tab["twist"]) if twist[i] else (1, tab["curve"])
        tx, ty = pts[j]
        if ty == 0:  # (0, 0)
            plan.append(("inv",))
            dens.append(xs[i])
        else:
            plan.append(("add", b, tx, ty, ys[i]))
            dens.append((tx - xs[i]) % P)
    invs = _batch_inverse(dens)
    out = np.empty((n, 32), dtype=np.uint8)
    k = 0
    for i in range(n):
        step = plan[i]
        x = xs[i]
        if step is not None:
            if step[0] == "inv":
                x = invs[k]
            else:
                _, b, tx, ty, y = step
                lam = (ty - y) * invs[k] % P
                x = (b * lam * lam - A - x - tx) % P
            k += 1
        out[i] = np.frombuffer(u_bytes(x | (int((coins[i] >> 4) & 1) << 255)), dtype=np.uint8)
    return keys, twist, out
