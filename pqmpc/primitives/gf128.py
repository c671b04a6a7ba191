"""Batched multiplication in GF(2^128) = GF(2)[x] / (x^128 + x^7 + x^2 + x + 1).

A block is a little-endian 128-bit integer whose bit i is the coefficient of
x^i (not GCM's bit-reflected order). Used by consistency checks (KOS-style
and malicious Ferret) and universal hashing.

Bulk: :func:`mul` / :func:`gf128_mul` (row-wise products), :func:`dot` /
:func:`gf128_dot` (sum of products), :func:`gf128_dot_wide` (the same sum with
one reduction per call); the checks' sums with their polynomial challenges are
:mod:`.gf_poly`. In njit code: :func:`gf128_mul_block` on
``(uint64, uint64)`` blocks, bound at import to PCLMULQDQ where numba's target
has it and to a constant-time carry-less multiply in plain numba otherwise
(no tables: integer multiplies on bits spaced four apart), same bytes.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..errors import ParameterError
from .blocks import as_blocks, out_blocks
from .cpu import HAVE_PCLMUL, HAVE_VPCLMUL, use_native
from .llvm_ir import BLOCK, bxor, to_tup, to_vec, u64_array

__all__ = ["HAVE_PCLMUL", "dot", "fold_unreduced", "gf128_dot", "gf128_dot_wide",
           "gf128_mul", "gf128_mul_block", "gf128_mul_ni", "gf128_mul_soft", "mul"]

_BLK = BLOCK
_V2 = ir.VectorType(ir.IntType(64), 2)
_I32 = ir.IntType(32)
_U32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_to_vec, _to_tup, _u64_array = to_vec, to_tup, u64_array


_M32 = (np.uint64(0x11111111), np.uint64(0x22222222), np.uint64(0x44444444), np.uint64(0x88888888))
_M64 = (np.uint64(0x1111111111111111), np.uint64(0x2222222222222222),
        np.uint64(0x4444444444444444), np.uint64(0x8888888888888888))


@njit
def _st(out, i, b):
    out[i, 0] = b[0]
    out[i, 1] = b[1]


@njit
def _fold(r0, r1, r2, r3):
    # x^128 = x^7 + x^2 + x + 1: fold the top 128 bits down, then the <= 7 bits that spill past x^127 again.
    one, two, sev = np.uint64(1), np.uint64(2), np.uint64(7)
    t1 = r3 ^ (r3 << one) ^ (r3 << two) ^ (r3 << sev)
    spill = (r3 >> np.uint64(63)) ^ (r3 >> np.uint64(62)) ^ (r3 >> np.uint64(57))
    t0 = r2 ^ (r2 << one) ^ (r2 << two) ^ (r2 << sev)
    t1 ^= (r2 >> np.uint64(63)) ^ (r2 >> np.uint64(62)) ^ (r2 >> np.uint64(57))
    t0 ^= spill ^ (spill << one) ^ (spill << two) ^ (spill << sev)
    return (r0 ^ t0, r1 ^ t1)


def _emit_gfmul(builder, va, vb, lanes=1):
    """GF(2^128) products lane by lane: ``<2 x i64>`` (PCLMULQDQ) or ``<4 x i64>`` (VPCLMULQDQ, two at once)."""
    i8 = ir.IntType(8)
    vty = _V2 if lanes == 1 else ir.VectorType(ir.IntType(64), 4)
    name = "llvm.x86.pclmulqdq" if lanes == 1 else "llvm.x86.pclmulqdq.256"
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty, vty, i8]), name)

    def cl(x, y, imm):
        return builder.call(fn, [x, y, ir.Constant(i8, imm)])

    def lane_mask(pattern):
        # pattern over one lane's two words; 2*lanes = first word of the zero operand
        z = 2 * lanes
        return ir.Constant(ir.VectorType(_I32, 2 * lanes),
                           [z if p is None else p + 2 * ln for ln in range(lanes) for p in pattern])

    zero = ir.Constant(vty, None)
    red = ir.Constant(vty, [0x87, 0] * lanes)
    lo = cl(va, vb, 0x00)
    hi = cl(va, vb, 0x11)
    mid = builder.xor(cl(va, vb, 0x10), cl(va, vb, 0x01))
    lo = builder.xor(lo, builder.shuffle_vector(mid, zero, lane_mask([None, 0])))   # mid << 64
    hi = builder.xor(hi, builder.shuffle_vector(mid, zero, lane_mask([1, None])))   # mid >> 64
    # x^128 = 0x87: hi0*0x87 lands in bits 0..134, hi1*0x87 in 64..198; the bits past 127 fold once more.
    lo = builder.xor(lo, cl(hi, red, 0x00))
    u = cl(hi, red, 0x01)
    lo = builder.xor(lo, builder.shuffle_vector(u, zero, lane_mask([None, 0])))
    return builder.xor(lo, cl(u, red, 0x01))


@intrinsic
def gf128_mul_ni(typingctx, a, b):
    """One GF(2^128) product with PCLMULQDQ (njit; only where HAVE_PCLMUL).

    Written as one piece of vector IR so the 256-bit product and both folds
    stay in xmm registers (tuple round trips through GPRs cost ~40%).
    """
    if a != _BLK or b != _BLK:
        return None

    def codegen(context, builder, sig, args):
        r = _emit_gfmul(builder, _to_vec(builder, args[0]), _to_vec(builder, args[1]))
        return _to_tup(context, builder, r)

    return _BLK(_BLK, _BLK), codegen


@intrinsic
def _gf_step_vpclmul(typingctx, a, b, out, i):
    """Rows i .. i+8 of a GF(2^128) batch, two products per VPCLMULQDQ."""
    if not (_u64_array(a) and _u64_array(b) and _u64_array(out) and out.mutable and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        y4 = ir.VectorType(ir.IntType(64), 4)
        intp = context.get_value_type(types.intp)
        i_v = context.cast(builder, args[3], sig.args[3], types.intp)
        arrs = [context.make_array(t)(context, builder, v) for t, v in zip(sig.args[:3], args[:3])]
        zero = ir.Constant(intp, 0)

        def ptr(k, j):
            p = cgutils.get_item_pointer(context, builder, sig.args[k], arrs[k],
                                         [builder.add(i_v, ir.Constant(intp, j)), zero])
            return builder.bitcast(p, y4.as_pointer())

        for j in range(0, 8, 2):
            va = builder.load(ptr(0, j), align=8)
            vb = builder.load(ptr(1, j), align=8)
            builder.store(_emit_gfmul(builder, va, vb, lanes=2), ptr(2, j), align=8)
        return context.get_dummy_value()

    return types.void(a, b, out, types.intp), codegen


@njit(cache=True, nogil=True)
def _gf_mul_vpclmul(a, b, out):
    stop = a.shape[0] - a.shape[0] % 8
    for i in range(0, stop, 8):
        _gf_step_vpclmul(a, b, out, i)
    return stop


@njit
def _bmul32(x, y):
    # Carry-less 32x32 -> 64 with integer multiplies on bits spaced 4 apart:
    # every 4-bit slot sums at most 8 products, so carries never reach the next slot.
    x0, x1, x2, x3 = x & _M32[0], x & _M32[1], x & _M32[2], x & _M32[3]
    y0, y1, y2, y3 = y & _M32[0], y & _M32[1], y & _M32[2], y & _M32[3]
    z0 = (x0 * y0) ^ (x1 * y3) ^ (x2 * y2) ^ (x3 * y1)
    z1 = (x0 * y1) ^ (x1 * y0) ^ (x2 * y3) ^ (x3 * y2)
    z2 = (x0 * y2) ^ (x1 * y1) ^ (x2 * y0) ^ (x3 * y3)
    z3 = (x0 * y3) ^ (x1 * y2) ^ (x2 * y1) ^ (x3 * y0)
    return (z0 & _M64[0]) | (z1 & _M64[1]) | (z2 & _M64[2]) | (z3 & _M64[3])


@njit
def _clmul64_soft(a, b):
    al, ah = a & _U32, a >> _S32
    bl, bh = b & _U32, b >> _S32
    p0 = _bmul32(al, bl)
    p2 = _bmul32(ah, bh)
    p1 = _bmul32(al ^ ah, bl ^ bh) ^ p0 ^ p2
    return p0 ^ (p1 << _S32), p2 ^ (p1 >> _S32)


@njit
def gf128_mul_soft(a, b):
    """One GF(2^128) product without intrinsics, constant time (njit)."""
    l0, l1 = _clmul64_soft(a[0], b[0])
    h0, h1 = _clmul64_soft(a[1], b[1])
    m0, m1 = _clmul64_soft(a[0] ^ a[1], b[0] ^ b[1])
    m0 ^= l0 ^ h0
    m1 ^= l1 ^ h1
    return _fold(l0, l1 ^ m0, h0 ^ m1, h1)


if HAVE_PCLMUL:
    gf128_mul_block = gf128_mul_ni
else:
    gf128_mul_block = gf128_mul_soft


@njit(cache=True, nogil=True)
def _gf_mul_ni(a, b, out):
    for i in range(a.shape[0]):
        _st(out, i, gf128_mul_ni((a[i, 0], a[i, 1]), (b[i, 0], b[i, 1])))


@njit(cache=True, nogil=True)
def _gf_mul_soft(a, b, out):
    for i in range(a.shape[0]):
        _st(out, i, gf128_mul_soft((a[i, 0], a[i, 1]), (b[i, 0], b[i, 1])))


def gf128_mul(a, b, out=None, backend: str = "auto") -> np.ndarray:
    """Row-wise GF(2^128) products of two ``(n, 16)`` block arrays (same semantics as ``gf128.mul``)."""
    a = as_blocks(a, name="a")
    b = as_blocks(b, name="b")
    if a.shape != b.shape:
        raise ParameterError(f"operands differ in shape: {a.shape} vs {b.shape}")
    out = out_blocks(out, a.shape[0])
    av, bv, ov = a.view(np.uint64), b.view(np.uint64), out.view(np.uint64)
    if not use_native(backend, HAVE_PCLMUL):
        _gf_mul_soft(av, bv, ov)
        return out
    done = _gf_mul_vpclmul(av, bv, ov) if HAVE_VPCLMUL and backend in ("auto", "native") else 0
    _gf_mul_ni(av[done:], bv[done:], ov[done:])
    return out


# --------------------------------------------------------------------------
# VAES: the same bulk kernels two blocks per instruction (ymm), as IR



@njit(cache=True, nogil=True)
def _gf_dot_ni(a, b):
    acc = (np.uint64(0), np.uint64(0))
    for i in range(a.shape[0]):
        acc = bxor(acc, gf128_mul_ni((a[i, 0], a[i, 1]), (b[i, 0], b[i, 1])))
    return acc


@njit(cache=True, nogil=True)
def _gf_dot_soft(a, b):
    acc = (np.uint64(0), np.uint64(0))
    for i in range(a.shape[0]):
        acc = bxor(acc, gf128_mul_soft((a[i, 0], a[i, 1]), (b[i, 0], b[i, 1])))
    return acc


_U4 = types.UniTuple(types.uint64, 4)


@intrinsic
def _clmul_sum_ni(typingctx, a, b, start, stop, lanes):
    """``Σ a_i ⊗ b_i`` (carry-less, unreduced: 256 bits) over rows ``start … stop−1``, ``lanes`` rows per step.

    The whole loop is one piece of vector IR: per row only the four partial
    products are XORed into three accumulators; the middle term is shifted in
    and the lanes merged once at the end, so a sum of n products costs 4n
    carry-less multiplies and no reduction (the caller folds once).
    """
    if not (_u64_array(a) and _u64_array(b) and isinstance(start, types.Integer)
            and isinstance(stop, types.Integer) and isinstance(lanes, types.IntegerLiteral)):
        return None
    nl = lanes.literal_value
    if nl not in (1, 2):
        return None

    def codegen(context, builder, sig, args):
        i8 = ir.IntType(8)
        vty = _V2 if nl == 1 else ir.VectorType(ir.IntType(64), 4)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty, vty, i8]),
                                            "llvm.x86.pclmulqdq" if nl == 1 else "llvm.x86.pclmulqdq.256")
        intp = context.get_value_type(types.intp)
        lo_i = context.cast(builder, args[2], sig.args[2], types.intp)
        hi_i = context.cast(builder, args[3], sig.args[3], types.intp)
        arrs = [context.make_array(t)(context, builder, v) for t, v in zip(sig.args[:2], args[:2])]
        zero_i = ir.Constant(intp, 0)
        zero = ir.Constant(vty, None)
        accs = [cgutils.alloca_once_value(builder, zero) for _ in range(3)]
        steps = builder.sdiv(builder.sub(hi_i, lo_i), ir.Constant(intp, nl))
        with cgutils.for_range(builder, steps) as loop:
            row = builder.add(lo_i, builder.mul(loop.index, ir.Constant(intp, nl)))
            vs = []
            for k in range(2):
                p = cgutils.get_item_pointer(context, builder, sig.args[k], arrs[k], [row, zero_i])
                vs.append(builder.load(builder.bitcast(p, vty.as_pointer()), align=8))
            va, vb = vs

            def cl(imm):
                return builder.call(fn, [va, vb, ir.Constant(i8, imm)])

            for acc, term in zip(accs, (cl(0x00), cl(0x11), builder.xor(cl(0x10), cl(0x01)))):
                builder.store(builder.xor(builder.load(acc), term), acc)
        lo, hi, mid = (builder.load(acc) for acc in accs)
        words = []
        for ln in range(nl):
            def w(v, j, ln=ln):
                return builder.extract_element(v, ir.Constant(_I32, 2 * ln + j))
            words.append((w(lo, 0), builder.xor(w(lo, 1), w(mid, 0)),
                          builder.xor(w(hi, 0), w(mid, 1)), w(hi, 1)))
        out = ir.Constant(context.get_value_type(_U4), ir.Undefined)
        for j in range(4):
            x = words[0][j]
            for more in words[1:]:
                x = builder.xor(x, more[j])
            out = builder.insert_value(out, x, j)
        return out

    return _U4(a, b, types.intp, types.intp, lanes), codegen


@njit(cache=True, nogil=True)
def _gf_dot_wide_ni(a, b):
    n = a.shape[0]
    even = n - n % 2
    r = _clmul_sum_ni(a, b, 0, even, 2)
    t = _clmul_sum_ni(a, b, even, n, 1)
    return _fold(r[0] ^ t[0], r[1] ^ t[1], r[2] ^ t[2], r[3] ^ t[3])


@njit(cache=True, nogil=True)
def _gf_dot_wide_ni1(a, b):
    r = _clmul_sum_ni(a, b, 0, a.shape[0], 1)
    return _fold(r[0], r[1], r[2], r[3])


def fold_unreduced(words: np.ndarray) -> np.ndarray:
    """A 256-bit carry-less sum (four uint64 words, low first: what
    :func:`pqmpc.ot.ext.matrix_kernels.sender_tiles_zmm_check` accumulates) reduced to one
    ``(16,)`` block of GF(2^128)."""
    w = np.asarray(words, dtype=np.uint64)
    if w.shape != (4,):
        raise ParameterError(f"need the 4 words of an unreduced sum, got shape {w.shape}")
    return np.array(_fold(w[0], w[1], w[2], w[3]), dtype=np.uint64).view(np.uint8)


def gf128_dot_wide(a, b, backend: str = "auto") -> np.ndarray:
    """:func:`gf128_dot` with one reduction per call: the carry-less products are summed unreduced
    (reduction is GF(2)-linear) and folded once. Same result, about half the work per row."""
    a = as_blocks(a, name="a")
    b = as_blocks(b, name="b")
    if a.shape != b.shape:
        raise ParameterError(f"operands differ in shape: {a.shape} vs {b.shape}")
    av, bv = a.view(np.uint64), b.view(np.uint64)
    if not use_native(backend, HAVE_PCLMUL):
        acc = _gf_dot_soft(av, bv)
    elif HAVE_VPCLMUL and backend in ("auto", "native"):
        acc = _gf_dot_wide_ni(av, bv)
    else:
        acc = _gf_dot_wide_ni1(av, bv)
    return np.array(acc, dtype=np.uint64).view(np.uint8)


def gf128_dot(a, b, backend: str = "auto") -> np.ndarray:
    """``Σ_i a_i · b_i`` in GF(2^128) over two ``(n, 16)`` block arrays, as one ``(16,)`` block.

    The shape of KOS-style and Ferret consistency checks (random challenges
    times correlations, summed), without materialising the n products.
    """
    a = as_blocks(a, name="a")
    b = as_blocks(b, name="b")
    if a.shape != b.shape:
        raise ParameterError(f"operands differ in shape: {a.shape} vs {b.shape}")
    kern = _gf_dot_ni if use_native(backend, HAVE_PCLMUL) else _gf_dot_soft
    acc = kern(a.view(np.uint64), b.view(np.uint64))
    return np.array(acc, dtype=np.uint64).view(np.uint8)


def mul(a, b) -> np.ndarray:
    """Row-wise products of two ``(n, 16)`` block arrays (the widest kernel available)."""
    return gf128_mul(a, b)


def dot(a, b) -> np.ndarray:
    """``Σ_i a_i · b_i`` over the rows of two ``(n, 16)`` block arrays, as one ``(16,)`` block."""
    return gf128_dot(a, b)
