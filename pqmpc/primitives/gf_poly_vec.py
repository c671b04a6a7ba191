"""Vector kernels of :mod:`.gf_poly`: ``Σ_i P_i ⊗ rows_i`` (carry-less, unreduced) and ``⊕_{sel_i} P_i``
over one block of rows, ``P`` a table of challenges read from memory (L1) beside the rows.

GF(2^128): PCLMULQDQ on xmm, ymm or zmm (1, 2 or 4 blocks per register), Karatsuba (three
multiplies per register). GF(2^256): ymm or zmm (one or two 32-byte rows per
register; X = P0·r0 and Y = P1·r1 from the even and odd lanes of the same multiplies, the middle
products of two registers shared). Split from :mod:`.gf_poly` by size; only that module and the
fused matrix kernels (through it) call them. Reached only behind the CPU flags :mod:`.gf_poly` checks.

Both run at the carry-less multiplier's throughput (one VPCLMULQDQ per ~2 cycles at any width
on the Zen 4/5 measured: 12 per 16 rows at κ = 128, 36 at κ = 256; ``bench/check_cost.py --kernel``
within 3–10% of that), so fewer shuffles and XORs beside them buy little: storing the challenge
side's folds in the table (its Karatsuba fold, the GF(2^256) half fold and pair shuffle) could
save at most 0–3% (measured with those operations removed) for a table two to three times
larger, and was not done. What the receiver's pass lost was memory: hence the prefetch.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .llvm_ir import u64_array

__all__ = ["AHEAD_ROWS", "STEP_ROWS", "tab_dot128", "tab_dot256"]

_I32 = ir.IntType(32)
#: Rows per loop step of both kernels (16 independent multiply chains in flight at zmm/ymm).
STEP_ROWS = 16
#: Rows ahead of the current step whose cache lines each step asks for. The receiver's pass reads
#: every row from memory once, and the hardware prefetcher alone left the multiplies waiting on it
#: (0.72–0.81× the time per 2^20 rows with it at 256–1024 rows ahead; rows in cache: ≤ 0.5% slower).
#: Prefetching past the end of the rows is harmless: prefetches never fault.
AHEAD_ROWS = 512


def _args_ok(p, rows, sel, steps, pick, lanes, allowed):
    return (u64_array(p) and u64_array(rows) and isinstance(sel, types.Array) and sel.dtype == types.uint8
            and sel.ndim == 1 and isinstance(steps, types.Integer) and isinstance(pick, types.BooleanLiteral)
            and isinstance(lanes, types.IntegerLiteral) and lanes.literal_value in allowed)


def _setup(context, builder, sig, args):
    intp = context.get_value_type(types.intp)
    arrs = [context.make_array(sig.args[k])(context, builder, args[k]) for k in range(3)]
    steps_v = context.cast(builder, args[3], sig.args[3], types.intp)

    def ptr(k, row, vt, col=0):
        p = cgutils.get_item_pointer(context, builder, sig.args[k], arrs[k],
                                     [row] if k == 2 else [row, ir.Constant(intp, col)])
        return builder.bitcast(p, vt.as_pointer())

    return intp, steps_v, ptr


def _prefetch(builder, p, off, nbytes):
    """Read-prefetch ``nbytes`` at ``p + off`` (``p`` a pointer; one hint per 64-byte line). Integer
    arithmetic, not a GEP: the address may lie past the end of the array."""
    i8p, i32, i64 = ir.IntType(8).as_pointer(), ir.IntType(32), ir.IntType(64)
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                        "llvm.prefetch.p0i8")
    base = builder.ptrtoint(p, i64)
    for k in range(0, nbytes, 64):
        a = builder.inttoptr(builder.add(base, ir.Constant(i64, off + k)), i8p)
        builder.call(fn, [a, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])


def _mask(*m):
    return ir.Constant(ir.VectorType(_I32, len(m)), list(m))


def _sel_mask(builder, ptr, row, n, per, nw):
    """All-ones words where the row is selected (``n`` selector bytes in one load, no branch),
    each repeated over its row's ``per`` words."""
    i8, i64 = ir.IntType(8), ir.IntType(64)
    sb = builder.load(ptr(2, row, ir.VectorType(i8, n)), align=1)
    full = builder.sub(ir.Constant(ir.VectorType(i64, n), None), builder.zext(sb, ir.VectorType(i64, n)))
    return builder.shuffle_vector(full, full, _mask(*[j // per for j in range(nw)]))


@intrinsic
def tab_dot128(typingctx, p, rows, sel, steps, pick, lanes):
    """Rows ``0 … 16·steps − 1``: the unreduced ``Σ P_i ⊗ rows_i`` (four words) and ``⊕ sel_i·P_i``
    (two), ``lanes`` blocks per register (1: xmm, 2: ymm, 4: zmm)."""
    if not _args_ok(p, rows, sel, steps, pick, lanes, (1, 2, 4)):
        return None
    do_pick, nl = pick.literal_value, lanes.literal_value
    nreg = STEP_ROWS // nl
    u6 = types.UniTuple(types.uint64, 6)

    def codegen(context, builder, sig, args):
        i8 = ir.IntType(8)
        vt = ir.VectorType(ir.IntType(64), 2 * nl)
        intp, steps_v, ptr = _setup(context, builder, sig, args)
        fcl = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt, vt, i8]),
                                             "llvm.x86.pclmulqdq" + ("" if nl == 1 else f".{128 * nl}"))
        zero = ir.Constant(vt, None)
        swap = _mask(*[j ^ 1 for j in range(2 * nl)])
        accs = [cgutils.alloca_once_value(builder, zero) for _ in range(4)]
        with cgutils.for_range(builder, steps_v) as loop:
            row0 = builder.mul(loop.index, ir.Constant(intp, STEP_ROWS))
            _prefetch(builder, ptr(1, row0, i8), AHEAD_ROWS * 16, STEP_ROWS * 16)
            lo, hi, mid, pk = (builder.load(a) for a in accs)
            for q in range(nreg):
                row = builder.add(row0, ir.Constant(intp, nl * q))
                chi = builder.load(ptr(0, row, vt), align=8)
                rv = builder.load(ptr(1, row, vt), align=8)
                fa = builder.xor(chi, builder.shuffle_vector(chi, chi, swap))
                fb = builder.xor(rv, builder.shuffle_vector(rv, rv, swap))
                lo = builder.xor(lo, builder.call(fcl, [chi, rv, ir.Constant(i8, 0x00)]))
                hi = builder.xor(hi, builder.call(fcl, [chi, rv, ir.Constant(i8, 0x11)]))
                mid = builder.xor(mid, builder.call(fcl, [fa, fb, ir.Constant(i8, 0x00)]))
                if do_pick:
                    pk = builder.xor(pk, builder.and_(chi, _sel_mask(builder, ptr, row, nl, 2, 2 * nl)))
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
        out = ir.Constant(context.get_value_type(u6), ir.Undefined)
        for j, x in enumerate(words):
            out = builder.insert_value(out, x, j)
        return out

    return u6(p, rows, sel, types.intp, pick, lanes), codegen


@intrinsic
def tab_dot256(typingctx, p, rows, sel, steps, pick, lanes):
    """Rows ``0 … 16·steps − 1`` in GF(2^256): the 18 words of :func:`.gf256.finish`'s accumulator
    and the four of ``⊕ sel_i·P_i``, ``lanes`` 128-bit lanes per register (2: ymm, 4: zmm)."""
    if not _args_ok(p, rows, sel, steps, pick, lanes, (2, 4)):
        return None
    do_pick, nl = pick.literal_value, lanes.literal_value
    rpr = nl // 2  # rows per register
    nreg = STEP_ROWS // rpr
    nw = 2 * nl
    u22 = types.UniTuple(types.uint64, 22)

    def codegen(context, builder, sig, args):
        i8 = ir.IntType(8)
        vt = ir.VectorType(ir.IntType(64), nw)
        intp, steps_v, ptr = _setup(context, builder, sig, args)
        fcl = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt, vt, i8]),
                                             f"llvm.x86.pclmulqdq.{128 * nl}")
        zero = ir.Constant(vt, None)
        accs = [cgutils.alloca_once_value(builder, zero) for _ in range(7)]  # XY lo/hi/mm, Z lo/hi/mm, pick
        swap64 = _mask(*[j ^ 1 for j in range(nw)])
        swap128 = _mask(*[j ^ 2 for j in range(nw)])
        evens = [w for r in range(rpr) for w in (4 * r, 4 * r + 1)]
        pair = _mask(*(evens + [nw + w for w in evens]))

        def kara(va, vb):
            fa = builder.xor(va, builder.shuffle_vector(va, va, swap64))
            fb = builder.xor(vb, builder.shuffle_vector(vb, vb, swap64))
            return (builder.call(fcl, [va, vb, ir.Constant(i8, 0x00)]),
                    builder.call(fcl, [va, vb, ir.Constant(i8, 0x11)]),
                    builder.call(fcl, [fa, fb, ir.Constant(i8, 0x00)]))

        with cgutils.for_range(builder, steps_v) as loop:
            row0 = builder.mul(loop.index, ir.Constant(intp, STEP_ROWS))
            _prefetch(builder, ptr(1, row0, i8), AHEAD_ROWS * 32, STEP_ROWS * 32)
            xl, xh, xm, zl, zh, zm, pk = (builder.load(a) for a in accs)
            zpairs = []
            for q in range(nreg):
                row = builder.add(row0, ir.Constant(intp, rpr * q))
                chi = builder.load(ptr(0, row, vt), align=8)
                rv = builder.load(ptr(1, row, vt), align=8)
                lo, hi, mm = kara(chi, rv)
                xl, xh, xm = builder.xor(xl, lo), builder.xor(xh, hi), builder.xor(xm, mm)
                zpairs.append((builder.xor(chi, builder.shuffle_vector(chi, chi, swap128)),
                               builder.xor(rv, builder.shuffle_vector(rv, rv, swap128))))
                if do_pick:
                    pk = builder.xor(pk, builder.and_(chi, _sel_mask(builder, ptr, row, rpr, 4, nw)))
            for q in range(0, nreg, 2):
                (ca, ra), (cb, rb) = zpairs[q], zpairs[q + 1]
                lo, hi, mm = kara(builder.shuffle_vector(ca, cb, pair), builder.shuffle_vector(ra, rb, pair))
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

    return u22(p, rows, sel, types.intp, pick, lanes), codegen
