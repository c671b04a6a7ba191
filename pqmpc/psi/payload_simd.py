"""LLVM intrinsics for the payload kernels (:mod:`.payload_kernels`) that numba does not expose.

* :func:`prefetch_write` — hint that a row is about to be written: the sealed entries land at
  their sorted (pseudorandom) places, so each write would otherwise wait for its cache lines
  (read-for-ownership) one row at a time; asked for some rows ahead, many are in flight at once.
* :func:`prefetch_read` — the same for rows about to be read at random (the receiver's keys).
* :func:`load_u64`, :func:`load1_u64`, :func:`store_u64` — eight bytes at any offset of a uint8
  row as one unaligned word (x86 is little-endian): the 67-byte entries are not word-aligned, and
  byte-by-byte packing cost as much as the AES.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["prefetch_write", "prefetch_read", "prefetch_read1", "prefetch_write1", "load_u64", "load1_u64", "store_u64"]


def _emit_prefetch(context, builder, aty, arr_v, idx_vals, idx_tys, rw):
    ary = context.make_array(aty)(context, builder, arr_v)
    at = [context.cast(builder, v, t, types.intp) for v, t in zip(idx_vals, idx_tys)]
    ptr = cgutils.get_item_pointer(context, builder, aty, ary, at)
    i8p = ir.IntType(8).as_pointer()
    i32 = ir.IntType(32)
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                        "llvm.prefetch.p0i8")
    # rw (0 read, 1 write), locality 3, data cache
    builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, rw), ir.Constant(i32, 3), ir.Constant(i32, 1)])
    return context.get_dummy_value()


def _make_prefetch(rw):
    def typer(typingctx, arr, i, j):
        if not (isinstance(arr, types.Array) and arr.ndim == 2 and isinstance(i, types.Integer)
                and isinstance(j, types.Integer)):
            return None

        def codegen(context, builder, sig, args):
            return _emit_prefetch(context, builder, sig.args[0], args[0], args[1:], sig.args[1:], rw)

        return types.void(arr, i, j), codegen

    typer.__name__ = typer.__qualname__ = f"prefetch_rw{rw}"  # numba keys intrinsics by name
    return intrinsic(typer)


def _make_prefetch1(rw):
    def typer(typingctx, arr, i):
        if not (isinstance(arr, types.Array) and arr.ndim == 1 and isinstance(i, types.Integer)):
            return None

        def codegen(context, builder, sig, args):
            return _emit_prefetch(context, builder, sig.args[0], args[0], args[1:], sig.args[1:], rw)

        return types.void(arr, i), codegen

    typer.__name__ = typer.__qualname__ = f"prefetch1_rw{rw}"
    return intrinsic(typer)


#: ``prefetch_write(arr, i, j)``: hint the CPU to fetch ``arr[i, j]`` (2-D) for writing; no effect on results.
prefetch_write = _make_prefetch(1)
#: ``prefetch_read(arr, i, j)``: the same for reading.
prefetch_read = _make_prefetch(0)
#: ``prefetch_read1(arr, i)``, ``prefetch_write1(arr, i)``: the same for element ``i`` of a 1-D array.
prefetch_read1 = _make_prefetch1(0)
prefetch_write1 = _make_prefetch1(1)

def _byte_ptr(context, builder, aty, ary_v, idx_vals, idx_tys):
    ary = context.make_array(aty)(context, builder, ary_v)
    idx = [context.cast(builder, v, t, types.intp) for v, t in zip(idx_vals, idx_tys)]
    ptr = cgutils.get_item_pointer(context, builder, aty, ary, idx)
    return builder.bitcast(ptr, ir.IntType(64).as_pointer())


def _bytes_ok(arr, ndim, *ints):
    return (isinstance(arr, types.Array) and arr.ndim == ndim and arr.dtype == types.uint8
            and all(isinstance(i, types.Integer) for i in ints))


@intrinsic
def load_u64(typingctx, arr, i, j):
    """Bytes ``arr[i, j:j+8]`` of a C-contiguous uint8 array as a little-endian uint64 (one unaligned load).
    The caller keeps ``j + 8`` inside the row."""
    if not _bytes_ok(arr, 2, i, j):
        return None

    def codegen(context, builder, sig, args):
        p = _byte_ptr(context, builder, sig.args[0], args[0], args[1:], sig.args[1:])
        return builder.load(p, align=1)

    return types.uint64(arr, i, j), codegen


@intrinsic
def load1_u64(typingctx, arr, j):
    """Bytes ``arr[j:j+8]`` of a contiguous 1-D uint8 array as a little-endian uint64 (caller: ``j + 8 <= len``)."""
    if not _bytes_ok(arr, 1, j):
        return None

    def codegen(context, builder, sig, args):
        p = _byte_ptr(context, builder, sig.args[0], args[0], args[1:], sig.args[1:])
        return builder.load(p, align=1)

    return types.uint64(arr, j), codegen


@intrinsic
def store_u64(typingctx, arr, i, j, w):
    """``arr[i, j:j+8]`` = the little-endian bytes of ``w`` (one unaligned store; caller: ``j + 8`` inside the row)."""
    if not (_bytes_ok(arr, 2, i, j) and arr.mutable and isinstance(w, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        p = _byte_ptr(context, builder, sig.args[0], args[0], args[1:3], sig.args[1:3])
        v = context.cast(builder, args[3], sig.args[3], types.uint64)
        builder.store(v, p, align=1)
        return context.get_dummy_value()

    return types.void(arr, i, j, w), codegen
