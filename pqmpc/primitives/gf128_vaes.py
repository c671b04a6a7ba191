"""The χ-and-multiply kernel of :func:`pqmpc.primitives.gf128.ctr_dot` on VAES + VPCLMULQDQ
(ymm, or zmm where AVX-512 is usable): ``Σ_j AES_k(ctr_j)·rows_j`` unreduced, χ never in memory.

Split from :mod:`.gf128` by size; only that module calls it.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .cpu import HAVE_VAES, HAVE_VPCLMUL
from .llvm_ir import u64_array as _u64_array

_V2 = ir.VectorType(ir.IntType(64), 2)
_I32 = ir.IntType(32)
_U6 = types.UniTuple(types.uint64, 6)

#: Vector registers of AES state per step. The AES rounds of one register are a dependent chain
#: (latency, not throughput, bounds it), so many independent chains must be in flight: 16 ymm
#: take 2^20 rows in ~1.4 ms against ~2.0 ms with 8 (AMD Zen 4, in cache).
CTR_DOT_YMM = 16
#: With AVX-512: zmm registers (four blocks each) per step.
CTR_DOT_ZMM = 8


def _have_avx512() -> bool:
    """AVX-512 F/BW/VL usable by numba's target and present on the CPU (with VAES and VPCLMULQDQ)."""
    from .cpu import host_and_target_have

    return HAVE_VAES and HAVE_VPCLMUL and host_and_target_have("avx512f", "avx512bw", "avx512vl")


#: 512-bit VAES and VPCLMULQDQ: four blocks per instruction.
HAVE_ZMM: bool = _have_avx512()


@intrinsic
def ctr_dot_vaes(typingctx, rk, start, rows, sel, steps, pick, lanes):
    """Rows ``0 … lanes·nreg·steps−1`` of :func:`ctr_dot` with VAES and VPCLMULQDQ, ``lanes`` blocks
    per register (2: ymm, 16 registers per step; 4: zmm, 8 registers).

    Per step: the counter registers through AES-128 (round keys broadcast to every lane),
    each χ register multiplied carry-less into the rows it weighs, products XORed into
    (lo, hi, mid) accumulators (Karatsuba: three multiplies per register); with ``pick`` the χ
    of selected rows (mask from ``sel``, no branch) into a fourth. Returns the unreduced
    sum ``(r0, r1, r2, r3)`` and ``(p0, p1)``."""
    if not (_u64_array(rk) and isinstance(start, types.Integer) and _u64_array(rows)
            and isinstance(sel, types.Array) and sel.dtype == types.uint8 and sel.ndim == 1
            and isinstance(steps, types.Integer) and isinstance(pick, types.BooleanLiteral)
            and isinstance(lanes, types.IntegerLiteral) and lanes.literal_value in (2, 4)):
        return None
    do_pick = pick.literal_value
    nl = lanes.literal_value
    nreg = CTR_DOT_YMM if nl == 2 else CTR_DOT_ZMM
    bits = 128 * nl

    def codegen(context, builder, sig, args):
        vt = ir.VectorType(ir.IntType(64), 2 * nl)
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
        for r in range(11):
            p = cgutils.get_item_pointer(context, builder, sig.args[0], rka, [c(r), c(0)])
            k2 = builder.load(builder.bitcast(p, _V2.as_pointer()), align=8)
            keys.append(builder.shuffle_vector(k2, undef2, mask(*([0, 1] * nl))))
        fenc = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt, vt]),
                                              f"llvm.x86.aesni.aesenc.{bits}")
        flast = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt, vt]),
                                               f"llvm.x86.aesni.aesenclast.{bits}")
        fcl = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt, vt, i8]),
                                             f"llvm.x86.pclmulqdq.{bits}")
        fbswap = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i64, [i64]), "llvm.bswap.i64")
        zero = ir.Constant(vt, None)
        sel_t, sel_w = ir.VectorType(i8, nl), ir.VectorType(i64, nl)
        swap = mask(*[j ^ 1 for j in range(2 * nl)])
        accs = [cgutils.alloca_once_value(builder, zero) for _ in range(4)]
        with cgutils.for_range(builder, steps_v) as loop:
            row0 = builder.mul(loop.index, c(nl * nreg))
            ctr0 = builder.add(start_v, builder.sext(row0, i64) if row0.type != i64 else row0)
            vs = []
            for q in range(nreg):
                v = zero
                for ln in range(nl):
                    cv = builder.add(ctr0, ir.Constant(i64, nl * q + ln))
                    v = builder.insert_element(v, builder.call(fbswap, [cv]), ir.Constant(_I32, 2 * ln + 1))
                vs.append(builder.xor(v, keys[0]))
            for r in range(1, 10):
                vs = [builder.call(fenc, [v, keys[r]]) for v in vs]
            vs = [builder.call(flast, [v, keys[10]]) for v in vs]
            lo, hi, mid, pk = (builder.load(a) for a in accs)
            for q, chi in enumerate(vs):
                rp = cgutils.get_item_pointer(context, builder, sig.args[2], ra, [builder.add(row0, c(nl * q)), c(0)])
                rv = builder.load(builder.bitcast(rp, vt.as_pointer()), align=8)

                def cl(imm, chi=chi, rv=rv):
                    return builder.call(fcl, [chi, rv, ir.Constant(i8, imm)])

                # Karatsuba: accumulate (a0⊕a1)(b0⊕b1); the middle term is that ⊕ lo ⊕ hi, summed at the end.
                fa = builder.xor(chi, builder.shuffle_vector(chi, chi, swap))
                fb = builder.xor(rv, builder.shuffle_vector(rv, rv, swap))
                lo = builder.xor(lo, cl(0x00))
                hi = builder.xor(hi, cl(0x11))
                mid = builder.xor(mid, builder.call(fcl, [fa, fb, ir.Constant(i8, 0x00)]))
                if do_pick:
                    # The register's nl selector bytes in one load, widened and negated as a vector
                    # (all ones where selected, no branch), each copied to its block's two words.
                    sp = cgutils.get_item_pointer(context, builder, sig.args[3], sa, [builder.add(row0, c(nl * q))])
                    sb = builder.load(builder.bitcast(sp, sel_t.as_pointer()), align=1)
                    full = builder.sub(ir.Constant(sel_w, None), builder.zext(sb, sel_w))
                    m = builder.shuffle_vector(full, full, mask(*[j // 2 for j in range(2 * nl)]))
                    pk = builder.xor(pk, builder.and_(chi, m))
            for a, v in zip(accs, (lo, hi, mid, pk)):
                builder.store(v, a)
        lo, hi, mid, pk = (builder.load(a) for a in accs)
        mid = builder.xor(mid, builder.xor(lo, hi))

        def w(v, j):  # word j of the sum over lanes
            x = builder.extract_element(v, ir.Constant(_I32, j))
            for ln in range(1, nl):
                x = builder.xor(x, builder.extract_element(v, ir.Constant(_I32, 2 * ln + j)))
            return x

        words = (w(lo, 0), builder.xor(w(lo, 1), w(mid, 0)), builder.xor(w(hi, 0), w(mid, 1)), w(hi, 1),
                 w(pk, 0), w(pk, 1))
        out = ir.Constant(context.get_value_type(_U6), ir.Undefined)
        for j, x in enumerate(words):
            out = builder.insert_value(out, x, j)
        return out

    return _U6(rk, start, rows, sel, steps, pick, lanes), codegen


__all__ = ["CTR_DOT_YMM", "CTR_DOT_ZMM", "HAVE_ZMM", "ctr_dot_vaes"]
