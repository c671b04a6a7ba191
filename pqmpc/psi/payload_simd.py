"""LLVM intrinsics for the payload kernels (:mod:`.payload_kernels`) that numba does not expose.

* :func:`prefetch_write` — hint that a row is about to be written: the sealed entries land at
  their sorted (pseudorandom) places, so each write would otherwise wait for its cache lines
  (read-for-ownership) one row at a time; asked for some rows ahead, many are in flight at once.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["prefetch_write"]


@intrinsic
def prefetch_write(typingctx, arr, i, j):
    """Hint the CPU to fetch ``arr[i, j]`` (a 2-D array) for writing; no effect on results."""
    if not (isinstance(arr, types.Array) and arr.ndim == 2 and isinstance(i, types.Integer)
            and isinstance(j, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        aty = sig.args[0]
        ary = context.make_array(aty)(context, builder, args[0])
        row = context.cast(builder, args[1], sig.args[1], types.intp)
        col = context.cast(builder, args[2], sig.args[2], types.intp)
        ptr = cgutils.get_item_pointer(context, builder, aty, ary, [row, col])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                            "llvm.prefetch.p0i8")
        # rw = 1 (for writing), locality 3, data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 1), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(arr, i, j), codegen
