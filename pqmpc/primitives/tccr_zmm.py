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

import functools

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .aes import DEFAULT_KEY
from .aes_kernels import round_keys_cached
from .cpu import HAVE_VAES, HAVE_ZMM
from .llvm_ir import item_ptr

__all__ = ["HAVE_TCCR_ZMM", "STEP", "hash_keys", "pair_loop", "pair_loop_nt", "random_ot_rows", "tccr_loop",
           "tccr_loop_nt", "tccr_rows"]

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
def _step(typingctx, rk, x, delta, i, start, tag, out0, out1, fused, regs, nt0, nt1):
    """Rows ``i … i + 4·regs − 1``: ``out0 = H(x, start + row)`` and, if ``fused``, ``out1 = H(x ⊕ Δ, start + row)``
    (``regs`` registers of rows: 4, or 8 for the single hash, so it has as many AES chains in flight as the pair);
    ``nt0``/``nt1``: that output's stores are non-temporal (its row ``i`` must start a 64-byte line)."""
    if not (_u64(rk, 2) and _u64(x, 2) and _u64(delta, 1) and _u64(out0, 2) and _u64(out1, 2)
            and all(isinstance(a, types.Integer) for a in (i, start, tag))
            and isinstance(fused, types.BooleanLiteral)
            and isinstance(regs, types.IntegerLiteral) and regs.literal_value in (4, 8)
            and isinstance(nt0, types.BooleanLiteral) and isinstance(nt1, types.BooleanLiteral)):
        return None
    both = fused.literal_value
    nr = regs.literal_value
    nts = (nt0.literal_value, nt1.literal_value)

    def codegen(context, builder, sig, args):
        intp = context.get_value_type(types.intp)
        rka, xa, da, o0a, o1a = (context.make_array(sig.args[j])(context, builder, args[j]) for j in (0, 1, 2, 6, 7))
        i_v = context.cast(builder, args[3], sig.args[3], types.intp)
        start_v = context.cast(builder, args[4], sig.args[4], types.uint64)
        tag_v = context.cast(builder, args[5], sig.args[5], types.uint64)

        def c(v):
            return ir.Constant(intp, v)

        ptr = functools.partial(item_ptr, context, builder)

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
        md = builder.module.add_metadata([ir.Constant(_I32, 1)])

        def store(v, aty, arr, row, nt):
            st = builder.store(v, ptr(aty, arr, [row, c(0)], _Z), align=64 if nt else 8)
            if nt:
                st.set_metadata("nontemporal", md)

        for j in range(nr):
            row = builder.add(i_v, c(4 * j))
            store(ys[j], sig.args[6], o0a, row, nts[0])
            if both:
                store(ys[nr + j], sig.args[7], o1a, row, nts[1])
        return context.get_dummy_value()

    return types.void(rk, x, delta, i, start, tag, out0, out1, fused, regs, nt0, nt1), codegen


@intrinsic
def _sfence(typingctx):
    """Orders the non-temporal stores before whatever the thread does next."""
    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse.sfence")
        builder.call(fn, [])
        return context.get_dummy_value()

    return types.void(), codegen


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
            _step(rk, x, d, i, start, tag, out, out, False, 8, False, False)
            i += 2 * STEP
        if i < stop:
            _step(rk, x, d, i, start, tag, out, out, False, 4, False, False)
        return stop

    @njit(cache=True, nogil=True)
    def pair_loop(rk, q, delta, start, tag, m0, m1):
        stop = q.shape[0] - q.shape[0] % STEP
        i = 0
        while i + 2 * STEP <= stop:  # 32 rows a step here too (1.65 vs 1.55 ns a row)
            _step(rk, q, delta, i, start, tag, m0, m1, True, 8, False, False)
            i += 2 * STEP
        if i < stop:
            _step(rk, q, delta, i, start, tag, m0, m1, True, 4, False, False)
        return stop

    # The same with the outputs' whole 64-byte lines written by non-temporal stores, for outputs no
    # one reads soon (a random-OT call's m0, m1: 32 MiB per 2^20 that would first be read from
    # memory for ownership; 3.1 -> 2.5 ms per 2^20 pairs into memory not in cache). A line must be
    # stored whole, so the steps start at the first row that begins one; the rows before it and
    # after the last step go through a 16-row scratch (inputs copied first: out may be x). m1
    # streams too if its rows sit at the same place in their lines as m0's.
    @njit(inline="always")
    def _part(rk, x, delta, a, r, start, tag, out0, out1, both, scr):
        # rows a … a + r − 1 (r < 16) by one ordinary step on copies
        for j in range(r):
            scr[j, 0] = x[a + j, 0]
            scr[j, 1] = x[a + j, 1]
        o0, o1 = scr[16:32], scr[32:48]
        if both:
            _step(rk, scr[:16], delta, 0, start + np.uint64(a), tag, o0, o1, True, 4, False, False)
        else:
            _step(rk, scr[:16], delta, 0, start + np.uint64(a), tag, o0, o1, False, 4, False, False)
        for j in range(r):
            out0[a + j, 0] = o0[j, 0]
            out0[a + j, 1] = o0[j, 1]
            if both:
                out1[a + j, 0] = o1[j, 0]
                out1[a + j, 1] = o1[j, 1]

    @njit(cache=True, nogil=True)
    def tccr_loop_nt(rk, x, start, tag, out):
        stop = x.shape[0] - x.shape[0] % STEP
        if stop < 4 * STEP or out.ctypes.data % 16:
            return tccr_loop(rk, x, start, tag, out)
        d = np.zeros(2, dtype=np.uint64)
        scr = np.zeros((48, 2), dtype=np.uint64)
        h = (64 - out.ctypes.data % 64) % 64 // 16
        _part(rk, x, d, 0, h, start, tag, out, out, False, scr)
        i = h
        while i + 2 * STEP <= stop:
            _step(rk, x, d, i, start, tag, out, out, False, 8, True, False)
            i += 2 * STEP
        while i + STEP <= stop:
            _step(rk, x, d, i, start, tag, out, out, False, 4, True, False)
            i += STEP
        _part(rk, x, d, i, stop - i, start, tag, out, out, False, scr)
        _sfence()
        return stop

    @njit(cache=True, nogil=True)
    def pair_loop_nt(rk, q, delta, start, tag, m0, m1):
        stop = q.shape[0] - q.shape[0] % STEP
        if stop < 4 * STEP or m0.ctypes.data % 16:
            return pair_loop(rk, q, delta, start, tag, m0, m1)
        scr = np.zeros((48, 2), dtype=np.uint64)
        h = (64 - m0.ctypes.data % 64) % 64 // 16
        _part(rk, q, delta, 0, h, start, tag, m0, m1, True, scr)
        i = h
        if (m1.ctypes.data - m0.ctypes.data) % 64 == 0:
            while i + 2 * STEP <= stop:
                _step(rk, q, delta, i, start, tag, m0, m1, True, 8, True, True)
                i += 2 * STEP
            while i + STEP <= stop:
                _step(rk, q, delta, i, start, tag, m0, m1, True, 4, True, True)
                i += STEP
        else:
            while i + 2 * STEP <= stop:
                _step(rk, q, delta, i, start, tag, m0, m1, True, 8, True, False)
                i += 2 * STEP
            while i + STEP <= stop:
                _step(rk, q, delta, i, start, tag, m0, m1, True, 4, True, False)
                i += STEP
        _part(rk, q, delta, i, stop - i, start, tag, m0, m1, True, scr)
        _sfence()
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
