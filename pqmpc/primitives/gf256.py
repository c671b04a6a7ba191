"""Batched arithmetic in GF(2^256) = GF(2)[x] / (x^256 + x^10 + x^5 + x^2 + 1).

The field of the consistency checks of the 256-bit (post-quantum) mode of the
actively secure OT extensions (KOS, SoftSpokenOT with κ = 256), where rows and
Δ are 32-byte blocks. A block is a little-endian 256-bit integer whose bit i is
the coefficient of x^i (as :mod:`.gf128`), i.e. four uint64 words, lowest first.
The pentanomial is irreducible (the test checks it with Rabin's test).

Bulk: :func:`mul` (row-wise products), :func:`dot` (``Σ a_i·b_i``, one reduction
per call) and :func:`ctr_dot` (a check's sum with its AES-256-CTR challenges made
in-kernel, never stored: the 256-bit sibling of :func:`.gf128.ctr_dot`).
A product is three 128 × 128 Karatsuba products, each three 64 × 64 carry-less
multiplies (PCLMULQDQ where numba's target has it; otherwise the constant-time
integer-multiply carry-less product of :mod:`.gf128`, same bytes): nine per row.
The sums stay unreduced (reduction is GF(2)-linear) and are folded once.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..errors import ParameterError
from .aes_kernels import HAVE_AESNI, aes256_encrypt8_ni, aes256_encrypt_ni, aes256_load_keys
from .blocks import as_blocks, out_blocks
from .cpu import HAVE_PCLMUL, HAVE_VAES, HAVE_VPCLMUL
from .gf128 import _clmul64_soft
from .gf128_vaes import HAVE_ZMM
from .gf256_vaes import VSTEP, ctr_dot_vaes
from .llvm_ir import BLOCK, clmul_00, to_vec, u64_array
from .prg import _ctr as ctr_block
from .prg import _ctr8 as ctr_block8

__all__ = ["HAVE_CTR_DOT", "WIDTH", "ctr_dot", "dot", "mul", "reduce512"]

WIDTH = 32
#: whether :func:`ctr_dot` runs here (AES-NI for the challenges)
HAVE_CTR_DOT = HAVE_AESNI
_Z = np.uint64(0)
_ZERO18 = (_Z,) * 18


@njit(inline="always")
def _cl_ni(x, y):
    return clmul_00((x, _Z), (y, _Z))


@njit(inline="always")
def _cl_soft(x, y):
    return _clmul64_soft(x, y)


_cl = _cl_ni if HAVE_PCLMUL else _cl_soft


@njit(inline="always")
def _kara(a0, a1, b0, b1):
    # 128 × 128 → (lo, hi, mm): the product is lo ⊕ (mm ⊕ lo ⊕ hi)·x^64 ⊕ hi·x^128.
    lo = _cl(a0, b0)
    hi = _cl(a1, b1)
    mm = _cl(a0 ^ a1, b0 ^ b1)
    return lo[0], lo[1], hi[0], hi[1], mm[0], mm[1]


@njit(inline="always")
def _row_terms(a, b):
    # 256 × 256 as three 128-bit Karatsuba products: X = A0·B0, Y = A1·B1, Z = (A0⊕A1)(B0⊕B1).
    x = _kara(a[0], a[1], b[0], b[1])
    y = _kara(a[2], a[3], b[2], b[3])
    z = _kara(a[0] ^ a[2], a[1] ^ a[3], b[0] ^ b[2], b[1] ^ b[3])
    return x, y, z


@njit(inline="always")
def _acc_add(acc, t):
    x, y, z = t
    return (acc[0] ^ x[0], acc[1] ^ x[1], acc[2] ^ x[2], acc[3] ^ x[3], acc[4] ^ x[4], acc[5] ^ x[5],
            acc[6] ^ y[0], acc[7] ^ y[1], acc[8] ^ y[2], acc[9] ^ y[3], acc[10] ^ y[4], acc[11] ^ y[5],
            acc[12] ^ z[0], acc[13] ^ z[1], acc[14] ^ z[2], acc[15] ^ z[3], acc[16] ^ z[4], acc[17] ^ z[5])


@njit(inline="always")
def _k256(lo0, lo1, hi0, hi1, mm0, mm1):
    m0 = mm0 ^ lo0 ^ hi0
    m1 = mm1 ^ lo1 ^ hi1
    return lo0, lo1 ^ m0, hi0 ^ m1, hi1


@njit
def reduce512(r0, r1, r2, r3, r4, r5, r6, r7):
    """A 512-bit carry-less product (words lowest first) reduced mod x^256 + x^10 + x^5 + x^2 + 1 (njit)."""
    # x^256 = x^10 + x^5 + x^2 + 1: the top 256 bits times that lands in bits 0..265;
    # the <= 10 bits past x^255 fold once more (into word 0: at most bit 19).
    # Written out (no list): a list here is a heap allocation per call.
    t0, t1, t2, t3 = r4, r5, r6, r7
    t4 = np.uint64(0)
    for s in (2, 5, 10):
        su, back = np.uint64(s), np.uint64(64 - s)
        t0 ^= r4 << su
        t1 ^= (r5 << su) | (r4 >> back)
        t2 ^= (r6 << su) | (r5 >> back)
        t3 ^= (r7 << su) | (r6 >> back)
        t4 ^= r7 >> back
    f = t4 ^ (t4 << np.uint64(2)) ^ (t4 << np.uint64(5)) ^ (t4 << np.uint64(10))
    return r0 ^ t0 ^ f, r1 ^ t1, r2 ^ t2, r3 ^ t3


@njit(inline="always")
def finish(acc):
    """The 18 unreduced Karatsuba accumulators of a sum of products → the reduced 4-word sum."""
    x = _k256(acc[0], acc[1], acc[2], acc[3], acc[4], acc[5])
    y = _k256(acc[6], acc[7], acc[8], acc[9], acc[10], acc[11])
    z = _k256(acc[12], acc[13], acc[14], acc[15], acc[16], acc[17])
    m = (z[0] ^ x[0] ^ y[0], z[1] ^ x[1] ^ y[1], z[2] ^ x[2] ^ y[2], z[3] ^ x[3] ^ y[3])
    # X + M·x^128 + Y·x^256
    return reduce512(x[0], x[1], x[2] ^ m[0], x[3] ^ m[1], y[0] ^ m[2], y[1] ^ m[3], y[2], y[3])


@njit(cache=True, nogil=True)
def _dot_kernel(a, b):
    acc = _ZERO18
    for i in range(a.shape[0]):
        acc = _acc_add(acc, _row_terms(a[i], b[i]))
    return finish(acc)


@njit(cache=True, nogil=True)
def _mul_kernel(a, b, out):
    for i in range(a.shape[0]):
        r = finish(_acc_add(_ZERO18, _row_terms(a[i], b[i])))
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = r


_U18 = types.UniTuple(types.uint64, 18)
_V2 = ir.VectorType(ir.IntType(64), 2)
_I32 = ir.IntType(32)


@intrinsic
def _acc4_ni(typingctx, acc, xs, rows, i):
    """Accumulate ``χ_r ⊗ rows[i + r]`` (r < 4, χ_r = blocks 2r, 2r+1 of ``xs``) into the 18 unreduced
    Karatsuba words ``acc``, as one piece of vector IR (PCLMULQDQ; the products stay in xmm registers)."""
    if not (acc == _U18 and xs == types.UniTuple(BLOCK, 8) and u64_array(rows) and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        i8 = ir.IntType(8)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_V2, [_V2, _V2, i8]),
                                            "llvm.x86.pclmulqdq")
        intp = context.get_value_type(types.intp)
        i_v = context.cast(builder, args[3], sig.args[3], types.intp)
        arr = context.make_array(sig.args[2])(context, builder, args[2])
        swap = ir.Constant(ir.VectorType(_I32, 2), [1, 0])

        def vec(j):
            v = ir.Constant(_V2, ir.Undefined)
            v = builder.insert_element(v, builder.extract_value(args[0], 2 * j), ir.Constant(_I32, 0))
            return builder.insert_element(v, builder.extract_value(args[0], 2 * j + 1), ir.Constant(_I32, 1))

        accs = [vec(j) for j in range(9)]
        for r in range(4):
            c0 = to_vec(builder, builder.extract_value(args[1], 2 * r))
            c1 = to_vec(builder, builder.extract_value(args[1], 2 * r + 1))
            row = builder.add(i_v, ir.Constant(intp, r))
            bs = []
            for w in (0, 2):
                p = cgutils.get_item_pointer(context, builder, sig.args[2], arr, [row, ir.Constant(intp, w)])
                bs.append(builder.load(builder.bitcast(p, _V2.as_pointer()), align=8))
            for k, (va, vb) in enumerate(((c0, bs[0]), (c1, bs[1]), (builder.xor(c0, c1), builder.xor(*bs)))):
                fa = builder.xor(va, builder.shuffle_vector(va, va, swap))
                fb = builder.xor(vb, builder.shuffle_vector(vb, vb, swap))
                terms = (builder.call(fn, [va, vb, ir.Constant(i8, 0x00)]),
                         builder.call(fn, [va, vb, ir.Constant(i8, 0x11)]),
                         builder.call(fn, [fa, fb, ir.Constant(i8, 0x00)]))
                for j, t in enumerate(terms):
                    accs[3 * k + j] = builder.xor(accs[3 * k + j], t)
        out = ir.Constant(context.get_value_type(_U18), ir.Undefined)
        for j, v in enumerate(accs):
            out = builder.insert_value(out, builder.extract_element(v, ir.Constant(_I32, 0)), 2 * j)
            out = builder.insert_value(out, builder.extract_element(v, ir.Constant(_I32, 1)), 2 * j + 1)
        return out

    return _U18(acc, xs, rows, types.intp), codegen


@njit(inline="always")
def _acc4_soft(acc, xs, rows, i):
    for j in range(4):
        chi = (xs[2 * j][0], xs[2 * j][1], xs[2 * j + 1][0], xs[2 * j + 1][1])
        acc = _acc_add(acc, _row_terms(chi, rows[i + j]))
    return acc


_acc4 = _acc4_ni if HAVE_PCLMUL else _acc4_soft


if HAVE_AESNI:
    @njit(cache=True, nogil=True)
    def _ctr_dot_kernel(rk, start, rows, sel):
        """χ_j = the 32 bytes of the AES-256-CTR stream at blocks 2(start+j), 2(start+j)+1."""
        ks = aes256_load_keys(rk)
        acc = _ZERO18
        p0 = _Z
        p1 = _Z
        p2 = _Z
        p3 = _Z
        n = rows.shape[0]
        pick = sel.shape[0] > 0
        i = 0
        while i + 4 <= n:
            xs = aes256_encrypt8_ni(ks, ctr_block8(2 * (start + i)))
            acc = _acc4(acc, xs, rows, i)
            if pick:
                for j in range(4):
                    chi = (xs[2 * j][0], xs[2 * j][1], xs[2 * j + 1][0], xs[2 * j + 1][1])
                    m = _Z - np.uint64(sel[i + j])  # all ones where selected: no branch on the secret
                    p0 ^= chi[0] & m
                    p1 ^= chi[1] & m
                    p2 ^= chi[2] & m
                    p3 ^= chi[3] & m
            i += 4
        while i < n:
            c0 = aes256_encrypt_ni(ks, ctr_block(2 * (start + i)))
            c1 = aes256_encrypt_ni(ks, ctr_block(2 * (start + i) + 1))
            chi = (c0[0], c0[1], c1[0], c1[1])
            acc = _acc_add(acc, _row_terms(chi, rows[i]))
            if pick:
                m = _Z - np.uint64(sel[i])
                p0 ^= chi[0] & m
                p1 ^= chi[1] & m
                p2 ^= chi[2] & m
                p3 ^= chi[3] & m
            i += 1
        r = finish(acc)
        return r[0], r[1], r[2], r[3], p0, p1, p2, p3


# numba's on-disk cache keys these callers on this file, not on gf256_vaes.py, whose intrinsic
# they inline: a change there needs a change here (or a cleared cache) to be compiled in.
def _vaes_caller(lanes: int):
    @njit(cache=True, nogil=True)
    def call(rk, start, rows, sel):
        steps = rows.shape[0] // VSTEP
        done = VSTEP * steps
        if sel.shape[0] > 0:
            a = ctr_dot_vaes(rk, start, rows, sel, steps, True, lanes)
            t = _ctr_dot_kernel(rk, start + done, rows[done:], sel[done:])
        else:
            a = ctr_dot_vaes(rk, start, rows, sel, steps, False, lanes)
            t = _ctr_dot_kernel(rk, start + done, rows[done:], sel)
        # the fold is linear: fold the vector part, add the tail's folded sum
        f = finish(a[:18])
        return (f[0] ^ t[0], f[1] ^ t[1], f[2] ^ t[2], f[3] ^ t[3],
                a[18] ^ t[4], a[19] ^ t[5], a[20] ^ t[6], a[21] ^ t[7])

    return call


#: VAES kernels by register width: "ymm" (one χ per register), "zmm" (two; AVX-512 only).
_VAES_CALLS = {}
if HAVE_AESNI and HAVE_VAES and HAVE_VPCLMUL:
    _VAES_CALLS["ymm"] = _vaes_caller(2)
    if HAVE_ZMM:
        _VAES_CALLS["zmm"] = _vaes_caller(4)


def _pair(a, b):
    a = as_blocks(a, WIDTH, name="a")
    b = as_blocks(b, WIDTH, name="b")
    if a.shape != b.shape:
        raise ParameterError(f"operands differ in shape: {a.shape} vs {b.shape}")
    return a.view(np.uint64), b.view(np.uint64)


def mul(a, b, out=None) -> np.ndarray:
    """Row-wise products of two ``(n, 32)`` block arrays."""
    av, bv = _pair(a, b)
    out = out_blocks(out, av.shape[0], WIDTH)
    _mul_kernel(av, bv, out.view(np.uint64))
    return out


def dot(a, b) -> np.ndarray:
    """``Σ_i a_i·b_i`` over the rows of two ``(n, 32)`` block arrays, as one ``(32,)`` block."""
    av, bv = _pair(a, b)
    r = _dot_kernel(av, bv)
    return np.array(r, dtype=np.uint64).view(np.uint8)


def ctr_dot(round_keys: np.ndarray, start: int, rows: np.ndarray, sel: np.ndarray | None = None,
            backend: str = "auto") -> np.ndarray:
    """``Σ_j χ_j·rows_j ‖ ⊕_{sel_j = 1} χ_j`` (64 bytes), ``χ_j`` the 32 bytes at ``32·(start + j)`` of
    the AES-256-CTR stream of :class:`~pqmpc.primitives.prg.MultiKeyCTR` keyed by ``round_keys``
    (``(15, 2)`` uint64, :func:`~pqmpc.primitives.aes_kernels.round_keys_many`); AES-NI only.
    ``backend``: "auto" (the widest of zmm, ymm, xmm), "ymm", or "aesni" (xmm); the same bytes."""
    if not HAVE_CTR_DOT:
        raise ParameterError("gf256.ctr_dot needs AES-NI")
    rows = as_blocks(rows, WIDTH, name="rows")
    sel = np.zeros(0, dtype=np.uint8) if sel is None else np.ascontiguousarray(sel, dtype=np.uint8)
    if sel.shape[0] not in (0, rows.shape[0]):
        raise ParameterError("sel must have one entry per row")
    kernel = _ctr_dot_kernel
    if backend in ("auto", "native", "ymm"):
        kernel = _VAES_CALLS.get("ymm" if backend == "ymm" else "zmm", _VAES_CALLS.get("ymm", _ctr_dot_kernel))
    r = kernel(round_keys, start, rows.view(np.uint64), sel)
    return np.array(r, dtype=np.uint64).view(np.uint8)
