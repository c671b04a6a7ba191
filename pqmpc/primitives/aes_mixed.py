"""VAES steps that encrypt 16 counter blocks and mix them with other rows in registers.

For njit kernels that run many AES-128 streams over short tiles (the OT-extension matrix,
:mod:`pqmpc.ot.ext.matrix_kernels`): the result goes to memory once, already masked,
instead of being stored, reloaded and XORed by scalar code, which cost as much as the AES
itself. Generated as straight-line LLVM IR like :mod:`.aes_unrolled`; VAES only (callers
check :data:`.cpu.HAVE_VAES`). Blocks are ``(n, 2)`` uint64 rows; round keys ``(11, 2)``
(AES-128), or ``(15, 2)`` for the ``256`` twins (AES-256: the κ = 256 matrix); the ``_z``
twins run on zmm registers (AVX-512 VAES).

* :func:`ctr_mask_xor16` ``(rk, ctr, i, a, arow, m, out)``:
  ``out[i+r] = E_rk(ctr[i+r]) ⊕ (a[arow+r] ∧ m)`` for ``r < 16`` (``m`` a uint64 mask
  applied to both words);
* :func:`ctr_pair16` ``(rk0, rk1, ctr, i, code, crow, t, u, urow)``:
  ``t[i+r] = E_rk0(ctr[i+r])``, ``u[urow+r] = E_rk1(ctr[i+r]) ⊕ t[i+r] ⊕ code[crow+r]``.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .llvm_ir import u64_array

__all__ = ["ctr_mask_xor16", "ctr_mask_xor16_256", "ctr_mask_xor16_z", "ctr_mask_xor16_z256", "ctr_pair16",
           "ctr_pair16_256", "ctr_pair16_z", "ctr_pair16_z256"]

_V2 = ir.VectorType(ir.IntType(64), 2)
_Y4 = ir.VectorType(ir.IntType(64), 4)
_I32 = ir.IntType(32)
_BLOCKS = 16  # blocks per step: 8 ymm registers of two blocks, or 4 zmm registers of four


class _Emit:
    """IR helpers shared by the two steps."""

    def __init__(self, context, builder, rounds, lanes):
        self.context, self.builder, self.rounds, self.lanes = context, builder, rounds, lanes
        self.vt = vt = ir.VectorType(ir.IntType(64), 2 * lanes)
        self.intp = context.get_value_type(types.intp)
        bits = 128 * lanes
        self.enc = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt, vt]),
                                                  f"llvm.x86.aesni.aesenc.{bits}")
        self.last = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt, vt]),
                                                   f"llvm.x86.aesni.aesenclast.{bits}")

    def idx(self, v, ty):
        return self.context.cast(self.builder, v, ty, types.intp)

    def arr(self, ty, v):
        return self.context.make_array(ty)(self.context, self.builder, v)

    def ptr(self, ary, aty, row, vt):
        p = cgutils.get_item_pointer(self.context, self.builder, aty, ary, [row, ir.Constant(self.intp, 0)])
        return self.builder.bitcast(p, vt.as_pointer())

    def rows(self, ary, aty, row0):
        """The vector pointers of rows row0 .. row0+15."""
        b, n = self.builder, self.lanes
        return [self.ptr(ary, aty, b.add(row0, ir.Constant(self.intp, n * q)), self.vt) for q in range(_BLOCKS // n)]

    def keys(self, ary, aty):
        b = self.builder
        undef = ir.Constant(_V2, ir.Undefined)
        m = ir.Constant(ir.VectorType(_I32, 2 * self.lanes), [0, 1] * self.lanes)
        return [b.shuffle_vector(b.load(self.ptr(ary, aty, ir.Constant(self.intp, r), _V2), align=8), undef, m)
                for r in range(self.rounds + 1)]

    def encrypt(self, keys, vs):
        b = self.builder
        vs = [b.xor(v, keys[0]) for v in vs]
        for r in range(1, self.rounds):
            vs = [b.call(self.enc, [v, keys[r]]) for v in vs]
        return [b.call(self.last, [v, keys[self.rounds]]) for v in vs]


def _ok(*arrs):
    return all(u64_array(a) for a in arrs)


def _named(typer, name):
    # a distinct name per twin: numba keys intrinsics (and cached callers) by it
    typer.__name__ = typer.__qualname__ = name
    return intrinsic(typer)


def _make_mask_xor16(rounds, lanes=2):
    def typer(typingctx, rk, ctr, i, a, arow, m, out):
        if not (_ok(rk, ctr, a, out) and out.mutable and isinstance(i, types.Integer)
                and isinstance(arow, types.Integer) and isinstance(m, types.Integer)):
            return None

        def codegen(context, builder, sig, args):
            e = _Emit(context, builder, rounds, lanes)
            rk_v, x_v, i_v, a_v, ar_v, m_v, o_v = args
            rkty, xty, ity, aty, arty, mty, oty = sig.args
            ra, xa, aa, oa = e.arr(rkty, rk_v), e.arr(xty, x_v), e.arr(aty, a_v), e.arr(oty, o_v)
            i_v, ar_v = e.idx(i_v, ity), e.idx(ar_v, arty)
            mv = context.cast(builder, m_v, mty, types.uint64)
            splat = builder.insert_element(ir.Constant(e.vt, ir.Undefined), mv, ir.Constant(_I32, 0))
            zeros = ir.Constant(ir.VectorType(_I32, 2 * lanes), [0] * (2 * lanes))
            splat = builder.shuffle_vector(splat, ir.Constant(e.vt, ir.Undefined), zeros)
            xs = [builder.load(p, align=8) for p in e.rows(xa, xty, i_v)]
            ys = e.encrypt(e.keys(ra, rkty), xs)
            avs = [builder.and_(builder.load(p, align=8), splat) for p in e.rows(aa, aty, ar_v)]
            for p, y, av in zip(e.rows(oa, oty, i_v), ys, avs):
                builder.store(builder.xor(y, av), p, align=8)
            return context.get_dummy_value()

        return types.void(rk, ctr, types.intp, a, types.intp, types.uint64, out), codegen

    return _named(typer, f"ctr_mask_xor16_r{rounds}_l{lanes}")


def _make_pair16(rounds, lanes=2):
    def typer(typingctx, rk0, rk1, ctr, i, code, crow, t, u, urow):
        if not (_ok(rk0, rk1, ctr, code, t, u) and t.mutable and u.mutable and isinstance(i, types.Integer)
                and isinstance(crow, types.Integer) and isinstance(urow, types.Integer)):
            return None

        def codegen(context, builder, sig, args):
            e = _Emit(context, builder, rounds, lanes)
            k0_v, k1_v, x_v, i_v, c_v, cr_v, t_v, u_v, ur_v = args
            k0ty, k1ty, xty, ity, cty, crty, tty, uty, urty = sig.args
            k0a, k1a, xa, ca = e.arr(k0ty, k0_v), e.arr(k1ty, k1_v), e.arr(xty, x_v), e.arr(cty, c_v)
            ta, ua = e.arr(tty, t_v), e.arr(uty, u_v)
            i_v, cr_v, ur_v = e.idx(i_v, ity), e.idx(cr_v, crty), e.idx(ur_v, urty)
            xs = [builder.load(p, align=8) for p in e.rows(xa, xty, i_v)]
            y0 = e.encrypt(e.keys(k0a, k0ty), xs)
            y1 = e.encrypt(e.keys(k1a, k1ty), xs)
            cs = [builder.load(p, align=8) for p in e.rows(ca, cty, cr_v)]
            for p, a in zip(e.rows(ta, tty, i_v), y0):
                builder.store(a, p, align=8)
            for p, a, b_, c_ in zip(e.rows(ua, uty, ur_v), y0, y1, cs):
                builder.store(builder.xor(builder.xor(a, b_), c_), p, align=8)
            return context.get_dummy_value()

        return types.void(rk0, rk1, ctr, types.intp, code, types.intp, t, u, types.intp), codegen

    return _named(typer, f"ctr_pair16_r{rounds}_l{lanes}")


# AES-128 (10 rounds) and AES-256 (14 rounds) twins of each step, on ymm (VAES) and on zmm
# (the ``_z`` ones: VAES with AVX-512, four blocks per instruction; callers check
# :data:`.cpu.HAVE_ZMM`). Zen 4, 2^20 rows of the receiver's tile kernel:
# zmm 3.5 vs ymm 4.3 ms (AES-128), 6.7 vs 11.7 ms (AES-256).
ctr_mask_xor16 = _make_mask_xor16(10)
ctr_mask_xor16_256 = _make_mask_xor16(14)
ctr_pair16 = _make_pair16(10)
ctr_pair16_256 = _make_pair16(14)
ctr_mask_xor16_z = _make_mask_xor16(10, 4)
ctr_mask_xor16_z256 = _make_mask_xor16(14, 4)
ctr_pair16_z = _make_pair16(10, 4)
ctr_pair16_z256 = _make_pair16(14, 4)
