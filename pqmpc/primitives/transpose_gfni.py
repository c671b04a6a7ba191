"""Bit-matrix transpose of 128-row bands with AVX-512 VBMI and GFNI: :func:`transpose128_into`.

The same function as :func:`.transpose_kernels.transpose_into` (``out[c, r // 8]`` bit ``r % 8`` =
``mat[r, c // 8]`` bit ``c % 8``) for matrices of 128·m rows and 64·j bytes per row, with
fewer instructions per bit where the CPU has 512-bit GFNI: per 128 rows × 64 bytes,

1. each group of 8 rows is loaded as 8 zmm registers (64 bytes of a row each) and an 8 × 8
   transpose of 64-bit words (three rounds of two-source shuffles) leaves, per register,
   the same 8 bytes of all 8 rows;
2. one byte permutation (``vpermb``) puts byte b of the 8 rows into word b, rows in reverse
   order, so that each word is an 8 × 8 bit matrix that one ``gf2p8affineqb`` against the
   constant bytes ``1, 2, 4, …, 128`` transposes: byte ``8b + k`` is then the output byte
   of column bit ``8(8q + b) + k`` for those 8 rows;
3. the 16 groups' results (16 registers per word column, in a 8 KiB scratch) go through a
   16 × 16 byte transpose inside each 128-bit lane (four rounds of byte unpacks), after which
   every lane is one 16-byte piece of an output row.

About a third of the instructions of the byte-interleave kernel. Generic LLVM IR except the
GFNI intrinsic; callers check :data:`HAVE_GFNI_ZMM`.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .llvm_ir import item_ptr
from .transpose_kernels import emit_lane_transpose, transpose_into

__all__ = ["HAVE_GFNI_ZMM", "emit_bit_blocks", "emit_lane_transpose", "transpose128_into", "transpose128_kernel"]

_I8 = ir.IntType(8)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_B64 = ir.VectorType(_I8, 64)
_Q8 = ir.VectorType(_I64, 8)
_B16 = ir.VectorType(_I8, 16)


def _have_gfni_zmm() -> bool:
    """512-bit GFNI, VBMI and AVX-512 BW usable by numba's target and present on the CPU."""
    from .cpu import host_and_target_have

    return host_and_target_have("avx512f", "avx512bw", "avx512vl", "avx512vbmi", "gfni")


#: whether :func:`transpose128_into` runs the GFNI kernel here (else it is ``transpose_into``)
HAVE_GFNI_ZMM: bool = _have_gfni_zmm()


def _qword_network():
    """The three rounds of the 8 × 8 word transpose as (a, b, mask, out) steps, and, per word column
    q, the register holding it with the row order of its words (simulated on labels)."""
    regs = {t: [(t, q) for q in range(8)] for t in range(8)}
    steps = []
    names = {t: ("z", t) for t in range(8)}
    rounds = [(4, [0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15]),
              (2, [0, 1, 8, 9, 4, 5, 12, 13], [2, 3, 10, 11, 6, 7, 14, 15]),
              (1, [0, 8, 2, 10, 4, 12, 6, 14], [1, 9, 3, 11, 5, 13, 7, 15])]
    for rnd, (d, lo, hi) in enumerate(rounds):
        new, new_names = {}, {}
        for t in range(8):
            if t & d:
                continue
            a, b = regs[t], regs[t + d]
            new[t] = [(a + b)[i] for i in lo]
            new[t + d] = [(a + b)[i] for i in hi]
            new_names[t], new_names[t + d] = ("r", rnd, t), ("r", rnd, t + d)
            steps.append((names[t], names[t + d], lo, new_names[t]))
            steps.append((names[t], names[t + d], hi, new_names[t + d]))
        regs, names = new, new_names
    where = {}
    for t, labels in regs.items():
        qs = {q for _, q in labels}
        assert len(qs) == 1, labels
        where[qs.pop()] = (names[t], [r for r, _ in labels])
    return steps, where


_STEPS, _WHERE = _qword_network()


def emit_bit_blocks(builder, src, dst) -> None:
    """Steps 1 and 2 of the band transpose, emitted into ``builder``: for each group of 8 of the
    band's 128 rows, the 8 × 8 word transpose, the byte permutation and the 8 × 8 bit transposes
    (``gf2p8affineqb``), stored as 128 scratch rows of 64 bytes. ``src(row)`` is the ``<8 x i64>*``
    of the band's row ``row`` (0–127), ``dst(row)`` the ``<64 x i8>*`` of scratch row ``row``."""
    gf = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_B64, [_B64, _B64, _I8]),
                                        "llvm.x86.vgf2p8affineqb.512")
    unit = ir.Constant(_B64, [1 << (i % 8) for i in range(64)])
    for g in range(16):
        vals = {("z", t): builder.load(src(8 * g + t), align=1) for t in range(8)}
        for a, b, mask, out in _STEPS:
            vals[out] = builder.shuffle_vector(vals[a], vals[b], ir.Constant(ir.VectorType(_I32, 8), mask))
        for q in range(8):
            name, order = _WHERE[q]
            idx = [0] * 64
            for pos, t in enumerate(order):  # word ``pos`` holds row ``t``
                for b in range(8):
                    idx[8 * b + 7 - t] = 8 * pos + b
            w = builder.bitcast(vals[name], _B64)
            perm = builder.shuffle_vector(w, ir.Constant(_B64, ir.Undefined), ir.Constant(ir.VectorType(_I32, 64), idx))
            builder.store(builder.call(gf, [unit, perm, ir.Constant(_I8, 0)]), dst(16 * q + g), align=1)


def _u8c(t):
    return isinstance(t, types.Array) and t.dtype == types.uint8 and t.ndim == 2 and t.layout == "C"


@intrinsic
def _band(typingctx, mat, r0, j0, out, orow, obyte, scratch):
    """mat[r0 : r0+128, j0 : j0+64] → out[orow : orow+512, obyte : obyte+16]; ``scratch`` (128, 64) u8."""
    if not (_u8c(mat) and _u8c(out) and _u8c(scratch)):
        return None
    if not all(isinstance(a, types.Integer) for a in (r0, j0, orow, obyte)):
        return None
    sig = types.void(mat, r0, j0, out, orow, obyte, scratch)

    def codegen(context, builder, signature, args):
        intp = context.get_value_type(types.intp)
        mty, oty, sty = signature.args[0], signature.args[3], signature.args[6]
        ma = context.make_array(mty)(context, builder, args[0])
        oa = context.make_array(oty)(context, builder, args[3])
        sa = context.make_array(sty)(context, builder, args[6])
        r0_v, j0_v, orow_v, ob_v = (context.cast(builder, args[i], signature.args[i], types.intp) for i in (1, 2, 4, 5))

        def c(v):
            return ir.Constant(intp, v)

        def ptr(aty, arr, row, col, vt):
            return item_ptr(context, builder, aty, arr, [row, col], vt)

        # 1. + 2.: per group of 8 rows, the word transpose, the byte permutation and the bit transposes
        emit_bit_blocks(builder, lambda row: ptr(mty, ma, builder.add(r0_v, c(row)), j0_v, _Q8),
                        lambda row: ptr(sty, sa, c(row), c(0), _B64))
        # 3.: per word column, a 16 × 16 byte transpose in every 128-bit lane, then 16-byte stores
        for q in range(8):
            v = emit_lane_transpose(builder, [builder.load(ptr(sty, sa, c(16 * q + g), c(0), _B64), align=1)
                                              for g in range(16)])
            for m in range(16):
                for ln in range(4):
                    lane = ir.Constant(ir.VectorType(_I32, 16), list(range(16 * ln, 16 * ln + 16)))
                    piece = builder.shuffle_vector(v[m], ir.Constant(_B64, ir.Undefined), lane)
                    row = builder.add(orow_v, c(64 * q + 16 * ln + m))
                    builder.store(piece, ptr(oty, oa, row, ob_v, _B16), align=1)
        return context.get_dummy_value()

    return sig, codegen


if HAVE_GFNI_ZMM:
    # njit-callable (the VOLE row kernels transpose their tiles with it): 128·m rows, 64·j bytes each
    @njit(cache=True, nogil=True)
    def transpose128_kernel(mat, out, scratch):
        rows, cb = mat.shape
        for j0 in range(0, cb, 64):
            for rb in range(0, rows, 128):
                _band(mat, rb, j0, out, 8 * j0, rb // 8, scratch)


@njit(cache=True, nogil=True)
def _fallback(mat, out):
    transpose_into(mat, out)


def transpose128_into(mat: np.ndarray, out: np.ndarray, scratch: np.ndarray | None = None) -> None:
    """``transpose_into(mat, out)``; the GFNI kernel when ``mat`` has 128·m rows and 64·j bytes per row
    (``scratch``: an optional (128, 64) uint8 buffer)."""
    rows, cb = mat.shape
    if HAVE_GFNI_ZMM and rows % 128 == 0 and cb % 64 == 0 and rows and cb:
        transpose128_kernel(mat, out, np.empty((128, 64), np.uint8) if scratch is None else scratch)
    else:
        _fallback(mat, out)
