"""Generated, unrolled bulk AES kernels (ECB, CR/CCR, TCCR, GGM, wide TCCR) as straight-line LLVM IR.

Generated code: each ``*_step`` below is an LLVM IR template instantiated per
kind (ecb, cr, ccr, tccr, ggm), round count (10: AES-128, 14: AES-256) and
width (8 xmm with AES-NI, 8 ymm = 16 blocks with VAES), and the loops call
them over whole arrays. Writing a step in IR (not numba tuples) keeps rounds
straight-line, in registers, and cold compiles short. This is the one
module allowed past ~600 lines' worth of concept, by being only that.

Nothing here is public API: use :func:`.aes_kernels.ecb_encrypt`,
:mod:`.hashing`, :mod:`.ggm`. The ``*_loop`` functions are compiled only
behind :data:`.cpu.HAVE_AESNI` / :data:`.cpu.HAVE_VAES` (a separate function per
width, so a CPU without VAES never compiles a ymm AES instruction).

TCCR tweaks: an ``(n,)`` uint64 tweak array ``tw`` gives the tweak block
``(tw[i], tag)`` (low word the counter, high word the protocol tag, see
:mod:`.hashing`); an ``(n, 2)`` array gives the block itself (tag 0).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .llvm_ir import emit_expand256, item_ptr, u64_array

__all__ = ["GGM_OFFSET", "cr_ni_loop", "cr_vaes_loop", "ecb_ni_loop", "ecb_vaes_loop", "ggm_ni_loop",
           "ggm_vaes_loop", "tccr_ni_loop", "tccr_vaes_loop", "tccr_wide_ni_loop", "tccr_wide_vaes_loop",
           "tccr_wide_zmm_loop"]

#: The public offset of a GGM right child: the block 0x01 00 .. 00 (bit 0 set).
GGM_OFFSET = (np.uint64(1), np.uint64(0))

_V2 = ir.VectorType(ir.IntType(64), 2)
_Y4 = ir.VectorType(ir.IntType(64), 4)
_I32 = ir.IntType(32)


def _tweak_vec(builder, w, tag, lanes):
    """``<tw, tag>`` per lane from a loaded tweak word (lanes=1) or word pair (lanes=2)."""
    tv = builder.insert_element(ir.Constant(_V2, ir.Undefined), tag, ir.Constant(_I32, 0))
    tv = builder.insert_element(tv, tag, ir.Constant(_I32, 1))
    if lanes == 1:
        return builder.insert_element(tv, w, ir.Constant(_I32, 0))
    # w = [tw_r, tw_r+1] -> [tw_r, tag, tw_r+1, tag]
    return builder.shuffle_vector(w, tv, ir.Constant(ir.VectorType(_I32, 4), [0, 2, 1, 3]))


def _aes_step_intrinsic(kind, rounds, lanes, nvec):
    """One unrolled step of a bulk kernel, as LLVM IR: ``nvec`` independent registers of state.

    ``kind``: ecb, cr, ccr, tccr or ggm; ``rounds``: 10 (AES-128) or 14
    (AES-256); ``lanes``: 1 (xmm, AES-NI: ``nvec`` blocks per step) or 2 (ymm,
    VAES: ``2 * nvec`` blocks). Rows ``i ..`` of the ``(n, 2)`` uint64 views are
    read and written; for ggm, ``i`` counts parents and a parent takes two
    block slots (left, right). Round keys come from the ``(rounds + 1, 2)``
    array; VAES broadcasts each to both lanes. Writing the step in IR (not
    numba tuples) keeps rounds straight-line and cold compiles short.
    """
    vty = _V2 if lanes == 1 else _Y4
    suffix = "" if lanes == 1 else ".256"

    @intrinsic
    def _step(typingctx, rk, x, tw, out, i, tag):
        if not (u64_array(rk) and u64_array(x) and u64_array(out) and out.mutable
                and isinstance(i, types.Integer) and isinstance(tag, types.Integer)):
            return None
        if not (u64_array(tw, 1) or u64_array(tw, 2)):
            return None

        def codegen(context, builder, sig, args):
            rk_v, x_v, tw_v, out_v, i_v, tag_v = args
            rkty, xty, twty, oty = sig.args[:4]
            intp = context.get_value_type(types.intp)
            i_v = context.cast(builder, i_v, sig.args[4], types.intp)
            tag_v = context.cast(builder, tag_v, sig.args[5], types.uint64)
            ra = context.make_array(rkty)(context, builder, rk_v)
            xa = context.make_array(xty)(context, builder, x_v)
            oa = context.make_array(oty)(context, builder, out_v)
            ta = context.make_array(twty)(context, builder, tw_v)

            def c(v):
                return ir.Constant(intp, v)

            def ptr(ary, aty, row, vt):
                return item_ptr(context, builder, aty, ary, [row] if aty.ndim == 1 else [row, c(0)], vt)

            def mask(*m):
                return ir.Constant(ir.VectorType(_I32, len(m)), list(m))

            def per_lane(pattern):
                # a one-lane (two-word) shuffle pattern repeated per lane; None = word 0 of the zero operand
                z = 2 * lanes
                return mask(*[z if q is None else q + 2 * ln for ln in range(lanes) for q in pattern])

            undef2 = ir.Constant(_V2, ir.Undefined)
            zero = ir.Constant(vty, None)

            def bcast(v2):
                return v2 if lanes == 1 else builder.shuffle_vector(v2, undef2, mask(0, 1, 0, 1))

            keys = [bcast(builder.load(ptr(ra, rkty, c(r), _V2), align=8)) for r in range(rounds + 1)]
            fenc = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty, vty]),
                                                  "llvm.x86.aesni.aesenc" + suffix)
            flast = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty, vty]),
                                                   "llvm.x86.aesni.aesenclast" + suffix)

            def encrypt(vs, k0=None):
                vs = [builder.xor(v, keys[0] if k0 is None else k0) for v in vs]
                for r in range(1, rounds):
                    vs = [builder.call(fenc, [v, keys[r]]) for v in vs]
                return [builder.call(flast, [v, keys[rounds]]) for v in vs]

            def row(j):
                return builder.add(i_v, c(j))

            if kind == "ggm":
                cc = ir.Constant(_V2, [int(GGM_OFFSET[0]), int(GGM_OFFSET[1])])
                ins = []
                if lanes == 1:
                    # parent p -> slots (s, s ^ c) -> child rows 2(i+p), 2(i+p)+1
                    for q in range(nvec // 2):
                        sv = builder.load(ptr(xa, xty, row(q), _V2), align=8)
                        ins += [sv, builder.xor(sv, cc)]
                else:
                    # ymm q = [s_q, s_q ^ c]: both children of parent q in one register
                    ccy = ir.Constant(_Y4, [0, 0, int(GGM_OFFSET[0]), int(GGM_OFFSET[1])])
                    for q in range(nvec):
                        sv = builder.load(ptr(xa, xty, row(q), _V2), align=8)
                        ins.append(builder.xor(bcast(sv), ccy))
                ys = [builder.xor(y, s_) for y, s_ in zip(encrypt(ins), ins)]
                base = builder.mul(i_v, c(2))
                for q, y in enumerate(ys):
                    builder.store(y, ptr(oa, oty, builder.add(base, c(lanes * q)), vty), align=8)
                return context.get_dummy_value()

            ins = [builder.load(ptr(xa, xty, row(lanes * j), vty), align=8) for j in range(nvec)]
            if kind == "ecb":
                ys = encrypt(ins)
            elif kind in ("cr", "ccr"):
                if kind == "ccr":
                    # σ(xL‖xR) = (xL⊕xR)‖xL per 128-bit lane: (w1, w0^w1).
                    ins = [builder.xor(builder.shuffle_vector(v, zero, per_lane([1, 0])),
                                       builder.shuffle_vector(v, zero, per_lane([None, 1]))) for v in ins]
                ys = [builder.xor(y, s_) for y, s_ in zip(encrypt(ins), ins)]
            else:
                ps = encrypt(ins)
                tws = []
                for j in range(nvec):
                    if twty.ndim == 2:
                        tws.append(builder.load(ptr(ta, twty, row(lanes * j), vty), align=8))
                    elif lanes == 1:
                        w = builder.load(cgutils.get_item_pointer(context, builder, twty, ta, [row(j)]))
                        tws.append(builder.insert_element(ir.Constant(_V2, None), w, ir.Constant(_I32, 0)))
                    else:
                        t2 = builder.load(ptr(ta, twty, row(2 * j), _V2), align=8)
                        tws.append(builder.shuffle_vector(t2, ir.Constant(_V2, None), mask(0, 2, 1, 2)))
                # The tag (word 1 of every integer tweak) is folded into the whitening key of the
                # second encryption: π(p ⊕ (i, tag)) starts with p ⊕ (i, 0) ⊕ (k0 ⊕ (0, tag)),
                # so it costs one XOR per step instead of one per block.
                tagv = builder.insert_element(ir.Constant(_V2, None), tag_v, ir.Constant(_I32, 1))
                ys = encrypt([builder.xor(p_, t_) for p_, t_ in zip(ps, tws)], builder.xor(keys[0], bcast(tagv)))
                ys = [builder.xor(y, p_) for y, p_ in zip(ys, ps)]
            for j in range(nvec):
                builder.store(ys[j], ptr(oa, oty, row(lanes * j), vty), align=8)
            return context.get_dummy_value()

        return types.void(rk, x, tw, out, types.intp, types.uint64), codegen

    return _step


_KINDS = ("ecb", "cr", "ccr", "tccr", "ggm")
# Step shapes: VAES 8 ymm = 16 blocks; AES-NI 8 xmm = 8 blocks; single-block tails (ggm: one parent = 2 slots).
_SY = {(k, r): _aes_step_intrinsic(k, r, 2, 8) for k in _KINDS for r in (10, 14)}
_SX = {(k, r): _aes_step_intrinsic(k, r, 1, 8) for k in _KINDS for r in (10, 14)}
_S1 = {(k, r): _aes_step_intrinsic(k, r, 1, 2 if k == "ggm" else 1) for k in _KINDS for r in (10, 14)}
_y_ecb10, _y_ecb14, _x_ecb10, _x_ecb14 = _SY["ecb", 10], _SY["ecb", 14], _SX["ecb", 10], _SX["ecb", 14]
_y_cr10, _y_cr14, _x_cr10, _x_cr14 = _SY["cr", 10], _SY["cr", 14], _SX["cr", 10], _SX["cr", 14]
_y_ccr10, _y_ccr14, _x_ccr10, _x_ccr14 = _SY["ccr", 10], _SY["ccr", 14], _SX["ccr", 10], _SX["ccr", 14]
_y_tccr10, _y_tccr14, _x_tccr10, _x_tccr14 = _SY["tccr", 10], _SY["tccr", 14], _SX["tccr", 10], _SX["tccr", 14]
_y_ggm10, _y_ggm14, _x_ggm10, _x_ggm14 = _SY["ggm", 10], _SY["ggm", 14], _SX["ggm", 10], _SX["ggm", 14]
_1_ecb10, _1_ecb14, _1_cr10, _1_cr14 = _S1["ecb", 10], _S1["ecb", 14], _S1["cr", 10], _S1["cr", 14]
_1_ccr10, _1_ccr14, _1_tccr10, _1_tccr14 = _S1["ccr", 10], _S1["ccr", 14], _S1["tccr", 10], _S1["tccr", 14]
_1_ggm10, _1_ggm14 = _S1["ggm", 10], _S1["ggm", 14]


# The bulk loops. ``*_vaes`` do whole 16-block steps and return how far they
# got; ``*_ni`` finish (or do everything, without VAES) with 8-block steps and
# single blocks. They are separate functions so that a CPU without VAES never
# compiles a ymm AES instruction.

_ZERO = np.uint64(0)


@njit(cache=True, nogil=True)
def ecb_vaes_loop(rk, x, out):
    stop = x.shape[0] - x.shape[0] % 16
    for i in range(0, stop, 16):
        if rk.shape[0] == 11:
            _y_ecb10(rk, x, x, out, i, _ZERO)
        else:
            _y_ecb14(rk, x, x, out, i, _ZERO)
    return stop


@njit(cache=True, nogil=True)
def ecb_ni_loop(rk, x, out):
    n = x.shape[0]
    i = 0
    while i + 8 <= n:
        if rk.shape[0] == 11:
            _x_ecb10(rk, x, x, out, i, _ZERO)
        else:
            _x_ecb14(rk, x, x, out, i, _ZERO)
        i += 8
    while i < n:
        if rk.shape[0] == 11:
            _1_ecb10(rk, x, x, out, i, _ZERO)
        else:
            _1_ecb14(rk, x, x, out, i, _ZERO)
        i += 1


@njit(cache=True, nogil=True)
def cr_vaes_loop(rk, x, out, sig):
    stop = x.shape[0] - x.shape[0] % 16
    for i in range(0, stop, 16):
        if rk.shape[0] == 11:
            if sig:
                _y_ccr10(rk, x, x, out, i, _ZERO)
            else:
                _y_cr10(rk, x, x, out, i, _ZERO)
        else:
            if sig:
                _y_ccr14(rk, x, x, out, i, _ZERO)
            else:
                _y_cr14(rk, x, x, out, i, _ZERO)
    return stop


@njit(cache=True, nogil=True)
def cr_ni_loop(rk, x, out, sig):
    n = x.shape[0]
    i = 0
    while i + 8 <= n:
        if rk.shape[0] == 11:
            if sig:
                _x_ccr10(rk, x, x, out, i, _ZERO)
            else:
                _x_cr10(rk, x, x, out, i, _ZERO)
        else:
            if sig:
                _x_ccr14(rk, x, x, out, i, _ZERO)
            else:
                _x_cr14(rk, x, x, out, i, _ZERO)
        i += 8
    while i < n:
        if rk.shape[0] == 11:
            if sig:
                _1_ccr10(rk, x, x, out, i, _ZERO)
            else:
                _1_cr10(rk, x, x, out, i, _ZERO)
        else:
            if sig:
                _1_ccr14(rk, x, x, out, i, _ZERO)
            else:
                _1_cr14(rk, x, x, out, i, _ZERO)
        i += 1


@njit(cache=True, nogil=True)
def tccr_vaes_loop(rk, x, tw, out, tag):
    stop = x.shape[0] - x.shape[0] % 16
    for i in range(0, stop, 16):
        if rk.shape[0] == 11:
            _y_tccr10(rk, x, tw, out, i, tag)
        else:
            _y_tccr14(rk, x, tw, out, i, tag)
    return stop


@njit(cache=True, nogil=True)
def tccr_ni_loop(rk, x, tw, out, tag):
    n = x.shape[0]
    i = 0
    while i + 8 <= n:
        if rk.shape[0] == 11:
            _x_tccr10(rk, x, tw, out, i, tag)
        else:
            _x_tccr14(rk, x, tw, out, i, tag)
        i += 8
    while i < n:
        if rk.shape[0] == 11:
            _1_tccr10(rk, x, tw, out, i, tag)
        else:
            _1_tccr14(rk, x, tw, out, i, tag)
        i += 1


@njit(cache=True, nogil=True)
def ggm_vaes_loop(rk, s, out):
    stop = s.shape[0] - s.shape[0] % 8
    for j in range(0, stop, 8):
        if rk.shape[0] == 11:
            _y_ggm10(rk, s, s, out, j, _ZERO)
        else:
            _y_ggm14(rk, s, s, out, j, _ZERO)
    return stop


@njit(cache=True, nogil=True)
def ggm_ni_loop(rk, s, out):
    m = s.shape[0]
    j = 0
    while j + 4 <= m:
        if rk.shape[0] == 11:
            _x_ggm10(rk, s, s, out, j, _ZERO)
        else:
            _x_ggm14(rk, s, s, out, j, _ZERO)
        j += 4
    while j < m:
        if rk.shape[0] == 11:
            _1_ggm10(rk, s, s, out, j, _ZERO)
        else:
            _1_ggm14(rk, s, s, out, j, _ZERO)
        j += 1


def _wide_rows_intrinsic(rows):
    """``rows`` consecutive rows of the wide hash starting at ``i``, as one piece of IR.

    Key schedules and the 2 * rows encryptions are interleaved step by step so
    the independent chains overlap; building it in IR (instead of nested
    tuples of 15 round keys) also keeps numba's compile time low.
    """

    @intrinsic
    def _rows(typingctx, x, tw, out, i, tag):
        if not (u64_array(x) and u64_array(out) and out.mutable and isinstance(i, types.Integer)
                and isinstance(tag, types.Integer)):
            return None
        if not (u64_array(tw, 1) or u64_array(tw, 2)):
            return None

        def codegen(context, builder, sig, args):
            x_v, tw_v, out_v, i_v, tag_v = args
            tag_v = context.cast(builder, tag_v, sig.args[4], types.uint64)
            xty, twty = sig.args[0], sig.args[1]
            intp = context.get_value_type(types.intp)
            xa = context.make_array(xty)(context, builder, x_v)
            oa = context.make_array(sig.args[2])(context, builder, out_v)
            ta = context.make_array(twty)(context, builder, tw_v)
            i_v = context.cast(builder, i_v, sig.args[3], types.intp)

            def vptr(ary, aty, row, col):
                p = cgutils.get_item_pointer(context, builder, aty, ary, [row, ir.Constant(intp, col)])
                return builder.bitcast(p, _V2.as_pointer())

            keys, tws = [], []
            for j in range(rows):
                r = builder.add(i_v, ir.Constant(intp, j))
                keys.append((builder.load(vptr(xa, xty, r, 0), align=8), builder.load(vptr(xa, xty, r, 2), align=8)))
                if twty.ndim == 1:
                    w = builder.load(cgutils.get_item_pointer(context, builder, twty, ta, [r]))
                    t = _tweak_vec(builder, w, tag_v, 1)
                else:
                    t = builder.load(vptr(ta, twty, r, 0), align=8)
                tws.append(t)
            enc = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_V2, [_V2, _V2]),
                                                 "llvm.x86.aesni.aesenc")
            last = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_V2, [_V2, _V2]),
                                                  "llvm.x86.aesni.aesenclast")
            top = ir.Constant(_V2, [0, 1 << 63])
            state = [[t, builder.or_(t, top)] for t in tws]

            def on_key(j, r, k):
                if r == 0:
                    state[j] = [builder.xor(b, k) for b in state[j]]
                else:
                    fn = enc if r < 14 else last
                    state[j] = [builder.call(fn, [b, k]) for b in state[j]]

            emit_expand256(context, builder, keys, on_key)
            for j in range(rows):
                r = builder.add(i_v, ir.Constant(intp, j))
                builder.store(state[j][0], vptr(oa, sig.args[2], r, 0), align=8)
                builder.store(state[j][1], vptr(oa, sig.args[2], r, 2), align=8)
            return context.get_dummy_value()

        return types.void(x, tw, out, types.intp, types.uint64), codegen

    return _rows



def _wide_rows_vaes_intrinsic(rows):
    """Like ``_wide_rows_intrinsic`` with rows taken in pairs, one per 128-bit lane of a ymm register.

    Both the key schedules and the cipher run two rows per instruction, and
    each pair's round key is already laid out lane by lane, so nothing has
    to be broadcast.
    """
    assert rows % 2 == 0

    @intrinsic
    def _rows(typingctx, x, tw, out, i, tag):
        if not (u64_array(x) and u64_array(out) and out.mutable and isinstance(i, types.Integer)
                and isinstance(tag, types.Integer)):
            return None
        if not (u64_array(tw, 1) or u64_array(tw, 2)):
            return None

        def codegen(context, builder, sig, args):
            x_v, tw_v, out_v, i_v, tag_v = args
            tag_v = context.cast(builder, tag_v, sig.args[4], types.uint64)
            xty, twty = sig.args[0], sig.args[1]
            intp = context.get_value_type(types.intp)
            y4 = ir.VectorType(ir.IntType(64), 4)
            xa = context.make_array(xty)(context, builder, x_v)
            oa = context.make_array(sig.args[2])(context, builder, out_v)
            ta = context.make_array(twty)(context, builder, tw_v)
            i_v = context.cast(builder, i_v, sig.args[3], types.intp)

            def mask(*m):
                return ir.Constant(ir.VectorType(_I32, len(m)), list(m))

            def ptr(ary, aty, idx, vt):
                return item_ptr(context, builder, aty, ary, idx, vt)

            keys, tws = [], []
            zero = ir.Constant(intp, 0)
            for j in range(0, rows, 2):
                r0 = builder.add(i_v, ir.Constant(intp, j))
                r1 = builder.add(i_v, ir.Constant(intp, j + 1))
                a = builder.load(ptr(xa, xty, [r0, zero], y4), align=8)  # [lo_j, hi_j]
                b = builder.load(ptr(xa, xty, [r1, zero], y4), align=8)  # [lo_j+1, hi_j+1]
                keys.append((builder.shuffle_vector(a, b, mask(0, 1, 4, 5)),
                             builder.shuffle_vector(a, b, mask(2, 3, 6, 7))))
                if twty.ndim == 1:
                    t2 = builder.load(ptr(ta, twty, [r0], _V2), align=8)
                    tws.append(_tweak_vec(builder, t2, tag_v, 2))
                else:
                    tws.append(builder.load(ptr(ta, twty, [r0, zero], y4), align=8))
            enc = cgutils.get_or_insert_function(builder.module, ir.FunctionType(y4, [y4, y4]),
                                                 "llvm.x86.aesni.aesenc.256")
            last = cgutils.get_or_insert_function(builder.module, ir.FunctionType(y4, [y4, y4]),
                                                  "llvm.x86.aesni.aesenclast.256")
            top = ir.Constant(y4, [0, 1 << 63, 0, 1 << 63])
            state = [[t, builder.or_(t, top)] for t in tws]

            def on_key(j, r, k):
                if r == 0:
                    state[j] = [builder.xor(b, k) for b in state[j]]
                else:
                    fn = enc if r < 14 else last
                    state[j] = [builder.call(fn, [b, k]) for b in state[j]]

            emit_expand256(context, builder, keys, on_key, lanes=2)
            for j in range(0, rows, 2):
                s0, s1 = state[j // 2]
                r0 = builder.add(i_v, ir.Constant(intp, j))
                r1 = builder.add(i_v, ir.Constant(intp, j + 1))
                builder.store(builder.shuffle_vector(s0, s1, mask(0, 1, 4, 5)),
                              ptr(oa, sig.args[2], [r0, zero], y4), align=8)
                builder.store(builder.shuffle_vector(s0, s1, mask(2, 3, 6, 7)),
                              ptr(oa, sig.args[2], [r1, zero], y4), align=8)
            return context.get_dummy_value()

        return types.void(x, tw, out, types.intp, types.uint64), codegen

    return _rows


def _wide_rows_zmm_intrinsic(rows):
    """Like ``_wide_rows_vaes_intrinsic`` with rows taken four at a time, one per 128-bit lane of a
    zmm register (AVX-512 VAES): half the shuffles, XORs and AES instructions of the ymm form."""
    assert rows % 4 == 0
    z8 = ir.VectorType(ir.IntType(64), 8)

    @intrinsic
    def _rows(typingctx, x, tw, out, i, tag):
        if not (u64_array(x) and u64_array(out) and out.mutable and isinstance(i, types.Integer)
                and isinstance(tag, types.Integer)):
            return None
        if not (u64_array(tw, 1) or u64_array(tw, 2)):
            return None

        def codegen(context, builder, sig, args):
            x_v, tw_v, out_v, i_v, tag_v = args
            tag_v = context.cast(builder, tag_v, sig.args[4], types.uint64)
            xty, twty, oty = sig.args[0], sig.args[1], sig.args[2]
            intp = context.get_value_type(types.intp)
            xa = context.make_array(xty)(context, builder, x_v)
            oa = context.make_array(oty)(context, builder, out_v)
            ta = context.make_array(twty)(context, builder, tw_v)
            i_v = context.cast(builder, i_v, sig.args[3], types.intp)

            def mask(*m):
                return ir.Constant(ir.VectorType(_I32, len(m)), list(m))

            def ptr(ary, aty, idx, vt):
                return item_ptr(context, builder, aty, ary, idx, vt)

            zero = ir.Constant(intp, 0)
            tagv = builder.insert_element(ir.Constant(_Y4, ir.Undefined), tag_v, ir.Constant(_I32, 0))
            keys, tws, at = [], [], []
            for j in range(0, rows, 4):
                r0 = builder.add(i_v, ir.Constant(intp, j))
                r2 = builder.add(i_v, ir.Constant(intp, j + 2))
                at.append((r0, r2))
                a = builder.load(ptr(xa, xty, [r0, zero], z8), align=8)  # rows j, j+1: [lo, hi, lo, hi]
                b = builder.load(ptr(xa, xty, [r2, zero], z8), align=8)  # rows j+2, j+3
                keys.append((builder.shuffle_vector(a, b, mask(0, 1, 4, 5, 8, 9, 12, 13)),
                             builder.shuffle_vector(a, b, mask(2, 3, 6, 7, 10, 11, 14, 15))))
                if twty.ndim == 1:  # [tw_r .. tw_r+3] -> [tw_r, tag, tw_r+1, tag, ...]
                    w4 = builder.load(ptr(ta, twty, [r0], _Y4), align=8)
                    tws.append(builder.shuffle_vector(w4, tagv, mask(0, 4, 1, 4, 2, 4, 3, 4)))
                else:
                    tws.append(builder.load(ptr(ta, twty, [r0, zero], z8), align=8))
            enc = cgutils.get_or_insert_function(builder.module, ir.FunctionType(z8, [z8, z8]),
                                                 "llvm.x86.aesni.aesenc.512")
            last = cgutils.get_or_insert_function(builder.module, ir.FunctionType(z8, [z8, z8]),
                                                  "llvm.x86.aesni.aesenclast.512")
            top = ir.Constant(z8, [0, 1 << 63] * 4)
            state = [[t, builder.or_(t, top)] for t in tws]

            def on_key(j, r, k):
                if r == 0:
                    state[j] = [builder.xor(b, k) for b in state[j]]
                else:
                    fn = enc if r < 14 else last
                    state[j] = [builder.call(fn, [b, k]) for b in state[j]]

            emit_expand256(context, builder, keys, on_key, lanes=4)
            for (r0, r2), (s0, s1) in zip(at, state):
                builder.store(builder.shuffle_vector(s0, s1, mask(0, 1, 8, 9, 2, 3, 10, 11)),
                              ptr(oa, oty, [r0, zero], z8), align=8)
                builder.store(builder.shuffle_vector(s0, s1, mask(4, 5, 12, 13, 6, 7, 14, 15)),
                              ptr(oa, oty, [r2, zero], z8), align=8)
            return context.get_dummy_value()

        return types.void(x, tw, out, types.intp, types.uint64), codegen

    return _rows


# 16 rows (four zmm key schedules, eight cipher chains) per step: 1.9x the ymm form's
# rows per second on Zen 4 at 2^20 rows (8 rows: 1.5x, 12: 1.8x; 20 and 24 no better).
_wide16_zmm = _wide_rows_zmm_intrinsic(16)
_wide8_vaes = _wide_rows_vaes_intrinsic(8)
_wide8_ni = _wide_rows_intrinsic(8)
_wide1_ni = _wide_rows_intrinsic(1)


@njit(cache=True, nogil=True)
def tccr_wide_vaes_loop(x, tw, out, tag):
    stop = x.shape[0] - x.shape[0] % 8
    for i in range(0, stop, 8):
        _wide8_vaes(x, tw, out, i, tag)
    return stop


@njit(cache=True, nogil=True)
def tccr_wide_zmm_loop(x, tw, out, tag):
    """The wide hash of rows ``0 .. stop-1`` (whole 16-row steps) on zmm VAES; returns ``stop``.
    Callers check AVX-512 (:data:`.cpu.HAVE_ZMM`) and VAES."""
    stop = x.shape[0] - x.shape[0] % 16
    for i in range(0, stop, 16):
        _wide16_zmm(x, tw, out, i, tag)
    return stop


@njit(cache=True, nogil=True)
def tccr_wide_ni_loop(x, tw, out, tag):
    n = x.shape[0]
    i = 0
    while i + 8 <= n:
        _wide8_ni(x, tw, out, i, tag)
        i += 8
    while i < n:
        _wide1_ni(x, tw, out, i, tag)
        i += 1
