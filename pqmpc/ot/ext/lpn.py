"""The local linear code of Ferret's primal LPN: ``y = A·x`` with ``d = 10`` ones per row.

Row ``i`` of the public ``n × k`` matrix ``A`` has ones at ten positions in
``[0, k)`` drawn from a fixed-key AES counter-mode stream under a public
16-byte seed both parties agree on at setup: outputs ``2p`` and ``2p + 1``
take the twenty 32-bit words of ``AES_seed(5p), …, AES_seed(5p + 4)`` (counter
as a little-endian 128-bit block), the first ten for ``2p``, masked to
``k − 1`` (``k`` is a power of two, so the positions are uniform). Rows are
addressed by their global index, so any slice of a round can be encoded on
its own, in any order, by either party.

Ferret needs the encoding on both sides of a correlated OT: the sender
computes ``z = A·x_s ⊕ v``, the receiver ``z' = A·x_r ⊕ w`` and its choice bits
``A·u ⊕ e``; the kernels here add ``A·x`` into a buffer that already holds
the SPCOT output, so ``v``/``w`` never needs a second copy. In Ferret's LSB convention
(``add_encoded_lsb*``, wire v3) bit 0 of every receiver block of ``x_r`` is its ``u``, so
``A·u ⊕ e`` is bit 0 of the receiver's result and needs no second gather. Security: the
output is pseudo-random under the (regular-noise) LPN assumption for a local
code, which is believed to resist quantum computers too; Python cannot
promise constant time (the gathers are data-independent, the data is not).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ...errors import ParameterError
from ...primitives.aes import aes_ecb
from ...primitives.aes_kernels import HAVE_AESNI, aes128_encrypt, aes128_load_keys, round_keys
from ...primitives.aes_unrolled import ecb_ni_loop, ecb_vaes_loop
from ...primitives.cpu import HAVE_VAES
from .ferret_params import LPN_D

_aes = aes128_encrypt
_load = aes128_load_keys
_V2 = ir.VectorType(ir.IntType(64), 2)


def _item_ptr(context, builder, aty, a, idx):
    ary = context.make_array(aty)(context, builder, a)
    return cgutils.get_item_pointer(context, builder, aty, ary, idx)


@intrinsic
def _prefetch_row(typingctx, arr, row):
    """``llvm.prefetch`` of ``arr[row]``: a hint only, valid on every target (no-op where unsupported)."""
    if not isinstance(arr, types.Array) or not isinstance(row, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        aty = sig.args[0]
        idx = [context.cast(builder, args[1], sig.args[1], types.intp)]
        idx += [ir.Constant(ir.IntType(64), 0)] * (aty.ndim - 1)
        ptr = _item_ptr(context, builder, aty, args[0], idx)
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                            "llvm.prefetch.p0")
        # read, keep in all cache levels, data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(arr, row), codegen


def _row_codegen(context, builder, sig, args, with_parity, lsb=None):
    xa, pa, oa, outa, ia, ma = args[:6]
    args = args[:5] + args[6:]
    i64 = ir.IntType(64)
    zero = ir.Constant(i64, 0)
    o = context.cast(builder, oa, sig.args[2], types.intp)
    i = context.cast(builder, ia, sig.args[4], types.intp)
    xbase = builder.bitcast(_item_ptr(context, builder, sig.args[0], xa, [zero, zero]), ir.IntType(8).as_pointer())
    pp = _item_ptr(context, builder, sig.args[1], pa, [o])
    op = builder.bitcast(_item_ptr(context, builder, sig.args[3], outa, [i, zero]), _V2.as_pointer())
    ubase = _item_ptr(context, builder, sig.args[6], args[5], [zero]) if with_parity else None
    mask = context.cast(builder, ma, sig.args[5], types.uint64)
    acc = builder.load(op, align=8)
    if lsb is not None:
        # LSB convention: the block's bit 0 is replaced by 0 (sender) or by the bit ``e`` (receiver)
        lo = builder.and_(builder.extract_element(acc, ir.Constant(ir.IntType(32), 0)), ir.Constant(i64, ~1))
        if lsb == "bit":
            lo = builder.or_(lo, builder.and_(context.cast(builder, args[5], sig.args[6], types.uint64),
                                              ir.Constant(i64, 1)))
        acc = builder.insert_element(acc, lo, ir.Constant(ir.IntType(32), 0))
    par = zero
    for j in range(LPN_D):
        w = builder.and_(builder.zext(builder.load(builder.gep(pp, [ir.Constant(i64, j)])), i64), mask)
        p = builder.gep(xbase, [builder.shl(w, ir.Constant(i64, 4))])
        acc = builder.xor(acc, builder.load(builder.bitcast(p, _V2.as_pointer()), align=8))
        if with_parity:
            word = builder.load(builder.gep(ubase, [builder.lshr(w, ir.Constant(i64, 6))]))
            par = builder.xor(par, builder.lshr(word, builder.and_(w, ir.Constant(i64, 63))))
    builder.store(acc, op, align=8)
    if lsb == "bit":
        return builder.and_(builder.extract_element(acc, ir.Constant(ir.IntType(32), 0)), ir.Constant(i64, 1))
    return builder.and_(par, ir.Constant(i64, 1)) if with_parity else context.get_dummy_value()


def _row_types_ok(x, pos, out):
    arrays = (x, pos, out)
    return all(isinstance(a, types.Array) and a.layout == "C" for a in arrays) \
        and x.dtype == out.dtype == types.uint64 and pos.dtype == types.uint32 \
        and (x.ndim, pos.ndim, out.ndim) == (2, 1, 2)


@intrinsic
def _row_xor(typingctx, x, pos, o, out, i, mask):
    """``out[i] ^= x[p_0] ⊕ … ⊕ x[p_9]``, ``p_j = pos[o + j] & mask`` (``pos``: the 32-bit words of the
    AES output), on ``(n, 2)`` uint64 blocks, one 16-byte load per term.

    Written in IR because numba indexes ``x[p, 0]`` and ``x[p, 1]`` as two 8-byte loads behind a
    stride multiply: twice the loads in flight per gathered block, which is what bounds this
    loop (the reads are random over ``x``, megabytes beyond L2)."""
    if not _row_types_ok(x, pos, out):
        return None
    return types.void(x, pos, o, out, i, mask), lambda c, b, sig, args: _row_codegen(c, b, sig, args, False)


@intrinsic
def _row_xor_parity(typingctx, x, pos, o, out, i, mask, ub):
    """:func:`_row_xor`, and returns the row's ``A·u`` bit from ``ub`` (``u`` packed 64 bits a word)
    with the positions already in registers."""
    if not (_row_types_ok(x, pos, out) and isinstance(ub, types.Array) and ub.dtype == types.uint64
            and ub.ndim == 1 and ub.layout == "C"):
        return None
    return types.uint64(x, pos, o, out, i, mask, ub), lambda c, b, sig, args: _row_codegen(c, b, sig, args, True)


@intrinsic
def _row_xor_lsb0(typingctx, x, pos, o, out, i, mask):
    """:func:`_row_xor` on ``out[i]`` with its bit 0 cleared first (the sender's LSB convention)."""
    if not _row_types_ok(x, pos, out):
        return None
    return types.void(x, pos, o, out, i, mask), lambda c, b, sig, args: _row_codegen(c, b, sig, args, False, "zero")


@intrinsic
def _row_xor_lsb(typingctx, x, pos, o, out, i, mask, e):
    """:func:`_row_xor` on ``out[i]`` with its bit 0 set to ``e & 1`` first; returns the result's bit 0.

    Where every ``x`` block carries its choice bit in bit 0, that is the row's ``A·u ⊕ e``: no
    second gather (the receiver's LSB convention)."""
    if not (_row_types_ok(x, pos, out) and isinstance(e, types.Integer)):
        return None
    return types.uint64(x, pos, o, out, i, mask, e), lambda c, b, sig, args: _row_codegen(c, b, sig, args, False,
                                                                                         "bit")


#: Row pairs whose positions one bulk AES call computes (5 blocks a pair: 20 KiB of positions, in L1).
CHUNK_PAIRS = 256
#: Rows between a row's prefetches and its gathers (160 random lines in flight).
PF_ROWS = 16

if HAVE_VAES:
    _ecb_wide = ecb_vaes_loop
else:
    @njit
    def _ecb_wide(rk, x, out):
        return 0  # never a ymm AES instruction where the CPU has none

if HAVE_AESNI:
    @njit(inline="always")
    def _ctr_blocks(ks, rk, n, ctr, enc):
        """``enc[:n] = AES(ctr[:n])`` by the bulk ECB kernels (the seed is public: no constant-time need)."""
        done = _ecb_wide(rk, ctr[:n], enc[:n])
        if done < n:
            ecb_ni_loop(rk, ctr[done:n], enc[done:n])
else:
    @njit(inline="always")
    def _ctr_blocks(ks, rk, n, ctr, enc):
        for j in range(n):
            e = _aes(ks, (ctr[j, 0], ctr[j, 1]))
            enc[j, 0] = e[0]
            enc[j, 1] = e[1]


@njit(inline="always")
def _prefetch_positions(x, w, o, mask):
    """Prefetch the ``x`` lines of the row whose positions start at ``w[o]``."""
    for j in range(LPN_D):
        _prefetch_row(x, w[o + j] & mask)


@njit(inline="always")
def _encode(ks, rk, first_pair, mask, x, ub, out, bits, mode):
    # Per chunk: the positions of CHUNK_PAIRS row pairs in one bulk AES call (VAES: 16 blocks a
    # step, apart from the gathers), read back as 32-bit words and masked in the gather; each row's
    # ten lines are prefetched PF_ROWS rows before they are read, so the random reads overlap.
    # mode (a constant per entry point): 0 sender, 1 receiver with A·u from ub, 2 and 3 the same
    # in the LSB convention (see LocalCode.add_encoded_lsb).
    npairs = out.shape[0] // 2
    ctr = np.zeros((5 * CHUNK_PAIRS, 2), dtype=np.uint64)
    enc = np.empty((5 * CHUNK_PAIRS, 2), dtype=np.uint64)
    w = enc.reshape(-1).view(np.uint32)
    m32 = np.uint32(mask)
    for c0 in range(0, npairs, CHUNK_PAIRS):
        nbk = 5 * min(CHUNK_PAIRS, npairs - c0)
        c = np.uint64(5) * np.uint64(first_pair + c0)
        for j in range(nbk):
            ctr[j, 0] = c + np.uint64(j)
        _ctr_blocks(ks, rk, nbk, ctr, enc)
        rows = 2 * nbk // 5
        r0 = 2 * c0
        for i in range(min(PF_ROWS, rows)):
            _prefetch_positions(x, w, LPN_D * i, m32)
        for i in range(rows):
            if i + PF_ROWS < rows:
                _prefetch_positions(x, w, LPN_D * (i + PF_ROWS), m32)
            if mode == 1:
                bits[r0 + i] ^= np.uint8(_row_xor_parity(x, w, LPN_D * i, out, r0 + i, mask, ub))
            elif mode == 2:
                _row_xor_lsb0(x, w, LPN_D * i, out, r0 + i, mask)
            elif mode == 3:
                bits[r0 + i] = np.uint8(_row_xor_lsb(x, w, LPN_D * i, out, r0 + i, mask, bits[r0 + i]))
            else:
                _row_xor(x, w, LPN_D * i, out, r0 + i, mask)


# One dispatcher per role, the convention an argument: these are the kernels that may run table
# AES (public seed, public counters) on a CPU without AES-NI, and tests list them by name.
@njit(cache=True, nogil=True)
def _encode_sender(rk, first_pair, mask, x, out, lsb):
    ub = np.empty(0, dtype=np.uint64)
    nobits = np.empty(0, dtype=np.uint8)
    if lsb:  # two inlined loops, each with its mode a constant
        _encode(_load(rk), rk, first_pair, np.uint64(mask), x, ub, out, nobits, 2)
    else:
        _encode(_load(rk), rk, first_pair, np.uint64(mask), x, ub, out, nobits, 0)


@njit(cache=True, nogil=True)
def _encode_receiver(rk, first_pair, mask, x, ub, out, bits, lsb):
    if lsb:
        _encode(_load(rk), rk, first_pair, np.uint64(mask), x, ub, out, bits, 3)
    else:
        _encode(_load(rk), rk, first_pair, np.uint64(mask), x, ub, out, bits, 1)


def pack_bits(u: np.ndarray) -> np.ndarray:
    """``u`` (0/1 bytes) packed 64 to a uint64 word, bit ``i`` of ``u`` at bit ``i % 64`` of word ``i // 64``."""
    packed = np.packbits(u, bitorder="little")
    words = np.zeros(-(-packed.size // 8), dtype=np.uint64)
    words.view(np.uint8)[:packed.size] = packed
    return words


class LocalCode:
    """The public ``n × k`` matrix ``A`` (``d = 10`` ones per row) given by a 16-byte seed."""

    def __init__(self, seed: bytes, k: int):
        seed = bytes(seed)
        if len(seed) != 16:
            raise ParameterError(f"LPN seed must be 16 bytes, got {len(seed)}")
        if k <= 0 or k & (k - 1) or k > 1 << 30:
            raise ParameterError(f"k must be a power of two up to 2^30, got {k}")
        self.seed = seed
        self.k = k
        self._rk = round_keys(seed)

    def _check(self, start: int, out, x, name):
        if start < 0 or start % 2:
            raise ParameterError(f"{name}: the first row must be even and >= 0, got {start}")
        if out.shape[0] % 2:
            raise ParameterError(f"{name}: the number of rows must be even, got {out.shape[0]}")
        if x.shape != (self.k, 16) or x.dtype != np.uint8 or not x.flags.c_contiguous:
            raise ParameterError(f"{name}: x must be a C-contiguous ({self.k}, 16) uint8 array")
        if out.ndim != 2 or out.shape[1] != 16 or out.dtype != np.uint8 or not out.flags.c_contiguous:
            raise ParameterError(f"{name}: out must be a C-contiguous (m, 16) uint8 array")

    def add_encoded(self, start: int, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out[i] ^= (A·x)[start + i]`` for every row of ``out`` (blocks), in place."""
        self._check(start, out, x, "LocalCode.add_encoded")
        _encode_sender(self._rk, start // 2, self.k - 1, x.view(np.uint64), out.view(np.uint64), False)
        return out

    def add_encoded_with_bits(self, start: int, x: np.ndarray, u: np.ndarray, out: np.ndarray,
                              bits: np.ndarray, *, packed_u: np.ndarray | None = None) -> None:
        """As :meth:`add_encoded`, and ``bits[i] ^= (A·u)[start + i]`` with the same rows.

        ``packed_u``: ``pack_bits(u)``, for callers that encode many slices with one ``u``
        (packing costs a pass over ``u``); it must be exactly that."""
        self._check(start, out, x, "LocalCode.add_encoded_with_bits")
        if u.shape != (self.k,) or u.dtype != np.uint8 or bits.shape != (out.shape[0],) or bits.dtype != np.uint8:
            raise ParameterError("u must be (k,) uint8 and bits (m,) uint8")
        if packed_u is None:
            packed_u = pack_bits(u)
        elif packed_u.shape != (-(-self.k // 64),) or packed_u.dtype != np.uint64:
            raise ParameterError("packed_u must be pack_bits(u)")
        _encode_receiver(self._rk, start // 2, self.k - 1, x.view(np.uint64), packed_u, out.view(np.uint64), bits,
                         False)

    def add_encoded_lsb(self, start: int, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Sender, LSB convention: ``out[i] = (out[i] with bit 0 cleared) ⊕ (A·x)[start + i]``.

        With bit 0 of every ``x`` block 0 too, every output has bit 0 clear."""
        self._check(start, out, x, "LocalCode.add_encoded_lsb")
        _encode_sender(self._rk, start // 2, self.k - 1, x.view(np.uint64), out.view(np.uint64), True)
        return out

    def add_encoded_lsb_bits(self, start: int, x: np.ndarray, out: np.ndarray, bits: np.ndarray) -> None:
        """Receiver, LSB convention: ``out[i] = (out[i] with bit 0 set to bits[i]) ⊕ (A·x)[start + i]``,
        then ``bits[i] = `` bit 0 of ``out[i]`` (``bits`` holds 0/1 bytes).

        Where bit 0 of each ``x`` block is the choice bit ``u`` of that COT, ``bits`` becomes
        ``bits ⊕ A·u`` from the same gathers: what :meth:`add_encoded_with_bits` computes from
        ``u`` with ten more reads a row."""
        self._check(start, out, x, "LocalCode.add_encoded_lsb_bits")
        if bits.shape != (out.shape[0],) or bits.dtype != np.uint8:
            raise ParameterError("bits must be (m,) uint8")
        _encode_receiver(self._rk, start // 2, self.k - 1, x.view(np.uint64), np.empty(0, np.uint64),
                         out.view(np.uint64), bits, True)

    def row_positions(self, start: int, m: int) -> np.ndarray:
        """The ``d`` positions of rows ``start … start + m − 1`` as ``(m, d)`` int64 (reference path).

        Computed with one bulk OpenSSL call, independently of the kernels, so
        tests can check those against a plain matrix product.
        """
        if start < 0 or start % 2 or m % 2:
            raise ParameterError("row_positions needs an even start and an even count")
        pairs = m // 2
        ctr = np.zeros((5 * pairs, 2), dtype=np.uint64)
        ctr[:, 0] = np.arange(5 * (start // 2), 5 * (start // 2 + pairs), dtype=np.uint64)
        words = aes_ecb(self.seed, ctr.view(np.uint8)).view(np.uint32).reshape(pairs, 2 * LPN_D)
        return (words & np.uint32(self.k - 1)).astype(np.int64).reshape(m, LPN_D)


def kernel_specs() -> list:
    """The code's kernels (both roles, both conventions), for :func:`pqmpc.primitives.preload.preload`."""
    from ...primitives.preload import BOOL, I64, arr

    u64 = arr("uint64", 2)
    return [(_encode_sender, (u64, I64, I64, u64, u64, BOOL)),
            (_encode_receiver, (u64, I64, I64, u64, arr("uint64", 1), u64, arr("uint8", 1), BOOL))]


__all__ = ["LocalCode", "kernel_specs", "pack_bits"]
