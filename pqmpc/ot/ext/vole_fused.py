"""The subspace VOLE of SoftSpokenOT with the leaf PRG and the sums over leaves fused (VAES, k = 2, 4).

Per tree and per 32 bytes of every leaf stream, one kernel step runs the AES-CTR
blocks of all ``2^k`` leaves of the tree side by side in ymm registers (two
counter blocks per register, each leaf's round keys pre-broadcast to both lanes)
and XORs them into the tree's ``k`` row sums (and ``u``) while still in registers:
the leaf streams never reach memory, where the bulk path writes them and the
butterfly of :mod:`.subspace_vole` reads them back. The sender walks its leaves in
the order ``x' = x ⊕ Δ_i`` so that "bit b of x ⊕ Δ_i" is known when the kernel is
compiled, and skips ``x' = 0`` (the leaf it does not know). Same bytes as the
bulk path (the tests compare them); used by :class:`.subspace_vole._VoleMatrix`
where VAES runs, for k = 2 and 4, AES-128 leaves (κ = 128) and AES-256 (κ = 256).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ...primitives.cpu import HAVE_VAES

__all__ = ["FUSED_KS", "HAVE_FUSED", "broadcast_keys", "fused_receiver", "fused_sender"]

HAVE_FUSED = HAVE_VAES
FUSED_KS = (2, 4)
_I32 = ir.IntType(32)
_Y4 = ir.VectorType(ir.IntType(64), 4)
_U4 = types.UniTuple(types.uint64, 4)


def broadcast_keys(rk: np.ndarray) -> np.ndarray:
    """``(L, R, 2)`` AES round keys → ``(L, R, 4)``: each key in both 128-bit lanes."""
    return np.ascontiguousarray(np.concatenate([rk, rk], axis=2))


def _arr(t, nd):
    return isinstance(t, types.Array) and t.dtype == types.uint64 and t.ndim == nd and t.layout == "C"


@intrinsic
def _slice(typingctx, rky, leaf0, d, ctr, dst, row0, w, k, sender, rounds):
    """One tree, one 32-byte column slice: returns ``u`` (receiver; zeros for the sender) and stores the
    ``k`` row sums at ``dst[row0 + b, w … w + 3]``; ``rounds``: 10 (AES-128 leaves) or 14 (AES-256)."""
    if not (_arr(rky, 3) and _arr(dst, 2) and all(isinstance(a, types.Integer) for a in (leaf0, d, ctr, row0, w))
            and isinstance(k, types.IntegerLiteral) and isinstance(sender, types.BooleanLiteral)
            and isinstance(rounds, types.IntegerLiteral) and rounds.literal_value in (10, 14)):
        return None
    kk = k.literal_value
    is_sender = sender.literal_value
    nr = rounds.literal_value

    def codegen(context, builder, sig, args):
        i64 = ir.IntType(64)
        intp = context.get_value_type(types.intp)
        ka = context.make_array(sig.args[0])(context, builder, args[0])
        da = context.make_array(sig.args[4])(context, builder, args[4])
        leaf0_v, d_v, row0_v, w_v = (context.cast(builder, args[i], sig.args[i], types.intp) for i in (1, 2, 5, 6))
        ctr_v = context.cast(builder, args[3], sig.args[3], types.int64)
        fenc = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_Y4, [_Y4, _Y4]),
                                              "llvm.x86.aesni.aesenc.256")
        flast = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_Y4, [_Y4, _Y4]),
                                               "llvm.x86.aesni.aesenclast.256")
        fbswap = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i64, [i64]), "llvm.bswap.i64")

        def c(v):
            return ir.Constant(intp, v)

        ctrv = ir.Constant(_Y4, None)
        for ln in range(2):
            ctrv = builder.insert_element(ctrv, builder.call(fbswap, [builder.add(ctr_v, ir.Constant(i64, ln))]),
                                          ir.Constant(_I32, 2 * ln + 1))
        leaves = [x for x in range(1 << kk) if not (is_sender and x == 0)]
        idx = {}
        for x in leaves:
            # receiver: leaf x; sender: leaf x ⊕ Δ_i (the bits of x decide the sums)
            idx[x] = builder.add(leaf0_v, builder.xor(d_v, c(x)) if is_sender else c(x))

        def key(x, r):
            p = cgutils.get_item_pointer(context, builder, sig.args[0], ka, [idx[x], c(r), c(0)])
            return builder.load(builder.bitcast(p, _Y4.as_pointer()), align=8)

        st = {x: builder.xor(ctrv, key(x, 0)) for x in leaves}
        for r in range(1, nr):
            st = {x: builder.call(fenc, [v, key(x, r)]) for x, v in st.items()}
        st = {x: builder.call(flast, [v, key(x, nr)]) for x, v in st.items()}
        zero = ir.Constant(_Y4, None)
        u = zero
        sums = [zero] * kk
        for x, v in st.items():
            if not is_sender:
                u = builder.xor(u, v)
            for b in range(kk):
                if (x >> b) & 1:
                    sums[b] = builder.xor(sums[b], v)
        for b in range(kk):
            p = cgutils.get_item_pointer(context, builder, sig.args[4], da, [builder.add(row0_v, c(b)), w_v])
            builder.store(sums[b], builder.bitcast(p, _Y4.as_pointer()), align=8)
        out = ir.Constant(context.get_value_type(_U4), ir.Undefined)
        for j in range(4):
            out = builder.insert_value(out, builder.extract_element(u, ir.Constant(_I32, j)), j)
        return out

    return _U4(rky, leaf0, d, ctr, dst, row0, w, k, sender, rounds), codegen


if HAVE_VAES:
    # One kernel per (k, rounds, side): k and the rounds must be compile-time constants of the slice.
    @njit(cache=True, nogil=True)
    def _receiver2_10(rky, start, choice, corr, v):
        nb, cw = corr.shape
        for i in range(nb):
            for s in range(cw // 4):
                w = 4 * s
                u = _slice(rky, i << 2, 0, start + 2 * s, v, i * 2, w, 2, False, 10)
                for j in range(4):
                    corr[i, w + j] = u[j] ^ choice[w + j]

    @njit(cache=True, nogil=True)
    def _sender2_10(rky, start, points, dbits, corr, q):
        nb, cw = corr.shape
        for i in range(nb):
            for s in range(cw // 4):
                _slice(rky, i << 2, points[i], start + 2 * s, q, i * 2, 4 * s, 2, True, 10)
        _add_corrections(2, dbits, corr, q)

    @njit(cache=True, nogil=True)
    def _receiver2_14(rky, start, choice, corr, v):
        nb, cw = corr.shape
        for i in range(nb):
            for s in range(cw // 4):
                w = 4 * s
                u = _slice(rky, i << 2, 0, start + 2 * s, v, i * 2, w, 2, False, 14)
                for j in range(4):
                    corr[i, w + j] = u[j] ^ choice[w + j]

    @njit(cache=True, nogil=True)
    def _sender2_14(rky, start, points, dbits, corr, q):
        nb, cw = corr.shape
        for i in range(nb):
            for s in range(cw // 4):
                _slice(rky, i << 2, points[i], start + 2 * s, q, i * 2, 4 * s, 2, True, 14)
        _add_corrections(2, dbits, corr, q)

    @njit(cache=True, nogil=True)
    def _receiver4_10(rky, start, choice, corr, v):
        nb, cw = corr.shape
        for i in range(nb):
            for s in range(cw // 4):
                w = 4 * s
                u = _slice(rky, i << 4, 0, start + 2 * s, v, i * 4, w, 4, False, 10)
                for j in range(4):
                    corr[i, w + j] = u[j] ^ choice[w + j]

    @njit(cache=True, nogil=True)
    def _sender4_10(rky, start, points, dbits, corr, q):
        nb, cw = corr.shape
        for i in range(nb):
            for s in range(cw // 4):
                _slice(rky, i << 4, points[i], start + 2 * s, q, i * 4, 4 * s, 4, True, 10)
        _add_corrections(4, dbits, corr, q)

    @njit(cache=True, nogil=True)
    def _receiver4_14(rky, start, choice, corr, v):
        nb, cw = corr.shape
        for i in range(nb):
            for s in range(cw // 4):
                w = 4 * s
                u = _slice(rky, i << 4, 0, start + 2 * s, v, i * 4, w, 4, False, 14)
                for j in range(4):
                    corr[i, w + j] = u[j] ^ choice[w + j]

    @njit(cache=True, nogil=True)
    def _sender4_14(rky, start, points, dbits, corr, q):
        nb, cw = corr.shape
        for i in range(nb):
            for s in range(cw // 4):
                _slice(rky, i << 4, points[i], start + 2 * s, q, i * 4, 4 * s, 4, True, 14)
        _add_corrections(4, dbits, corr, q)

    _KERNELS = {(2, 10): (_receiver2_10, _sender2_10), (2, 14): (_receiver2_14, _sender2_14),
                (4, 10): (_receiver4_10, _sender4_10), (4, 14): (_receiver4_14, _sender4_14)}


@njit(cache=True, nogil=True)
def _add_corrections(k, dbits, corr, q):
    nb, cw = corr.shape
    for i in range(nb):
        for b in range(k):
            if dbits[i * k + b]:
                for w in range(cw):
                    q[i * k + b, w] ^= corr[i, w]


def fused_receiver(k: int, rky, start: int, choice: np.ndarray, corr: np.ndarray, v: np.ndarray) -> None:
    """Receiver rows of one chunk (uint8 arrays, widths a multiple of 32 bytes), streams from block ``start``."""
    _KERNELS[k, rky.shape[1] - 1][0](rky, start, choice.view(np.uint64), corr.view(np.uint64), v.view(np.uint64))


def fused_sender(k: int, rky, start: int, points, dbits, corr: np.ndarray, q: np.ndarray) -> None:
    """Sender rows of one chunk (as :func:`fused_receiver`)."""
    _KERNELS[k, rky.shape[1] - 1][1](rky, start, points, dbits, corr.view(np.uint64), q.view(np.uint64))
