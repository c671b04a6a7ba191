"""The leaf streams of SoftSpokenOT's subspace VOLE, two AES blocks per instruction (VAES).

A SoftSpoken party expands ``κ/k · 2^k`` leaf seeds per chunk (k = 4: 512
AES-128-CTR streams, twice IKNP's PRG work), so the stream cipher is most of its
time. :class:`LeafStreams` produces exactly the streams of
:class:`~pqmpc.primitives.prg.MultiKeyCTR` (same keys, same counters, same
position bookkeeping) with a VAES kernel where the CPU has it: each ymm
register holds two consecutive counter blocks of one stream under that
stream's round keys (broadcast to both lanes), eight registers in flight to
cover the AES latency; AES-128 leaves (κ = 128) and AES-256 leaves (κ = 256).
Elsewhere (no VAES, an odd block count or an unaligned position) it is the bulk
kernel of ``MultiKeyCTR``.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ...primitives.aes_kernels import round_keys_many
from ...primitives.cpu import HAVE_VAES
from ...primitives.prg import MultiKeyCTR

__all__ = ["HAVE_VAES_STREAMS", "LeafStreams"]

#: whether the VAES kernel runs here
HAVE_VAES_STREAMS = HAVE_VAES
_I32 = ir.IntType(32)
_V2 = ir.VectorType(ir.IntType(64), 2)
_Y4 = ir.VectorType(ir.IntType(64), 4)


def _arr3(t):
    return isinstance(t, types.Array) and t.dtype == types.uint64 and t.ndim == 3 and t.layout == "C"


@intrinsic
def _aes_ctr_vaes(typingctx, rk, j, ctr, out, b, nymm, rounds):
    """Blocks ``b … b + 2·nymm − 1`` of stream ``j`` (counters ``ctr …``) into ``out[j]``, AES with VAES
    (``rounds``: 10 for AES-128, 14 for AES-256; ``rk[j]`` holds ``rounds + 1`` round keys)."""
    if not (_arr3(rk) and _arr3(out) and isinstance(j, types.Integer) and isinstance(ctr, types.Integer)
            and isinstance(b, types.Integer) and isinstance(nymm, types.IntegerLiteral)
            and isinstance(rounds, types.IntegerLiteral) and rounds.literal_value in (10, 14)):
        return None
    count = nymm.literal_value
    nr = rounds.literal_value

    def codegen(context, builder, sig, args):
        i64 = ir.IntType(64)
        intp = context.get_value_type(types.intp)
        rka = context.make_array(sig.args[0])(context, builder, args[0])
        oa = context.make_array(sig.args[3])(context, builder, args[3])
        j_v = context.cast(builder, args[1], sig.args[1], types.intp)
        ctr_v = context.cast(builder, args[2], sig.args[2], types.int64)
        b_v = context.cast(builder, args[4], sig.args[4], types.intp)

        def c(v):
            return ir.Constant(intp, v)

        undef2 = ir.Constant(_V2, ir.Undefined)
        bcast = ir.Constant(ir.VectorType(_I32, 4), [0, 1, 0, 1])
        keys = []
        for r in range(nr + 1):
            p = cgutils.get_item_pointer(context, builder, sig.args[0], rka, [j_v, c(r), c(0)])
            k2 = builder.load(builder.bitcast(p, _V2.as_pointer()), align=8)
            keys.append(builder.shuffle_vector(k2, undef2, bcast))
        fenc = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_Y4, [_Y4, _Y4]),
                                              "llvm.x86.aesni.aesenc.256")
        flast = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_Y4, [_Y4, _Y4]),
                                               "llvm.x86.aesni.aesenclast.256")
        fbswap = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i64, [i64]), "llvm.bswap.i64")
        zero = ir.Constant(_Y4, None)
        vs = []
        for q in range(count):
            v = zero  # counter block: 8 zero bytes, then the 64-bit counter big-endian
            for ln in range(2):
                cv = builder.add(ctr_v, ir.Constant(i64, 2 * q + ln))
                v = builder.insert_element(v, builder.call(fbswap, [cv]), ir.Constant(_I32, 2 * ln + 1))
            vs.append(builder.xor(v, keys[0]))
        for r in range(1, nr):
            vs = [builder.call(fenc, [v, keys[r]]) for v in vs]
        vs = [builder.call(flast, [v, keys[nr]]) for v in vs]
        for q, v in enumerate(vs):
            p = cgutils.get_item_pointer(context, builder, sig.args[3], oa, [j_v, builder.add(b_v, c(2 * q)), c(0)])
            builder.store(v, builder.bitcast(p, _Y4.as_pointer()), align=8)
        return context.get_dummy_value()

    return types.void(rk, j, ctr, out, b, nymm, rounds), codegen


if HAVE_VAES:
    @njit(cache=True, nogil=True)
    def _streams_vaes128(rk, start, out):
        k, nblk = out.shape[0], out.shape[1]
        for j in range(k):
            b = 0
            while b + 16 <= nblk:
                _aes_ctr_vaes(rk, j, start + b, out, b, 8, 10)
                b += 16
            while b + 2 <= nblk:
                _aes_ctr_vaes(rk, j, start + b, out, b, 1, 10)
                b += 2

    @njit(cache=True, nogil=True)
    def _streams_vaes256(rk, start, out):
        k, nblk = out.shape[0], out.shape[1]
        for j in range(k):
            b = 0
            while b + 16 <= nblk:
                _aes_ctr_vaes(rk, j, start + b, out, b, 8, 14)
                b += 16
            while b + 2 <= nblk:
                _aes_ctr_vaes(rk, j, start + b, out, b, 1, 14)
                b += 2


class LeafStreams:
    """``MultiKeyCTR(seeds)`` with :meth:`next` on the VAES kernel where it applies (module docstring)."""

    def __init__(self, seeds: np.ndarray):
        self.g = MultiKeyCTR(seeds)
        self.k = self.g.k
        fast = HAVE_VAES and self.g.backend == "numba+AES-NI"
        self._rk = np.ascontiguousarray(round_keys_many(seeds)) if fast else None
        if fast:
            self._kernel = _streams_vaes128 if seeds.shape[1] == 16 else _streams_vaes256

    @property
    def pos(self) -> int:
        return self.g.pos

    @property
    def backend(self) -> str:
        return self.g.backend

    def skip(self, nbytes: int) -> None:
        """Advance every stream by ``nbytes`` (the caller produced those bytes itself, e.g. in a fused kernel)."""
        self.g.pos += nbytes

    def next(self, nbytes: int, out: np.ndarray | None = None) -> np.ndarray:
        """The next ``nbytes`` of every stream, ``(k, nbytes)`` (as ``MultiKeyCTR.next``)."""
        g = self.g
        if (self._rk is None or g.pos % 16 or nbytes % 32 or self.k == 0
                or (out is not None and not (out.flags.c_contiguous and out.shape == (self.k, nbytes)))):
            return g.next(nbytes, out)
        if out is None:
            out = np.empty((self.k, nbytes), dtype=np.uint8)
        self._kernel(self._rk, g.pos // 16, out.view(np.uint64).reshape(self.k, nbytes // 16, 2))
        g.pos += nbytes
        return out
