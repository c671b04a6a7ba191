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

The arithmetic is Python integers modulo ``p = 2^255 - 19``, run once per OT
next to two OpenSSL calls; none of it is constant time.
"""

from __future__ import annotations

import functools

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

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


@functools.lru_cache(maxsize=None)
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


@functools.lru_cache(maxsize=None)
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
            x = xs[i]
            y = sqrt(rhs(x) * (pow(b, -1, P) if b != 1 else 1))
            plan.append(("add", b, tx, ty, y))
            dens.append((tx - x) % P)
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
