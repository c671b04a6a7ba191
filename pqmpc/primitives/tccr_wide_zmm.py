"""Random OT's pair of 32-byte TCCR hashes (:func:`.hashing.tccr_wide`, κ = 256) in one pass, on zmm.

``H(x, T) = E_x(T) ‖ E_x(T + 2^127)``, AES-256 keyed by the row, four rows per zmm register
(AVX-512 VAES). :func:`wide_pair_rows` is the sender's ``m0 = H(q, i)``, ``m1 = H(q ⊕ Δ, i)``:
``q ⊕ Δ`` is formed in registers, so the separate XOR pass over ``m1`` and the second read of
``q`` and of the tweaks go away. The wide hash is bound by AES instructions (a key schedule per
row), so what this saves is the memory passes around it.

Whole 8-row steps (four key schedules and eight cipher chains in flight, as
:func:`.aes_unrolled.tccr_wide_zmm_loop` has for 16 single rows); it returns how many rows it did,
and the caller finishes the tail with :func:`.hashing.tccr_wide`. Same bytes (the tests compare).
Callers check :data:`HAVE_WIDE_ZMM`. The single hash stays :func:`.hashing.tccr_wide`'s own kernel.
"""

from __future__ import annotations

import functools

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .cpu import HAVE_AESNI, HAVE_VAES, HAVE_ZMM
from .llvm_ir import emit_expand256, item_ptr, u64_array

__all__ = ["HAVE_WIDE_ZMM", "PAIR_STEP", "wide_pair_loop", "wide_pair_rows"]

#: whether the zmm kernels run here
HAVE_WIDE_ZMM: bool = HAVE_AESNI and HAVE_VAES and HAVE_ZMM
#: rows per step
PAIR_STEP = 8

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_V2 = ir.VectorType(_I64, 2)
_Y4 = ir.VectorType(_I64, 4)
_Z = ir.VectorType(_I64, 8)


def _mask(*m):
    return ir.Constant(ir.VectorType(_I32, len(m)), list(m))


@intrinsic
def _pair_step(typingctx, x, delta, i, tw, tag, out0, out1):
    """Rows ``i … i + 7``: ``out0 = H(x, tw[row])``, ``out1 = H(x ⊕ Δ, tw[row])``; ``Δ`` is ``(4,)`` uint64."""
    if not (u64_array(x) and u64_array(delta, 1) and u64_array(tw, 1) and u64_array(out0) and u64_array(out1)
            and out0.mutable and out1.mutable and all(isinstance(a, types.Integer) for a in (i, tag))):
        return None
    rows = PAIR_STEP

    def codegen(context, builder, sig, args):
        intp = context.get_value_type(types.intp)
        xa, da, ta, o0a, o1a = (context.make_array(sig.args[j])(context, builder, args[j]) for j in (0, 1, 3, 5, 6))
        i_v = context.cast(builder, args[2], sig.args[2], types.intp)
        tag_v = context.cast(builder, args[4], sig.args[4], types.uint64)

        def c(v):
            return ir.Constant(intp, v)

        ptr = functools.partial(item_ptr, context, builder)

        # tweaks read from tw: formed in registers (start + i), LLVM's loop strength reduction made
        # them vector induction variables and the key schedules then spilled (measured 1.2x slower)
        tagv = builder.insert_element(ir.Constant(_Y4, ir.Undefined), tag_v, ir.Constant(_I32, 0))
        d4 = builder.load(ptr(sig.args[1], da, [c(0)], _Y4), align=8)
        dz = builder.shuffle_vector(d4, d4, _mask(0, 1, 2, 3, 0, 1, 2, 3))  # Δ for two rows side by side
        keys, tws, at = [], [], []
        for j in range(0, rows, 4):
            r0, r2 = builder.add(i_v, c(j)), builder.add(i_v, c(j + 2))
            a = builder.load(ptr(sig.args[0], xa, [r0, c(0)], _Z), align=8)  # rows j, j+1: [lo, hi, lo, hi]
            b = builder.load(ptr(sig.args[0], xa, [r2, c(0)], _Z), align=8)  # rows j+2, j+3
            variants = [(a, b), (builder.xor(a, dz), builder.xor(b, dz))]
            w4 = builder.load(ptr(sig.args[3], ta, [r0], _Y4), align=8)  # -> [tw_r, tag, tw_r+1, tag, ...]
            tw = builder.shuffle_vector(w4, tagv, _mask(0, 4, 1, 4, 2, 4, 3, 4))
            for v, (va, vb) in enumerate(variants):
                # lane ln = row j + ln: low key halves in one register, high halves in another
                keys.append((builder.shuffle_vector(va, vb, _mask(0, 1, 4, 5, 8, 9, 12, 13)),
                             builder.shuffle_vector(va, vb, _mask(2, 3, 6, 7, 10, 11, 14, 15))))
                tws.append(tw)
                at.append((r0, r2, v))
        enc = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_Z, [_Z, _Z]),
                                             "llvm.x86.aesni.aesenc.512")
        last = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_Z, [_Z, _Z]),
                                              "llvm.x86.aesni.aesenclast.512")
        top = ir.Constant(_Z, [0, 1 << 63] * 4)
        state = [[t, builder.or_(t, top)] for t in tws]

        def on_key(j, r, k):
            if r == 0:
                state[j] = [builder.xor(s, k) for s in state[j]]
            else:
                fn = enc if r < 14 else last
                state[j] = [builder.call(fn, [s, k]) for s in state[j]]

        emit_expand256(context, builder, keys, on_key, lanes=4)
        outs = ((sig.args[5], o0a), (sig.args[6], o1a))
        for (r0, r2, v), (s0, s1) in zip(at, state):
            oty, oa = outs[v]
            builder.store(builder.shuffle_vector(s0, s1, _mask(0, 1, 8, 9, 2, 3, 10, 11)),
                          ptr(oty, oa, [r0, c(0)], _Z), align=8)
            builder.store(builder.shuffle_vector(s0, s1, _mask(4, 5, 12, 13, 6, 7, 14, 15)),
                          ptr(oty, oa, [r2, c(0)], _Z), align=8)
        return context.get_dummy_value()

    return types.void(x, delta, i, tw, tag, out0, out1), codegen


if HAVE_WIDE_ZMM:
    # q, m0, m1: (n, 4) uint64 rows, tw (n,) uint64; whole steps; returns how many rows it did
    @njit(cache=True, nogil=True)
    def wide_pair_loop(q, delta, tw, tag, m0, m1):
        stop = q.shape[0] - q.shape[0] % PAIR_STEP
        for i in range(0, stop, PAIR_STEP):
            _pair_step(q, delta, i, tw, tag, m0, m1)
        return stop
else:  # pragma: no cover - no AVX-512 VAES here
    wide_loop = wide_pair_loop = None


def wide_pair_rows(q: np.ndarray, delta: np.ndarray, tweaks: np.ndarray, tag: int, m0: np.ndarray,
                   m1: np.ndarray) -> int:
    """``m0[i] = tccr_wide(q[i], tweaks[i], tag)``, ``m1[i] = tccr_wide(q[i] ⊕ Δ, tweaks[i], tag)`` for the
    first ``n − n mod 8`` rows (``(n, 32)`` uint8 rows, ``(n,)`` uint64 tweaks, C order); ``m0`` may be
    ``q``, ``m1`` must not overlap it. Returns that row count."""
    d = np.ascontiguousarray(delta, dtype=np.uint8).view(np.uint64)
    return int(wide_pair_loop(q.view(np.uint64), d, tweaks, np.uint64(tag), m0.view(np.uint64), m1.view(np.uint64)))
