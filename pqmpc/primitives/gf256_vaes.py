"""The χ-and-multiply kernel of :func:`pqmpc.primitives.gf256.ctr_dot` on VAES + VPCLMULQDQ (ymm, or
zmm where AVX-512 is usable). Split from :mod:`.gf256` by size; only that module calls it.

Each 32-byte χ is two consecutive counter blocks through AES-256, in two adjacent 128-bit lanes; a
ymm register holds one χ (one row), a zmm two (two consecutive rows, whose counters are consecutive
too). Per row the Karatsuba products X = χ0·r0 and Y = χ1·r1 come out of the even and odd lanes of
the same three VPCLMULQDQ; the middle products Z = (χ0⊕χ1)(r0⊕r1) of two registers share three more.
All summed unreduced.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .llvm_ir import u64_array

__all__ = ["VSTEP", "ctr_dot_vaes"]

_V2 = ir.VectorType(ir.IntType(64), 2)
_I32 = ir.IntType(32)

#: χ (rows) per step: 16 ymm (or 8 zmm) of AES-256 state. Each register's rounds are a dependent
#: chain, so 8 ymm left the AES units idle (2^20 rows 8.0 -> 4.3 ms with 16 ymm on AMD Zen 4).
VSTEP = 16


@intrinsic
def ctr_dot_vaes(typingctx, rk, start, rows, sel, steps, pick, lanes):
    """Rows ``0 … VSTEP·steps − 1`` of :func:`.gf256.ctr_dot`, ``lanes`` blocks per register (2: ymm,
    4: zmm). Returns the 18 words of :func:`.gf256.finish`'s accumulator followed by the four words
    of ``⊕ sel_j·χ_j``."""
    if not (u64_array(rk) and isinstance(start, types.Integer) and u64_array(rows)
            and isinstance(sel, types.Array) and sel.dtype == types.uint8 and sel.ndim == 1
            and isinstance(steps, types.Integer) and isinstance(pick, types.BooleanLiteral)
            and isinstance(lanes, types.IntegerLiteral) and lanes.literal_value in (2, 4)):
        return None
    do_pick = pick.literal_value
    nl = lanes.literal_value
    rpr = nl // 2  # rows (χ) per register
    nreg = VSTEP // rpr
    nw = 2 * nl  # words per register
    u22 = types.UniTuple(types.uint64, 22)

    def codegen(context, builder, sig, args):
        vt = ir.VectorType(ir.IntType(64), nw)
        i8, i64 = ir.IntType(8), ir.IntType(64)
        intp = context.get_value_type(types.intp)
        rka = context.make_array(sig.args[0])(context, builder, args[0])
        ra = context.make_array(sig.args[2])(context, builder, args[2])
        sa = context.make_array(sig.args[3])(context, builder, args[3])
        start_v = context.cast(builder, args[1], sig.args[1], types.int64)
        steps_v = context.cast(builder, args[4], sig.args[4], types.intp)

        def c(v):
            return ir.Constant(intp, v)

        def mask(*m):
            return ir.Constant(ir.VectorType(_I32, len(m)), list(m))

        undef2 = ir.Constant(_V2, ir.Undefined)
        keys = []
        for r in range(15):
            p = cgutils.get_item_pointer(context, builder, sig.args[0], rka, [c(r), c(0)])
            k2 = builder.load(builder.bitcast(p, _V2.as_pointer()), align=8)
            keys.append(builder.shuffle_vector(k2, undef2, mask(*([0, 1] * nl))))
        bits = 128 * nl
        fenc = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt, vt]),
                                              f"llvm.x86.aesni.aesenc.{bits}")
        flast = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt, vt]),
                                               f"llvm.x86.aesni.aesenclast.{bits}")
        fcl = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt, vt, i8]),
                                             f"llvm.x86.pclmulqdq.{bits}")
        fbswap = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i64, [i64]), "llvm.bswap.i64")
        zero = ir.Constant(vt, None)
        sel_t, sel_w = ir.VectorType(i8, rpr), ir.VectorType(i64, rpr)
        accs = [cgutils.alloca_once_value(builder, zero) for _ in range(7)]  # XY lo/hi/mm, Z lo/hi/mm, pick
        swap64 = mask(*[j ^ 1 for j in range(nw)])
        swap128 = mask(*[j ^ 2 for j in range(nw)])
        # the even 128-bit lanes (each row's χ0⊕χ1, r0⊕r1) of two registers, side by side
        evens = [w for r in range(rpr) for w in (4 * r, 4 * r + 1)]
        pair = mask(*(evens + [nw + w for w in evens]))

        def kara(va, vb):
            fa = builder.xor(va, builder.shuffle_vector(va, va, swap64))
            fb = builder.xor(vb, builder.shuffle_vector(vb, vb, swap64))
            return (builder.call(fcl, [va, vb, ir.Constant(i8, 0x00)]),
                    builder.call(fcl, [va, vb, ir.Constant(i8, 0x11)]),
                    builder.call(fcl, [fa, fb, ir.Constant(i8, 0x00)]))

        with cgutils.for_range(builder, steps_v) as loop:
            row0 = builder.mul(loop.index, c(VSTEP))
            ctr0 = builder.mul(builder.add(start_v, builder.sext(row0, i64) if row0.type != i64 else row0),
                               ir.Constant(i64, 2))
            vs = []
            for q in range(nreg):
                v = zero
                for ln in range(nl):
                    cv = builder.add(ctr0, ir.Constant(i64, nl * q + ln))
                    v = builder.insert_element(v, builder.call(fbswap, [cv]), ir.Constant(_I32, 2 * ln + 1))
                vs.append(builder.xor(v, keys[0]))
            for r in range(1, 14):
                vs = [builder.call(fenc, [v, keys[r]]) for v in vs]
            vs = [builder.call(flast, [v, keys[14]]) for v in vs]
            xl, xh, xm, zl, zh, zm, pk = (builder.load(a) for a in accs)
            zpairs = []
            for q, chi in enumerate(vs):
                rp = cgutils.get_item_pointer(context, builder, sig.args[2], ra,
                                              [builder.add(row0, c(rpr * q)), c(0)])
                rv = builder.load(builder.bitcast(rp, vt.as_pointer()), align=8)
                lo, hi, mm = kara(chi, rv)
                xl, xh, xm = builder.xor(xl, lo), builder.xor(xh, hi), builder.xor(xm, mm)
                zpairs.append((builder.xor(chi, builder.shuffle_vector(chi, chi, swap128)),
                               builder.xor(rv, builder.shuffle_vector(rv, rv, swap128))))
                if do_pick:
                    # The register's rpr selector bytes in one load, widened and negated as a vector
                    # (all ones where selected, no branch), each copied to its χ's four words.
                    sp = cgutils.get_item_pointer(context, builder, sig.args[3], sa, [builder.add(row0, c(rpr * q))])
                    sb = builder.load(builder.bitcast(sp, sel_t.as_pointer()), align=1)
                    full = builder.sub(ir.Constant(sel_w, None), builder.zext(sb, sel_w))
                    m = builder.shuffle_vector(full, full, mask(*[j // 4 for j in range(nw)]))
                    pk = builder.xor(pk, builder.and_(chi, m))
            for q in range(0, nreg, 2):
                (ca, ra_), (cb_, rb) = zpairs[q], zpairs[q + 1]
                lo, hi, mm = kara(builder.shuffle_vector(ca, cb_, pair), builder.shuffle_vector(ra_, rb, pair))
                zl, zh, zm = builder.xor(zl, lo), builder.xor(zh, hi), builder.xor(zm, mm)
            for a, v in zip(accs, (xl, xh, xm, zl, zh, zm, pk)):
                builder.store(v, a)
        xl, xh, xm, zl, zh, zm, pk = (builder.load(a) for a in accs)

        def e(v, j):
            return builder.extract_element(v, ir.Constant(_I32, j))

        def rsum(v, j):  # word j of every row's 4-word group, summed over the rows of a register
            x = e(v, j)
            for r in range(1, rpr):
                x = builder.xor(x, e(v, 4 * r + j))
            return x

        def zsum(v, j):  # word j of every 128-bit lane, summed
            x = e(v, j)
            for ln in range(1, nl):
                x = builder.xor(x, e(v, 2 * ln + j))
            return x

        words = [rsum(xl, 0), rsum(xl, 1), rsum(xh, 0), rsum(xh, 1), rsum(xm, 0), rsum(xm, 1),
                 rsum(xl, 2), rsum(xl, 3), rsum(xh, 2), rsum(xh, 3), rsum(xm, 2), rsum(xm, 3),
                 zsum(zl, 0), zsum(zl, 1), zsum(zh, 0), zsum(zh, 1), zsum(zm, 0), zsum(zm, 1),
                 rsum(pk, 0), rsum(pk, 1), rsum(pk, 2), rsum(pk, 3)]
        out = ir.Constant(context.get_value_type(u22), ir.Undefined)
        for j, x in enumerate(words):
            out = builder.insert_value(out, x, j)
        return out

    return u22(rk, start, rows, sel, steps, pick, lanes), codegen
