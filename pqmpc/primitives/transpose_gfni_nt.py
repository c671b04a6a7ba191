"""The GFNI band transpose of :mod:`.transpose_gfni` for 16-byte output rows, written to memory
with non-temporal stores: :func:`transpose128_stream`.

An extension receiver's 2^24 rows (256 MiB) are written once and not read again soon. The tile
kernels used to transpose each tile into a cache buffer and stream that buffer out (a second
pass over 64 KiB per tile, through L2). Here the last step of the band transpose regroups its
16-byte row pieces into whole 64-byte lines (four rows) in registers (a 4 × 4 transpose of
128-bit lanes, eight two-source shuffles per four registers) and stores each line once,
non-temporally. Same bytes as ``transpose_into``; callers check :data:`.transpose_gfni.HAVE_GFNI_ZMM`
and that the output is 64-byte aligned.
"""

from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from .llvm_ir import item_ptr
from .transpose_gfni import _B16, _B64, _I32, _Q8, HAVE_GFNI_ZMM, _u8c, emit_bit_blocks
from .transpose_kernels import emit_lane_transpose

__all__ = ["transpose128_stream"]



def _lanes(sel):
    """Byte shuffle mask picking 128-bit lanes ``sel`` (0–3 first source, 4–7 second)."""
    return ir.Constant(ir.VectorType(_I32, 64), [16 * ln + i for ln in sel for i in range(16)])


def _make_band(s):
    """The band intrinsic for outputs whose 64-byte lines start at band row ``s`` (0–3): rows before
    ``s`` and after the last whole line get ordinary 16-byte stores (they share lines with the
    neighbouring bands, which are written by other calls)."""

    @intrinsic
    def band(typingctx, mat, j0, out, orow, scratch):
        """mat[0 : 128, j0 : j0+64] → out[orow : orow+512, 0 : 16] (out has 16-byte rows) with
        non-temporal stores; ``scratch`` (128, 64) u8."""
        if not (_u8c(mat) and _u8c(out) and _u8c(scratch)):
            return None
        if not all(isinstance(a, types.Integer) for a in (j0, orow)):
            return None
        sig = types.void(mat, j0, out, orow, scratch)

        def codegen(context, builder, signature, args):
            _codegen_band(context, builder, signature, args, s)
            return context.get_dummy_value()

        return sig, codegen

    return band


def _codegen_band(context, builder, signature, args, s):
    intp = context.get_value_type(types.intp)
    mty, oty, sty = signature.args[0], signature.args[2], signature.args[4]
    ma = context.make_array(mty)(context, builder, args[0])
    oa = context.make_array(oty)(context, builder, args[2])
    sa = context.make_array(sty)(context, builder, args[4])
    j0_v, orow_v = (context.cast(builder, args[i], signature.args[i], types.intp) for i in (1, 3))

    def c(v):
        return ir.Constant(intp, v)

    def ptr(aty, arr, row, col, vt):
        return item_ptr(context, builder, aty, arr, [row, col], vt)

    nt = builder.module.add_metadata([ir.Constant(_I32, 1)])
    emit_bit_blocks(builder, lambda row: ptr(mty, ma, c(row), j0_v, _Q8), lambda row: ptr(sty, sa, c(row), c(0), _B64))

    def store_line(row, val):
        st = builder.store(val, ptr(oty, oa, builder.add(orow_v, c(row)), c(0), _B64), align=64)
        st.set_metadata("nontemporal", nt)

    def store_piece(row, reg, ln):
        piece = builder.shuffle_vector(reg, ir.Constant(_B64, ir.Undefined),
                                       ir.Constant(ir.VectorType(_I32, 16), list(range(16 * ln, 16 * ln + 16))))
        builder.store(piece, ptr(oty, oa, builder.add(orow_v, c(row)), c(0), _B16), align=1)

    pair_lo, pair_hi = _lanes([0, 4, 1, 5]), _lanes([2, 6, 3, 7])
    halves_lo, halves_hi = _lanes([0, 1, 4, 5]), _lanes([2, 3, 6, 7])
    pending = []  # (row, register, lane) of row pieces not yet stored, in row order
    for q in range(8):
        v = emit_lane_transpose(builder, [builder.load(ptr(sty, sa, c(16 * q + g), c(0), _B64), align=1)
                                          for g in range(16)])
        # lane ln of v[m] is row 64q + 16ln + m
        if s == 0:
            # lines are rows 64q + 16ln + 4p .. + 3 = lane ln of v[4p .. 4p+3]: a 4 × 4 lane transpose
            for p in range(4):
                a, b, cc, d = v[4 * p:4 * p + 4]
                ab0, ab1 = builder.shuffle_vector(a, b, pair_lo), builder.shuffle_vector(a, b, pair_hi)
                cd0, cd1 = builder.shuffle_vector(cc, d, pair_lo), builder.shuffle_vector(cc, d, pair_hi)
                lines = (builder.shuffle_vector(ab0, cd0, halves_lo), builder.shuffle_vector(ab0, cd0, halves_hi),
                         builder.shuffle_vector(ab1, cd1, halves_lo), builder.shuffle_vector(ab1, cd1, halves_hi))
                for ln in range(4):
                    store_line(64 * q + 16 * ln + 4 * p, lines[ln])
            continue
        pending += [(64 * q + 16 * ln + m, v[m], ln) for ln in range(4) for m in range(16)]
        while pending and pending[0][0] < s:  # the band's head shares a line with the previous band
            row, reg, ln = pending.pop(0)
            store_piece(row, reg, ln)
        while len(pending) >= 4:
            (row, a, la), (_, b, lb), (_, cc, lc), (_, d, ld) = pending[:4]
            del pending[:4]
            x = builder.shuffle_vector(a, b, _lanes([la, 4 + lb, la, 4 + lb]))
            y = builder.shuffle_vector(cc, d, _lanes([lc, 4 + ld, lc, 4 + ld]))
            store_line(row, builder.shuffle_vector(x, y, halves_lo))
    for row, reg, ln in pending:  # the tail shares a line with the next band
        store_piece(row, reg, ln)


_band0, _band1, _band2, _band3 = (_make_band(s) for s in range(4))


@intrinsic
def _fence(typingctx):
    sig = types.void()

    def codegen(context, builder, signature, args):
        builder.fence("seq_cst")
        return context.get_dummy_value()

    return sig, codegen


if HAVE_GFNI_ZMM:
    @njit(cache=True, nogil=True)
    def transpose128_stream(mat, out, scratch):
        """``transpose_into(mat, out)`` for ``mat`` (128, 64·j) u8 and ``out`` (512·j, 16) u8 whose
        first byte is 16-byte aligned, with non-temporal stores of whole lines and a closing fence;
        ``scratch`` (128, 64) u8. Only where :data:`.transpose_gfni.HAVE_GFNI_ZMM` holds."""
        s = (4 - out.ctypes.data % 64 // 16) % 4  # the first row that starts a 64-byte line
        for j0 in range(0, mat.shape[1], 64):
            if s == 0:
                _band0(mat, j0, out, 8 * j0, scratch)
            elif s == 1:
                _band1(mat, j0, out, 8 * j0, scratch)
            elif s == 2:
                _band2(mat, j0, out, 8 * j0, scratch)
            else:
                _band3(mat, j0, out, 8 * j0, scratch)
        _fence()
