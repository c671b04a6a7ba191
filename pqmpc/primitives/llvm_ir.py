"""LLVM IR building blocks for the AES / carry-less-multiply kernels (x86 intrinsics on blocks).

A block inside a kernel is ``UniTuple(uint64, 2)``: ``(x[i, 0], x[i, 1])`` of
the ``(n, 2) uint64`` view, exactly an xmm register after a 16-byte load, so
results match OpenSSL byte for byte. The intrinsics here compile to single
x86 instructions; compiling one for a target without the instruction aborts
the process, so they are only ever reached behind :data:`.cpu.HAVE_AESNI` /
:data:`.cpu.HAVE_PCLMUL` (other packages use the bound names of
:mod:`.aes_kernels`, never these).
"""

from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["BLOCK", "aes128_expand_ni", "aes256_expand_ni", "aesenc", "aesenclast", "bxor", "clmul_00", "clmul_01",
           "clmul_10", "clmul_11", "emit_expand128", "emit_expand256", "item_ptr", "to_tup", "to_vec", "u64_array"]

#: numba type of one block.
BLOCK = types.UniTuple(types.uint64, 2)
_BLK = BLOCK


def u64_array(t, ndim=2):
    """A C-contiguous uint64 array type of that rank, read-only or not (the kernels only read inputs)."""
    return isinstance(t, types.Array) and t.dtype == types.uint64 and t.ndim == ndim and t.layout == "C"


_V2 = ir.VectorType(ir.IntType(64), 2)
_Y4 = ir.VectorType(ir.IntType(64), 4)
_I32 = ir.IntType(32)


def item_ptr(context, builder, aty, arr, idx, vt):
    """A ``vt*`` pointer to ``arr[idx]`` (``aty`` the array's numba type, ``idx`` LLVM index values):
    how the vector kernels load and store whole registers of rows."""
    return builder.bitcast(cgutils.get_item_pointer(context, builder, aty, arr, idx), vt.as_pointer())


def to_vec(builder, tup):
    """A block tuple as ``<2 x i64>``."""
    v = ir.Constant(_V2, ir.Undefined)
    v = builder.insert_element(v, builder.extract_value(tup, 0), ir.Constant(_I32, 0))
    return builder.insert_element(v, builder.extract_value(tup, 1), ir.Constant(_I32, 1))


def to_tup(context, builder, vec):
    """``<2 x i64>`` back to a block tuple."""
    t = ir.Constant(context.get_value_type(_BLK), ir.Undefined)
    t = builder.insert_value(t, builder.extract_element(vec, ir.Constant(_I32, 0)), 0)
    return builder.insert_value(t, builder.extract_element(vec, ir.Constant(_I32, 1)), 1)


_to_vec, _to_tup, _u64_array = to_vec, to_tup, u64_array


@njit
def bxor(a, b):
    """XOR of two blocks (njit)."""
    return (a[0] ^ b[0], a[1] ^ b[1])


def _binary_intrinsic(llvm_name):
    @intrinsic
    def _op(typingctx, a, b):
        if a != _BLK or b != _BLK:
            return None

        def codegen(context, builder, sig, args):
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_V2, [_V2, _V2]), llvm_name)
            return _to_tup(context, builder, builder.call(fn, [_to_vec(builder, args[0]), _to_vec(builder, args[1])]))

        return _BLK(_BLK, _BLK), codegen

    return _op


def _imm_intrinsic(llvm_name, imm):
    # The immediate must be an LLVM constant, so each value gets its own intrinsic.
    i8 = ir.IntType(8)

    @intrinsic
    def _op(typingctx, a, b):
        if a != _BLK or b != _BLK:
            return None

        def codegen(context, builder, sig, args):
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_V2, [_V2, _V2, i8]), llvm_name)
            r = builder.call(fn, [_to_vec(builder, args[0]), _to_vec(builder, args[1]), ir.Constant(i8, imm)])
            return _to_tup(context, builder, r)

        return _BLK(_BLK, _BLK), codegen

    return _op


aesenc = _binary_intrinsic("llvm.x86.aesni.aesenc")
aesenclast = _binary_intrinsic("llvm.x86.aesni.aesenclast")
# Raw 64x64 carry-less products of blocks (njit, only where HAVE_PCLMUL):
# bit 0 of the immediate picks a's word, bit 4 b's word.
clmul_00 = _imm_intrinsic("llvm.x86.pclmulqdq", 0x00)
clmul_01 = _imm_intrinsic("llvm.x86.pclmulqdq", 0x01)
clmul_10 = _imm_intrinsic("llvm.x86.pclmulqdq", 0x10)
clmul_11 = _imm_intrinsic("llvm.x86.pclmulqdq", 0x11)

_KS15 = types.UniTuple(_BLK, 15)


def _key_ops(builder, lanes):
    """The SubWord steps of the key schedules, for ``lanes`` keys side by side (1: xmm, 2: ymm, 4: zmm):
    ``(half, step, prefix)``, ``half`` the plain step (AES-128), ``step`` AES-256's with the previous
    key's word prefix carried along, ``prefix`` a key's word prefix."""
    i8 = ir.IntType(8)
    vty = _V2 if lanes == 1 else ir.VectorType(ir.IntType(64), 2 * lanes)
    wty = ir.VectorType(_I32, 4 * lanes)
    bty = ir.VectorType(i8, 16 * lanes)
    zero_w = ir.Constant(wty, None)
    undef_b = ir.Constant(bty, ir.Undefined)
    last = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vty, [vty, vty]),
        {1: "llvm.x86.aesni.aesenclast", 2: "llvm.x86.aesni.aesenclast.256", 4: "llvm.x86.aesni.aesenclast.512"}[lanes])

    def mask(*m):
        return ir.Constant(ir.VectorType(_I32, len(m)), list(m))

    def per_lane(pattern, width, zero_at):
        # Repeat a 1-lane shuffle pattern in every lane; ``zero_at`` marks "take from the zero vector".
        out = []
        for ln in range(lanes):
            out += [zero_at if p is None else p + ln * width for p in pattern]
        return mask(*out)

    nz = 4 * lanes  # index of element 0 of the second (zero) shuffle operand
    shl4 = per_lane([None, 0, 1, 2], 4, nz)
    shl8 = per_lane([None, None, 0, 1], 4, nz)

    def prefix(v):
        # Word j becomes w0 ^ ... ^ wj (the "pslldq by 4, three times" chain, as a log-depth scan).
        v = builder.bitcast(v, wty)
        v = builder.xor(v, builder.shuffle_vector(v, zero_w, shl4))
        v = builder.xor(v, builder.shuffle_vector(v, zero_w, shl8))
        return v

    def sub_word(other, word):
        # aesenclast's input: every column word 3 of ``other`` (rotated for the rcon steps), so
        # ShiftRows is the identity and the output is SubWord(..) in all four columns plus the
        # round key. Same speed as aeskeygenassist on xmm here, but unlike it this has 256- and
        # 512-bit VAES forms, so two or four schedules run per instruction.
        sel = [13, 14, 15, 12] if word == 3 else [12, 13, 14, 15]
        return builder.bitcast(builder.shuffle_vector(builder.bitcast(other, bty), undef_b, per_lane(sel * 4, 16, 0)),
                               vty)

    def rcon_words(rcon):
        return ir.Constant(wty, [rcon] * (4 * lanes))

    def half(prev, other, rcon, word):
        t = builder.bitcast(builder.call(last, [sub_word(other, word), builder.bitcast(rcon_words(rcon), vty)]), wty)
        return builder.bitcast(builder.xor(prefix(prev), t), vty)

    words02 = ir.Constant(wty, [0xFFFFFFFF, 0, 0xFFFFFFFF, 0] * lanes)

    def step(prev, other, rcon, word):
        # ``prev`` = (round key r − 2, its word prefix q): round key r = q ^ (SubWord(..) ^ rcon in
        # every word), straight out of aesenclast with q ^ rcon as its round key, so the chain from
        # one step to the next is a shuffle and an AES instruction. The new key's prefix comes from
        # prefix(prefix(k)) = k ^ (k << 64) (prefix of a lane's words: w0, w0^w1, w0^w1^w2, ...) and
        # prefix(t t t t) = (t 0 t 0): one in-lane shift where prefix() takes two.
        k, q = prev
        rk = builder.xor(q, rcon_words(rcon)) if rcon else q
        kn = builder.bitcast(builder.call(last, [sub_word(other, word), builder.bitcast(rk, vty)]), wty)
        k = builder.bitcast(k, wty)
        twice = builder.xor(k, builder.shuffle_vector(k, zero_w, shl8))
        qn = builder.xor(twice, builder.and_(builder.xor(kn, q), words02))
        return builder.bitcast(kn, vty), qn

    return half, step, prefix


def emit_expand256(context, builder, keys, on_key=None, lanes=1):
    """AES-256 key schedules for several keys, emitted step-interleaved.

    ``keys`` holds ``(k0, k1)`` vector pairs: ``<2 x i64>`` for one key each,
    or with ``lanes=2`` ``<4 x i64>`` holding two keys side by side (VAES: each
    128-bit lane runs its own schedule, shuffles and aesenclast are lane-local),
    with ``lanes=4`` ``<8 x i64>`` holding four (VAES on zmm, AVX-512).

    ``on_key(j, r, k)`` is called as round key ``r`` of pair ``j`` appears, so
    a caller can emit the matching cipher round right there: in program
    order that keeps each key's use next to its birth, which the
    out-of-order window (and the register allocator) needs.

    Each schedule is a chain of 13 dependent SubWord steps; laying several
    independent chains side by side in the IR lets the core overlap them.
    """
    _, step, prefix = _key_ops(builder, lanes)
    sched = [[k0, k1] for k0, k1 in keys]
    prefixes = [[prefix(k0), prefix(k1)] for k0, k1 in keys]
    if on_key is not None:
        for j, ks in enumerate(sched):
            on_key(j, 0, ks[0])
            on_key(j, 1, ks[1])
    for rcon in (0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40):
        for word, rc in ((3, rcon), (2, 0x00)) if rcon != 0x40 else ((3, rcon),):
            for j, (ks, qs) in enumerate(zip(sched, prefixes)):
                k, q = step((ks[-2], qs[-2]), ks[-1], rc, word)
                ks.append(k)
                qs.append(q)
                if on_key is not None:
                    on_key(j, len(ks) - 1, k)
    return sched


def _sched_tuple(context, builder, ks):
    t = ir.Constant(context.get_value_type(_KS15), ir.Undefined)
    for r, v in enumerate(ks):
        t = builder.insert_value(t, _to_tup(context, builder, v), r)
    return t


def emit_expand128(builder, key):
    """AES-128 key schedule of one ``<2 x i64>`` key: the 11 round keys (each step: the AES-256 SubWord
    step with the previous round key on both sides)."""
    half = _key_ops(builder, 1)[0]
    ks = [key]
    for rcon in (0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1B, 0x36):
        ks.append(half(ks[-1], ks[-1], rcon, 3))
    return ks


_KS11 = types.UniTuple(_BLK, 11)


@intrinsic
def aes128_expand_ni(typingctx, k):
    """AES-128 key schedule in-kernel (AES-NI): 11-tuple of blocks. Constant time, unlike a table schedule."""
    if k != _BLK:
        return None

    def codegen(context, builder, sig, args):
        ks = emit_expand128(builder, _to_vec(builder, args[0]))
        t = ir.Constant(context.get_value_type(_KS11), ir.Undefined)
        for r, v in enumerate(ks):
            t = builder.insert_value(t, _to_tup(context, builder, v), r)
        return t

    return _KS11(_BLK), codegen


@intrinsic
def aes256_expand_ni(typingctx, k0, k1):
    """AES-256 key schedule in-kernel from the key's two 16-byte halves (AES-NI): 15-tuple of blocks."""
    if k0 != _BLK or k1 != _BLK:
        return None

    def codegen(context, builder, sig, args):
        ks = emit_expand256(context, builder, [(_to_vec(builder, args[0]), _to_vec(builder, args[1]))])[0]
        return _sched_tuple(context, builder, ks)

    return _KS15(_BLK, _BLK), codegen


