"""Non-temporal (streaming) copies for njit kernels that write large outputs once.

A result the size of an OT extension's (256 MiB at 2^24 OTs) does not fit any cache; an
ordinary store first reads each line from memory (read for ownership) and then writes it
back, twice the memory traffic. :func:`stream_copy` writes whole 64-byte lines with
non-temporal stores instead, after the data was made in a cache-resident buffer, and ends
with ``sfence`` so the lines are ordered before anything the thread does next. Plain LLVM
IR (``!nontemporal`` stores), so it compiles for any target; where the target has no such
store it is an ordinary one.
"""

from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["stream_copy"]

_V64 = ir.VectorType(ir.IntType(8), 64)


def _u8_1d(t, mutable=False):
    return (isinstance(t, types.Array) and t.dtype == types.uint8 and t.ndim == 1 and t.layout == "C"
            and (t.mutable or not mutable))


@intrinsic
def _nt_line(typingctx, src, soff, dst, doff):
    """dst[doff : doff + 64] = src[soff : soff + 64]; dst + doff must be 64-byte aligned."""
    if not (_u8_1d(src) and _u8_1d(dst, True) and isinstance(soff, types.Integer) and isinstance(doff, types.Integer)):
        return None
    sig = types.void(src, types.intp, dst, types.intp)

    def codegen(context, builder, signature, args):
        s_v, so, d_v, do = args
        sty, dty = signature.args[0], signature.args[2]
        sa = context.make_array(sty)(context, builder, s_v)
        da = context.make_array(dty)(context, builder, d_v)
        sp = cgutils.get_item_pointer(context, builder, sty, sa, [so])
        dp = cgutils.get_item_pointer(context, builder, dty, da, [do])
        v = builder.load(builder.bitcast(sp, _V64.as_pointer()), align=1)
        st = builder.store(v, builder.bitcast(dp, _V64.as_pointer()), align=64)
        st.set_metadata("nontemporal", builder.module.add_metadata([ir.Constant(ir.IntType(32), 1)]))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _sfence(typingctx):
    sig = types.void()

    def codegen(context, builder, signature, args):
        builder.fence("seq_cst")
        return context.get_dummy_value()

    return sig, codegen


@njit(inline="always")
def stream_copy(src, dst):
    """``dst[:] = src`` (1-D C-contiguous uint8 arrays of equal length), the 64-byte-aligned
    middle of ``dst`` with non-temporal stores; ends with a store fence."""
    n = src.shape[0]
    head = (64 - dst.ctypes.data % 64) % 64
    if head > n:
        head = n
    for i in range(head):
        dst[i] = src[i]
    body = head + (n - head) // 64 * 64
    for i in range(head, body, 64):
        _nt_line(src, i, dst, i)
    for i in range(body, n):
        dst[i] = src[i]
    _sfence()
