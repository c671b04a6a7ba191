"""Bit-matrix transpose kernels (numba): :func:`transpose_into` (njit, nogil) behind ``bits.transpose``.

Public so that njit code (the OT-extension matrix core) can call
:func:`transpose_into` on its own buffers without the Python wrapper.

The fast path works on 16 rows x 16 bytes (128 columns) at a time:

1. four rounds of byte interleaving (a perfect shuffle, ``shufflevector``)
   turn the 16 row vectors into 16 column vectors, vector ``b`` holding byte
   ``b`` of every row;
2. the sign mask of such a vector (``icmp slt 0`` bit-cast to ``i16`` =
   ``pmovmskb``) is bit 7 of each of the 16 bytes, i.e. one packed 16-bit
   piece of an output row in little-endian bit order; doubling the vector
   (``v + v``) brings the next bit into the sign position.

All of it is generic LLVM IR (no target intrinsic), so it compiles for any
target numba supports; edges that do not fill a 16 x 16 tile go through an
8 x 8 delta-swap kernel in plain numba.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["emit_lane_transpose", "transpose_into"]

_I8 = ir.IntType(8)
_I16 = ir.IntType(16)
_I32 = ir.IntType(32)
_V16 = ir.VectorType(_I8, 16)


def _interleave(half: int, lanes: int):
    """Byte interleave of two ``<16·lanes x i8>`` registers within each 128-bit lane: the low
    (``half`` 0) or high (1) eight bytes of each lane of the first, alternating with the second's."""
    n = 16 * lanes
    return ir.Constant(ir.VectorType(_I32, n), [x for ln in range(lanes) for i in range(8 * half, 8 * half + 8)
                                                for x in (16 * ln + i, n + 16 * ln + i)])


def emit_lane_transpose(builder, regs: list) -> list:
    """The 16 × 16 byte transpose in every 128-bit lane of 16 ``<16·lanes x i8>`` registers (four
    rounds of byte interleaves): afterwards byte ``i`` of lane ``ln`` of result ``m`` is byte ``m``
    of lane ``ln`` of input ``i``. Used on xmm-sized vectors here and on zmm by the GFNI transposes."""
    lanes = regs[0].type.count // 16
    lo, hi = _interleave(0, lanes), _interleave(1, lanes)
    v = regs
    for _ in range(4):
        w = []
        for k in range(8):
            w.append(builder.shuffle_vector(v[k], v[k + 8], lo))
            w.append(builder.shuffle_vector(v[k], v[k + 8], hi))
        v = w
    return v


def _ptr(context, builder, aryty, ary, row, col):
    arr = context.make_array(aryty)(context, builder, ary)
    return cgutils.get_item_pointer(context, builder, aryty, arr, [row, col])


def _u8c(t):
    return isinstance(t, types.Array) and t.dtype == types.uint8 and t.ndim == 2 and t.layout == "C"


def _make_tile(nrows):
    """Intrinsic: mat[r0 : r0+nrows, j0 : j0+16] (nrows x 128 bits) -> out[orow : orow+128, obyte : obyte+nrows/8].

    Each 16-row group goes through the byte-interleave network; with 32 or
    64 rows the groups' column vectors are joined into 32/64-byte vectors, so
    one sign mask gives 32/64 output bits (``vpmovmskb`` on AVX2,
    ``vpmovb2m`` on AVX-512; LLVM splits the ops where those are missing).
    """
    groups = nrows // 16
    ity = ir.IntType(nrows)
    vty = ir.VectorType(_I8, nrows)

    @intrinsic
    def _tile(typingctx, mat, r0, j0, out, orow, obyte):
        if not (_u8c(mat) and _u8c(out) and out.mutable):
            return None
        if not all(isinstance(a, types.Integer) for a in (r0, j0, orow, obyte)):
            return None
        sig = types.void(mat, types.intp, types.intp, out, types.intp, types.intp)

        def codegen(context, builder, signature, args):
            mat_v, r0_v, j0_v, out_v, c0, ob = args
            mty, oty = signature.args[0], signature.args[3]
            intp = context.get_value_type(types.intp)
            cols = []
            for g in range(groups):
                v = []
                for k in range(16):
                    r = builder.add(r0_v, ir.Constant(intp, 16 * g + k))
                    p = _ptr(context, builder, mty, mat_v, r, j0_v)
                    v.append(builder.load(builder.bitcast(p, _V16.as_pointer()), align=1))
                cols.append(emit_lane_transpose(builder, v))
            while len(cols) > 1:
                # join neighbouring groups: 16 -> 32 -> 64 bytes per column vector
                width = 2 * cols[0][0].type.count
                cat = ir.Constant(ir.VectorType(_I32, width), list(range(width)))
                cols = [[builder.shuffle_vector(a[b], c[b], cat) for b in range(16)]
                        for a, c in zip(cols[0::2], cols[1::2])]
            cols = cols[0]
            zero = ir.Constant(vty, None)
            for b in range(16):
                col = cols[b]
                for bit in range(7, -1, -1):
                    m = builder.bitcast(builder.icmp_signed("<", col, zero), ity)
                    c = builder.add(c0, ir.Constant(intp, 8 * b + bit))
                    p = _ptr(context, builder, oty, out_v, c, ob)
                    builder.store(m, builder.bitcast(p, ity.as_pointer()), align=1)
                    if bit:
                        col = builder.add(col, col)
            return context.get_dummy_value()

        return sig, codegen

    return _tile


_tile16 = _make_tile(16)
_tile32 = _make_tile(32)
_tile64 = _make_tile(64)


@intrinsic
def _stage64(typingctx, mat, r0, j0, st):
    """st[k, :] = mat[r0 + k, j0 : j0 + 64] for k < 64, as 16-byte moves.

    Rows of a wide matrix lie a power-of-two stride apart, so the 64 rows a
    tile reads all fall into the same L1 set and evict each other before the
    next 16 bytes of each line are used; copying whole 64-byte lines into a
    4 KiB buffer first reads each line once (1.3-1.5x faster in cache).
    """
    if not (_u8c(mat) and _u8c(st) and st.mutable) or not all(isinstance(a, types.Integer) for a in (r0, j0)):
        return None
    sig = types.void(mat, types.intp, types.intp, st)

    def codegen(context, builder, signature, args):
        m_v, r_v, j_v, s_v = args
        intp = context.get_value_type(types.intp)
        # A real loop, not 64 unrolled copies: same speed, a fraction of the compile time.
        with cgutils.for_range(builder, ir.Constant(intp, 64)) as loop:
            k = loop.index
            r = builder.add(r_v, k)
            for q in range(4):
                p = _ptr(context, builder, signature.args[0], m_v, r, builder.add(j_v, ir.Constant(intp, 16 * q)))
                v = builder.load(builder.bitcast(p, _V16.as_pointer()), align=1)
                d = _ptr(context, builder, signature.args[3], s_v, k, ir.Constant(intp, 16 * q))
                builder.store(v, builder.bitcast(d, _V16.as_pointer()), align=1)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _flush128(typingctx, scratch, out, orow, obyte):
    """out[orow + c, obyte : obyte + 16] = scratch[c, :] for c < 128, as 16-byte moves."""
    ints = all(isinstance(a, types.Integer) for a in (orow, obyte))
    if not (_u8c(scratch) and _u8c(out) and out.mutable) or not ints:
        return None
    sig = types.void(scratch, out, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        s_v, o_v, r_v, b_v = args
        intp = context.get_value_type(types.intp)
        zero = ir.Constant(intp, 0)
        # Unrolled on purpose: as a loop, tall 2^20 x 256 transposes ran ~40% slower.
        for c in range(128):
            ci = ir.Constant(intp, c)
            v = builder.load(builder.bitcast(_ptr(context, builder, signature.args[0], s_v, ci, zero),
                                             _V16.as_pointer()), align=1)
            p = _ptr(context, builder, signature.args[1], o_v, builder.add(r_v, ci), b_v)
            builder.store(v, builder.bitcast(p, _V16.as_pointer()), align=1)
        return context.get_dummy_value()

    return sig, codegen


@njit(inline="always")
def _t8x8(x):
    # Delta swaps on an 8x8 bit block: bit 8*i + j holds (row i, column j).
    t = (x ^ (x >> np.uint64(7))) & np.uint64(0x00AA00AA00AA00AA)
    x = x ^ t ^ (t << np.uint64(7))
    t = (x ^ (x >> np.uint64(14))) & np.uint64(0x0000CCCC0000CCCC)
    x = x ^ t ^ (t << np.uint64(14))
    t = (x ^ (x >> np.uint64(28))) & np.uint64(0x00000000F0F0F0F0)
    return x ^ t ^ (t << np.uint64(28))


@njit
def _edge8(mat, out, r_lo, r_hi, j_lo, j_hi):
    for r8 in range(r_lo // 8, r_hi // 8):
        for j in range(j_lo, j_hi):
            x = np.uint64(0)
            for i in range(8):
                x |= np.uint64(mat[8 * r8 + i, j]) << np.uint64(8 * i)
            x = _t8x8(x)
            for k in range(8):
                out[8 * j + k, r8] = np.uint8((x >> np.uint64(8 * k)) & np.uint64(0xFF))


@njit(cache=True, nogil=True)
def transpose_into(mat, out):
    """``out[c, r // 8]`` bit ``r % 8`` = ``mat[r, c // 8]`` bit ``c % 8``; ``mat.shape[0] % 8 == 0``.

    njit-callable: ``mat`` is ``(rows, cb)`` and ``out`` ``(8 * cb, rows // 8)``, both C-contiguous uint8.
    """
    rows, cb = mat.shape
    r16 = rows - rows % 16
    j16 = cb - cb % 16
    # Tall inputs: output rows lie rows/8 bytes apart, so the 2-byte pieces of
    # one tile land on 128 different pages; collecting 128-row bands in a
    # 2 KiB scratch and moving 16 bytes per output row keeps the TLB quiet
    # (4x faster at 2^20 x 128). Short inputs write one compact region anyway
    # and the extra copy would only cost (measured crossover ~1-2k rows).
    r128 = rows - rows % 128 if rows > 1536 else 0
    scratch = np.empty((128, 16), dtype=np.uint8)
    r64 = rows - rows % 64
    r32 = rows - rows % 32
    # Short, wide inputs: 64 x 64-byte blocks staged through a small buffer
    # (1.5x in cache, 1.4x at 256 x 2^20), except large 128-row matrices,
    # which stream ~20% faster without the copy (measured here).
    staged = r128 == 0 and (rows >= 192 or rows * cb <= 1 << 22)
    j64 = cb - cb % 64 if staged else 0
    stage = np.empty((64, 64), dtype=np.uint8)
    for j0 in range(0, j64, 64):
        for r0 in range(0, r64, 64):
            _stage64(mat, r0, j0, stage)
            for q in range(4):
                _tile64(stage, 0, 16 * q, out, 8 * (j0 + 16 * q), r0 // 8)
    for j0 in range(0, j16, 16):
        for rb in range(0, r128, 128):
            _tile64(mat, rb, j0, scratch, 0, 0)
            _tile64(mat, rb + 64, j0, scratch, 0, 8)
            _flush128(scratch, out, 8 * j0, rb // 8)
        r0 = r128 if j0 >= j64 else r64
        while r0 < r64:
            _tile64(mat, r0, j0, out, 8 * j0, r0 // 8)
            r0 += 64
        if r0 < r32:
            _tile32(mat, r0, j0, out, 8 * j0, r0 // 8)
            r0 += 32
        if r0 < r16:
            _tile16(mat, r0, j0, out, 8 * j0, r0 // 8)
    if r16 < rows:
        _edge8(mat, out, r16, rows, 0, cb)
    if j16 < cb:
        _edge8(mat, out, 0, r16, j16, cb)
