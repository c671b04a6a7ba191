"""The 16-byte TCCR hash of :func:`.hashing.tccr` on zmm registers, and random OT's pair of hashes fused.

``H(x, i) = π(π(x) ⊕ (i, tag)) ⊕ π(x)`` with π fixed-key AES-128, four blocks per AES
instruction (AVX-512 VAES; :mod:`.aes_unrolled`'s bulk kernel runs ymm, two). Thirty-two rows
per step: eight registers of rows, whose two encryptions give eight (or, fused, sixteen)
independent AES chains in flight (four were latency-bound), then one last step of sixteen.
The integer tweaks are consecutive (``start + i``, as :func:`pqmpc.ot.derive.tweak_range`
makes them), so they are formed in registers instead of read from a tweak array.

:func:`tccr_rows` is ``tccr(x, start + arange(n), tag=tag)``; :func:`random_ot_rows` is the
sender's ``m0 = H(q, i)``, ``m1 = H(q ⊕ Δ, i)`` in one pass over ``q`` (the separate XOR pass
and second read of ``q`` go away). Both do whole 16-row steps and return how many rows they
did; the caller finishes the tail with :func:`.hashing.tccr`. Same bytes (the tests compare).
Callers check :data:`HAVE_TCCR_ZMM`.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .aes import DEFAULT_KEY
from .aes_kernels import round_keys_cached
from .cpu import HAVE_VAES
from .gf128_vaes import HAVE_ZMM

__all__ = ["HAVE_TCCR_ZMM", "STEP", "hash_keys", "pair_loop", "random_ot_rows", "tccr_loop", "tccr_rows"]

#: whether the zmm kernels run here
HAVE_TCCR_ZMM: bool = HAVE_VAES and HAVE_ZMM
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_V2 = ir.VectorType(_I64, 2)
_Z = ir.VectorType(_I64, 8)
#: rows per step (four zmm registers)
STEP = 16


def _u64(t, nd):
    return isinstance(t, types.Array) and t.dtype == types.uint64 and t.ndim == nd and t.layout == "C"


@intrinsic
def _step(typingctx, rk, x, delta, i, start, tag, out0, out1, fused, regs):
    """Rows ``i … i + 4·regs − 1``: ``out0 = H(x, start + row)`` and, if ``fused``, ``out1 = H(x ⊕ Δ, start + row)``
    (``regs`` registers of rows: 4, or 8 for the single hash, so it has as many AES chains in flight as the pair)."""
    if not (_u64(rk, 2) and _u64(x, 2) and _u64(delta, 1) and _u64(out0, 2) and _u64(out1, 2)
            and all(isinstance(a, types.Integer) for a in (i, start, tag))
            and isinstance(fused, types.BooleanLiteral)
            and isinstance(regs, types.IntegerLiteral) and regs.literal_value in (4, 8)):
        return None
    both = fused.literal_value
    nr = regs.literal_value

    def codegen(context, builder, sig, args):
        intp = context.get_value_type(types.intp)
        rka, xa, da, o0a, o1a = (context.make_array(sig.args[j])(context, builder, args[j]) for j in (0, 1, 2, 6, 7))
        i_v = context.cast(builder, args[3], sig.args[3], types.intp)
        start_v = context.cast(builder, args[4], sig.args[4], types.uint64)
        tag_v = context.cast(builder, args[5], sig.args[5], types.uint64)

        def c(v):
            return ir.Constant(intp, v)

        def ptr(aty, arr, idx, vt):
            return builder.bitcast(cgutils.get_item_pointer(context, builder, aty, arr, idx), vt.as_pointer())

        undef2 = ir.Constant(_V2, ir.Undefined)
        four = ir.Constant(ir.VectorType(_I32, 8), [0, 1] * 4)
        keys = [builder.shuffle_vector(builder.load(ptr(sig.args[0], rka, [c(r), c(0)], _V2), align=8), undef2, four)
                for r in range(11)]
        fenc = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_Z, [_Z, _Z]),
                                              "llvm.x86.aesni.aesenc.512")
        flast = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_Z, [_Z, _Z]),
                                               "llvm.x86.aesni.aesenclast.512")

        def encrypt(vs):
            vs = [builder.xor(v, keys[0]) for v in vs]
            for r in range(1, 10):
                vs = [builder.call(fenc, [v, keys[r]]) for v in vs]
            return [builder.call(flast, [v, keys[10]]) for v in vs]

        xs = [builder.load(ptr(sig.args[1], xa, [builder.add(i_v, c(4 * j)), c(0)], _Z), align=8) for j in range(nr)]
        if both:
            d = builder.shuffle_vector(builder.load(ptr(sig.args[2], da, [c(0)], _V2), align=8), undef2, four)
            xs = xs + [builder.xor(v, d) for v in xs]
        ps = encrypt(xs)
        # tweak blocks (start + i + row, tag): the row counter in word 0 of each lane, the tag in word 1
        base = builder.add(start_v, i_v)
        pair = builder.insert_element(builder.insert_element(undef2, base, ir.Constant(_I32, 0)), tag_v,
                                      ir.Constant(_I32, 1))
        pairs = builder.shuffle_vector(pair, undef2, four)
        tws = [builder.add(pairs, ir.Constant(_Z, [v for ln in range(4) for v in (4 * j + ln, 0)])) for j in range(nr)]
        if both:
            tws = tws + tws
        ys = encrypt([builder.xor(p, t) for p, t in zip(ps, tws)])
        ys = [builder.xor(y, p) for y, p in zip(ys, ps)]
        for j in range(nr):
            row = builder.add(i_v, c(4 * j))
            builder.store(ys[j], ptr(sig.args[6], o0a, [row, c(0)], _Z), align=8)
            if both:
                builder.store(ys[nr + j], ptr(sig.args[7], o1a, [row, c(0)], _Z), align=8)
        return context.get_dummy_value()

    return types.void(rk, x, delta, i, start, tag, out0, out1, fused, regs), codegen


if HAVE_TCCR_ZMM:
    # njit-callable (the VOLE row kernels hash their tiles with them): x (n, 2) uint64 rows, whole
    # 16-row steps, returning how many rows they did
    @njit(cache=True, nogil=True)
    def tccr_loop(rk, x, start, tag, out):
        stop = x.shape[0] - x.shape[0] % STEP
        d = np.zeros(2, dtype=np.uint64)
        # 32 rows a step (eight chains in flight: four were latency-bound, 1.10 vs 0.88 ns a row), then a
        # last 16-row step
        i = 0
        while i + 2 * STEP <= stop:
            _step(rk, x, d, i, start, tag, out, out, False, 8)
            i += 2 * STEP
        if i < stop:
            _step(rk, x, d, i, start, tag, out, out, False, 4)
        return stop

    @njit(cache=True, nogil=True)
    def pair_loop(rk, q, delta, start, tag, m0, m1):
        stop = q.shape[0] - q.shape[0] % STEP
        i = 0
        while i + 2 * STEP <= stop:  # 32 rows a step here too (1.65 vs 1.55 ns a row)
            _step(rk, q, delta, i, start, tag, m0, m1, True, 8)
            i += 2 * STEP
        if i < stop:
            _step(rk, q, delta, i, start, tag, m0, m1, True, 4)
        return stop


def hash_keys() -> np.ndarray:
    """The round keys ``tccr_loop`` and ``pair_loop`` take (the fixed TCCR key's, ``(11, 2)`` uint64)."""
    return round_keys_cached(DEFAULT_KEY)


def tccr_rows(x: np.ndarray, start: int, tag: int, out: np.ndarray) -> int:
    """``out[i] = tccr(x[i], start + i, tag)`` for the first ``n − n mod 16`` rows (``(n, 16)`` uint8,
    C order; ``out`` may be ``x``); returns that row count."""
    return int(tccr_loop(hash_keys(), x.view(np.uint64), np.uint64(start % (1 << 64)), np.uint64(tag),
                          out.view(np.uint64)))


def random_ot_rows(q: np.ndarray, delta: np.ndarray, start: int, tag: int, m0: np.ndarray, m1: np.ndarray) -> int:
    """``m0[i] = H(q[i], start + i)``, ``m1[i] = H(q[i] ⊕ Δ, start + i)`` for the first ``n − n mod 16``
    rows; ``m0`` may be ``q``, ``m1`` must not overlap it. Returns that row count."""
    d = np.ascontiguousarray(delta, dtype=np.uint8).view(np.uint64)
    return int(pair_loop(hash_keys(), q.view(np.uint64), d, np.uint64(start % (1 << 64)), np.uint64(tag),
                          m0.view(np.uint64), m1.view(np.uint64)))
