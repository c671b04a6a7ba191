"""Half-gates walks with 256-bit VAES: two AES blocks per instruction.

The AND gates of one AND-depth run never read each other's outputs
(``Schedule.gates`` says how many follow each AND in its run), so the garbler
hashes four ANDs per step (16 blocks: the pairs ``(A0, A0 ⊕ Δ)`` and ``(B0, B0 ⊕ Δ)``
of each) and the evaluator eight (16 blocks: ``(A, B)`` of each), as eight
256-bit chains: enough to keep both AES units busy through their latency. Runs
shorter than that go one AND at a time, and free gates as in :mod:`pqmpc.gc.fused`;
the tables and labels are the same bytes (tested). The hashing is one block of
LLVM IR per step and every helper is inlined at numba level: passed through numba
tuples and calls, the 256-bit state was unpacked each round and the walk ran slower
than the 128-bit one. Nothing jitted is imported from another file, because
numba's cache of a kernel is invalidated only by changes to the kernel's own file.

A pair of blocks is ``UniTuple(uint64, 4)`` (block ``x`` in words 0–1, ``y`` in
words 2–3), one ymm register. Compiling a VAES instruction for a CPU without it
aborts the process, so :mod:`pqmpc.gc.halfgates` calls these kernels only when
:data:`pqmpc.primitives.cpu.HAVE_VAES` says numba's target has VAES and AVX2.
Same security notes as :mod:`pqmpc.gc.fused`: semi-honest half-gates under the
TCCR assumption; masks instead of branches on label bits, no promise of constant
time from Python/numba.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from pqmpc.gc.schedule import GATE_AND
from pqmpc.primitives.aes_kernels import aes128_load_keys

__all__ = ["PAIR", "garble_range", "evaluate_range"]

#: numba type of two blocks side by side (one ymm register).
PAIR = types.UniTuple(types.uint64, 4)
_Y4 = ir.VectorType(ir.IntType(64), 4)
_I32 = ir.IntType(32)


def _to_vec(builder, tup):
    v = ir.Constant(_Y4, ir.Undefined)
    for i in range(4):
        v = builder.insert_element(v, builder.extract_value(tup, i), ir.Constant(_I32, i))
    return v


def _to_tup(context, builder, vec):
    t = ir.Constant(context.get_value_type(PAIR), ir.Undefined)
    for i in range(4):
        t = builder.insert_value(t, builder.extract_element(vec, ir.Constant(_I32, i)), i)
    return t


@njit(inline="always")
def _x(a, b):
    return (a[0] ^ b[0], a[1] ^ b[1], a[2] ^ b[2], a[3] ^ b[3])


@njit(inline="always")
def _dup(k):
    return (k[0], k[1], k[0], k[1])


@njit(inline="always")
def _keys2(ks):
    return (_dup(ks[0]), _dup(ks[1]), _dup(ks[2]), _dup(ks[3]), _dup(ks[4]), _dup(ks[5]),
            _dup(ks[6]), _dup(ks[7]), _dup(ks[8]), _dup(ks[9]), _dup(ks[10]))


_KEYS2 = types.UniTuple(PAIR, 11)


def _tccr_pairs(n):
    """An intrinsic: TCCR of ``n`` pairs with pair tweaks, as one block of IR, so the
    permutations stay in ymm registers from the first round to the last (through numba
    tuples each round would be unpacked and repacked)."""
    pairs = types.UniTuple(PAIR, n)

    @intrinsic
    def _op(typingctx, k2, xs, ts):
        if k2 != _KEYS2 or xs != pairs or ts != pairs:
            return None

        def codegen(context, builder, sig, args):
            fty = ir.FunctionType(_Y4, [_Y4, _Y4])
            enc = cgutils.get_or_insert_function(builder.module, fty, "llvm.x86.aesni.aesenc.256")
            last = cgutils.get_or_insert_function(builder.module, fty, "llvm.x86.aesni.aesenclast.256")
            keys = [_to_vec(builder, builder.extract_value(args[0], r)) for r in range(11)]
            xs_v = [_to_vec(builder, builder.extract_value(args[1], j)) for j in range(n)]
            ts_v = [_to_vec(builder, builder.extract_value(args[2], j)) for j in range(n)]

            def perm(vs):
                vs = [builder.xor(v, keys[0]) for v in vs]
                for r in range(1, 10):
                    vs = [builder.call(enc, [v, keys[r]]) for v in vs]
                return [builder.call(last, [v, keys[10]]) for v in vs]

            p = perm(xs_v)
            q = perm([builder.xor(pv, tv) for pv, tv in zip(p, ts_v)])
            res = ir.Constant(context.get_value_type(pairs), ir.Undefined)
            for j in range(n):
                res = builder.insert_value(res, _to_tup(context, builder, builder.xor(q[j], p[j])), j)
            return res

        return pairs(_KEYS2, pairs, pairs), codegen

    return _op


_tccr8_ir = _tccr_pairs(8)
_tccr2_ir = _tccr_pairs(2)
_tccr1_ir = _tccr_pairs(1)


@njit(inline="always")
def _mask(bit):
    return np.uint64(0) - (bit & np.uint64(1))


@njit(inline="always")
def _garble_finish(lab, tables, row, o, a0, b0, ha0, ha1, hb0, hb1, d0, d1):
    # the half-gates equations of pqmpc.gc.fused, kept here so that this file's numba
    # cache depends on nothing outside it
    ma = _mask(a0[0])
    mb = _mask(b0[0])
    tg0 = ha0[0] ^ ha1[0] ^ (mb & d0)
    tg1 = ha0[1] ^ ha1[1] ^ (mb & d1)
    te0 = hb0[0] ^ hb1[0] ^ a0[0]
    te1 = hb0[1] ^ hb1[1] ^ a0[1]
    lab[o, 0] = ha0[0] ^ (ma & tg0) ^ hb0[0] ^ (mb & (te0 ^ a0[0]))
    lab[o, 1] = ha0[1] ^ (ma & tg1) ^ hb0[1] ^ (mb & (te1 ^ a0[1]))
    tables[row, 0] = tg0
    tables[row, 1] = tg1
    tables[row, 2] = te0
    tables[row, 3] = te1


@njit(inline="always")
def _eval_finish(lab, tables, row, o, wa, wb, hg, he):
    ma = _mask(wa[0])
    mb = _mask(wb[0])
    lab[o, 0] = hg[0] ^ (ma & tables[row, 0]) ^ he[0] ^ (mb & (tables[row, 2] ^ wa[0]))
    lab[o, 1] = hg[1] ^ (ma & tables[row, 1]) ^ he[1] ^ (mb & (tables[row, 3] ^ wa[1]))


@njit(inline="always")
def _tccr8(k2, x0, x1, x2, x3, x4, x5, x6, x7, t0, t1, t2, t3, t4, t5, t6, t7):
    """TCCR of eight pairs (sixteen blocks) with pair tweaks ``t*``: eight chains in flight."""
    return _tccr8_ir(k2, (x0, x1, x2, x3, x4, x5, x6, x7), (t0, t1, t2, t3, t4, t5, t6, t7))


@njit(inline="always")
def _lo(p):
    return (p[0], p[1])


@njit(inline="always")
def _hi(p):
    return (p[2], p[3])


@njit(inline="always")
def _pd(lab, w, d0, d1):
    """(zero-label, zero-label ⊕ Δ) of wire ``w``."""
    x0 = lab[w, 0]
    x1 = lab[w, 1]
    return (x0, x1, x0 ^ d0, x1 ^ d1)


@njit(inline="always")
def _garble4(k2, lab, tables, row, gates, g, t, hi, d0, d1):
    one = np.uint64(1)
    two = np.uint64(2)
    a0, b0 = gates[g, 0], gates[g, 1]
    a1, b1 = gates[g + 1, 0], gates[g + 1, 1]
    a2, b2 = gates[g + 2, 0], gates[g + 2, 1]
    a3, b3 = gates[g + 3, 0], gates[g + 3, 1]
    pa0, pb0 = _pd(lab, a0, d0, d1), _pd(lab, b0, d0, d1)
    pa1, pb1 = _pd(lab, a1, d0, d1), _pd(lab, b1, d0, d1)
    pa2, pb2 = _pd(lab, a2, d0, d1), _pd(lab, b2, d0, d1)
    pa3, pb3 = _pd(lab, a3, d0, d1), _pd(lab, b3, d0, d1)
    t1, t2, t3 = t + two, t + two * two, t + np.uint64(6)
    ha0, hb0, ha1, hb1, ha2, hb2, ha3, hb3 = _tccr8(
        k2, pa0, pb0, pa1, pb1, pa2, pb2, pa3, pb3,
        (t, hi, t, hi), (t + one, hi, t + one, hi), (t1, hi, t1, hi), (t1 + one, hi, t1 + one, hi),
        (t2, hi, t2, hi), (t2 + one, hi, t2 + one, hi), (t3, hi, t3, hi), (t3 + one, hi, t3 + one, hi))
    _garble_finish(lab, tables, row, gates[g, 2], _lo(pa0), _lo(pb0), _lo(ha0), _hi(ha0), _lo(hb0),
                   _hi(hb0), d0, d1)
    _garble_finish(lab, tables, row + 1, gates[g + 1, 2], _lo(pa1), _lo(pb1), _lo(ha1), _hi(ha1),
                   _lo(hb1), _hi(hb1), d0, d1)
    _garble_finish(lab, tables, row + 2, gates[g + 2, 2], _lo(pa2), _lo(pb2), _lo(ha2), _hi(ha2),
                   _lo(hb2), _hi(hb2), d0, d1)
    _garble_finish(lab, tables, row + 3, gates[g + 3, 2], _lo(pa3), _lo(pb3), _lo(ha3), _hi(ha3),
                   _lo(hb3), _hi(hb3), d0, d1)


@njit(inline="always")
def _free_run_garble(gates, g, g1, lab, d0, d1):
    """Free gates from ``g`` up to the next AND (or ``g1``); returns where it stopped. Its
    own loop, so the hot path keeps its registers apart from the AND step's."""
    while g < g1:
        kind = gates[g, 3]
        if kind & 3 == GATE_AND:
            break
        a = gates[g, 0]
        b = gates[g, 1]
        o = gates[g, 2]
        m = np.uint64(0) - np.uint64(kind & 1)
        lab[o, 0] = lab[a, 0] ^ lab[b, 0] ^ (m & d0)
        lab[o, 1] = lab[a, 1] ^ lab[b, 1] ^ (m & d1)
        g += 1
    return g


@njit(inline="always")
def _free_run_eval(gates, g, g1, lab):
    while g < g1:
        if gates[g, 3] & 3 == GATE_AND:
            break
        a = gates[g, 0]
        b = gates[g, 1]
        o = gates[g, 2]
        lab[o, 0] = lab[a, 0] ^ lab[b, 0]
        lab[o, 1] = lab[a, 1] ^ lab[b, 1]
        g += 1
    return g


@njit(cache=True, nogil=True)
def garble_range(rk, gates, g0, g1, k0, hi, lab, d0, d1, tables):
    """:func:`pqmpc.gc.fused.garble_range` with four ANDs per VAES step (same arguments, same bytes)."""
    k2 = _keys2(aes128_load_keys(rk))
    row = 0
    one = np.uint64(1)
    k = np.uint64(k0)
    g = g0
    while g < g1:
        a = gates[g, 0]
        b = gates[g, 1]
        o = gates[g, 2]
        kind = gates[g, 3]
        if kind & 3 != GATE_AND:
            g = _free_run_garble(gates, g, g1, lab, d0, d1)
            continue
        t = np.uint64(2) * k
        if kind >> 2 >= 3 and g + 3 < g1:
            _garble4(k2, lab, tables, row, gates, g, t, hi, d0, d1)
            row += 4
            k += np.uint64(4)
            g += 4
            continue
        pa, pb = _pd(lab, a, d0, d1), _pd(lab, b, d0, d1)
        ha, hb = _tccr2_ir(k2, (pa, pb), ((t, hi, t, hi), (t + one, hi, t + one, hi)))
        _garble_finish(lab, tables, row, o, _lo(pa), _lo(pb), _lo(ha), _hi(ha), _lo(hb), _hi(hb), d0, d1)
        row += 1
        k += np.uint64(1)
        g += 1
    return row


@njit(inline="always")
def _ab(lab, a, b):
    return (lab[a, 0], lab[a, 1], lab[b, 0], lab[b, 1])


@njit(inline="always")
def _tw(t, j, hi):
    u = t + np.uint64(2 * j)
    return (u, hi, u + np.uint64(1), hi)


@njit(inline="always")
def _eval8(k2, lab, tables, row, gates, g, t, hi):
    x0 = _ab(lab, gates[g, 0], gates[g, 1])
    x1 = _ab(lab, gates[g + 1, 0], gates[g + 1, 1])
    x2 = _ab(lab, gates[g + 2, 0], gates[g + 2, 1])
    x3 = _ab(lab, gates[g + 3, 0], gates[g + 3, 1])
    x4 = _ab(lab, gates[g + 4, 0], gates[g + 4, 1])
    x5 = _ab(lab, gates[g + 5, 0], gates[g + 5, 1])
    x6 = _ab(lab, gates[g + 6, 0], gates[g + 6, 1])
    x7 = _ab(lab, gates[g + 7, 0], gates[g + 7, 1])
    h0, h1, h2, h3, h4, h5, h6, h7 = _tccr8(k2, x0, x1, x2, x3, x4, x5, x6, x7, _tw(t, 0, hi), _tw(t, 1, hi),
                                            _tw(t, 2, hi), _tw(t, 3, hi), _tw(t, 4, hi), _tw(t, 5, hi),
                                            _tw(t, 6, hi), _tw(t, 7, hi))
    _eval_finish(lab, tables, row, gates[g, 2], _lo(x0), _hi(x0), _lo(h0), _hi(h0))
    _eval_finish(lab, tables, row + 1, gates[g + 1, 2], _lo(x1), _hi(x1), _lo(h1), _hi(h1))
    _eval_finish(lab, tables, row + 2, gates[g + 2, 2], _lo(x2), _hi(x2), _lo(h2), _hi(h2))
    _eval_finish(lab, tables, row + 3, gates[g + 3, 2], _lo(x3), _hi(x3), _lo(h3), _hi(h3))
    _eval_finish(lab, tables, row + 4, gates[g + 4, 2], _lo(x4), _hi(x4), _lo(h4), _hi(h4))
    _eval_finish(lab, tables, row + 5, gates[g + 5, 2], _lo(x5), _hi(x5), _lo(h5), _hi(h5))
    _eval_finish(lab, tables, row + 6, gates[g + 6, 2], _lo(x6), _hi(x6), _lo(h6), _hi(h6))
    _eval_finish(lab, tables, row + 7, gates[g + 7, 2], _lo(x7), _hi(x7), _lo(h7), _hi(h7))


@njit(cache=True, nogil=True)
def evaluate_range(rk, gates, g0, g1, k0, hi, lab, tables):
    """:func:`pqmpc.gc.fused.evaluate_range` with eight ANDs per VAES step (same arguments, same bytes)."""
    k2 = _keys2(aes128_load_keys(rk))
    row = 0
    one = np.uint64(1)
    k = np.uint64(k0)
    g = g0
    while g < g1:
        a = gates[g, 0]
        b = gates[g, 1]
        o = gates[g, 2]
        kind = gates[g, 3]
        if kind & 3 != GATE_AND:
            g = _free_run_eval(gates, g, g1, lab)
            continue
        t = np.uint64(2) * k
        if kind >> 2 >= 7 and g + 7 < g1:
            _eval8(k2, lab, tables, row, gates, g, t, hi)
            row += 8
            k += np.uint64(8)
            g += 8
            continue
        x = _ab(lab, a, b)
        h = _tccr1_ir(k2, (x,), ((t, hi, t + one, hi),))[0]
        _eval_finish(lab, tables, row, o, _lo(x), _hi(x), _lo(h), _hi(h))
        row += 1
        k += np.uint64(1)
        g += 1
    return row
