"""Three-halves kernels (Rosulek–Roy, CRYPTO 2021) with the AES rounds inside the gate walk.

Same shape as :mod:`pqmpc.gc.fused` (half-gates): one njit loop over the scheduled
gate list, free gates as branch-free XORs, AES from
:mod:`pqmpc.primitives.aes_kernels` under the public fixed key. The garbler makes
six TCCR calls per AND gate (twelve AES), the evaluator three (six AES); the
garbler's six are issued as one batch of six independent chains.

The scheme, the matrices and the derived coefficient tables (``gmask``, ``emask``)
are in :mod:`pqmpc.gc.threehalves`; these kernels only apply them. Tables are
``(m, 4) uint64`` rows ``G0, G1, G2, z`` (three 64-bit half-ciphertexts, the five
control bits in the low bits of ``z``); :mod:`pqmpc.gc.threehalves` packs them to
197 bits per AND for the wire. Without AES-NI this walk never sees an AND gate
(:mod:`pqmpc.gc.threehalves` sends all of them to OpenSSL).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from pqmpc.gc.kernels import OP_AND
from pqmpc.gc.th_kernels import eval_finish, garble_finish, mask, rand_bits
from pqmpc.primitives.aes_kernels import aes128_encrypt, aes128_load_keys

_enc = aes128_encrypt


@njit
def _tccr3(ks, x0, x1, x2, t0, hi):
    p0 = _enc(ks, x0)
    p1 = _enc(ks, x1)
    p2 = _enc(ks, x2)
    q0 = _enc(ks, (p0[0] ^ t0, p0[1] ^ hi))
    q1 = _enc(ks, (p1[0] ^ (t0 + np.uint64(1)), p1[1] ^ hi))
    q2 = _enc(ks, (p2[0] ^ (t0 + np.uint64(2)), p2[1] ^ hi))
    return ((q0[0] ^ p0[0], q0[1] ^ p0[1]), (q1[0] ^ p1[0], q1[1] ^ p1[1]),
            (q2[0] ^ p2[0], q2[1] ^ p2[1]))


@njit
def _tccr6(ks, x0, x1, x2, x3, x4, x5, t0, hi, consecutive=False):
    # garbler: x0, x1 share tweak t0; x2, x3 t0+1; x4, x5 t0+2. consecutive (the
    # evaluator's two ANDs): x_n gets t0+n. Six independent AES chains either way.
    p0 = _enc(ks, x0)
    p1 = _enc(ks, x1)
    p2 = _enc(ks, x2)
    p3 = _enc(ks, x3)
    p4 = _enc(ks, x4)
    p5 = _enc(ks, x5)
    if consecutive:
        u0, u1, u2 = t0, t0 + np.uint64(1), t0 + np.uint64(2)
        u3, u4, u5 = t0 + np.uint64(3), t0 + np.uint64(4), t0 + np.uint64(5)
    else:
        u0 = u1 = t0
        u2 = u3 = t0 + np.uint64(1)
        u4 = u5 = t0 + np.uint64(2)
    q0 = _enc(ks, (p0[0] ^ u0, p0[1] ^ hi))
    q1 = _enc(ks, (p1[0] ^ u1, p1[1] ^ hi))
    q2 = _enc(ks, (p2[0] ^ u2, p2[1] ^ hi))
    q3 = _enc(ks, (p3[0] ^ u3, p3[1] ^ hi))
    q4 = _enc(ks, (p4[0] ^ u4, p4[1] ^ hi))
    q5 = _enc(ks, (p5[0] ^ u5, p5[1] ^ hi))
    return ((q0[0] ^ p0[0], q0[1] ^ p0[1]), (q1[0] ^ p1[0], q1[1] ^ p1[1]),
            (q2[0] ^ p2[0], q2[1] ^ p2[1]), (q3[0] ^ p3[0], q3[1] ^ p3[1]),
            (q4[0] ^ p4[0], q4[1] ^ p4[1]), (q5[0] ^ p5[0], q5[1] ^ p5[1]))






@njit
def _tccr12(ks, x, t0, t1, hi):
    """Hashes of two ANDs at once: ``x[0..5]`` with tweaks from ``t0``, ``x[6..11]`` from ``t1``."""
    p0 = _enc(ks, x[0])
    p1 = _enc(ks, x[1])
    p2 = _enc(ks, x[2])
    p3 = _enc(ks, x[3])
    p4 = _enc(ks, x[4])
    p5 = _enc(ks, x[5])
    p6 = _enc(ks, x[6])
    p7 = _enc(ks, x[7])
    p8 = _enc(ks, x[8])
    p9 = _enc(ks, x[9])
    p10 = _enc(ks, x[10])
    p11 = _enc(ks, x[11])
    one = np.uint64(1)
    two = np.uint64(2)
    q0 = _enc(ks, (p0[0] ^ t0, p0[1] ^ hi))
    q1 = _enc(ks, (p1[0] ^ t0, p1[1] ^ hi))
    q2 = _enc(ks, (p2[0] ^ (t0 + one), p2[1] ^ hi))
    q3 = _enc(ks, (p3[0] ^ (t0 + one), p3[1] ^ hi))
    q4 = _enc(ks, (p4[0] ^ (t0 + two), p4[1] ^ hi))
    q5 = _enc(ks, (p5[0] ^ (t0 + two), p5[1] ^ hi))
    q6 = _enc(ks, (p6[0] ^ t1, p6[1] ^ hi))
    q7 = _enc(ks, (p7[0] ^ t1, p7[1] ^ hi))
    q8 = _enc(ks, (p8[0] ^ (t1 + one), p8[1] ^ hi))
    q9 = _enc(ks, (p9[0] ^ (t1 + one), p9[1] ^ hi))
    q10 = _enc(ks, (p10[0] ^ (t1 + two), p10[1] ^ hi))
    q11 = _enc(ks, (p11[0] ^ (t1 + two), p11[1] ^ hi))
    return ((q0[0] ^ p0[0], q0[1] ^ p0[1]), (q1[0] ^ p1[0], q1[1] ^ p1[1]),
            (q2[0] ^ p2[0], q2[1] ^ p2[1]), (q3[0] ^ p3[0], q3[1] ^ p3[1]),
            (q4[0] ^ p4[0], q4[1] ^ p4[1]), (q5[0] ^ p5[0], q5[1] ^ p5[1]),
            (q6[0] ^ p6[0], q6[1] ^ p6[1]), (q7[0] ^ p7[0], q7[1] ^ p7[1]),
            (q8[0] ^ p8[0], q8[1] ^ p8[1]), (q9[0] ^ p9[0], q9[1] ^ p9[1]),
            (q10[0] ^ p10[0], q10[1] ^ p10[1]), (q11[0] ^ p11[0], q11[1] ^ p11[1]))


@njit
def _colour0(lab, w, d0, d1):
    m = mask(lab[w, 0])
    return (lab[w, 0] ^ (m & d0), lab[w, 1] ^ (m & d1))


@njit
def _six(ac, bc, d0, d1):
    cc = (ac[0] ^ bc[0], ac[1] ^ bc[1])
    return (ac, (ac[0] ^ d0, ac[1] ^ d1), bc, (bc[0] ^ d0, bc[1] ^ d1), cc,
            (cc[0] ^ d0, cc[1] ^ d1))


@njit(cache=True, nogil=True)
def garble_range(rk, op, in0, in1, umask, out, g0, g1, k0, hi, lab, d0, d1, tables, rbits,
                 kbase, gmask):
    """Garble scheduled gates ``[g0, g1)``; the first AND there is AND ``k0`` of the garbling.

    Tweaks of AND ``k``: ``(3k, hi)``, ``(3k+1, hi)``, ``(3k+2, hi)`` for the hashes of
    ``A``, ``B`` and ``A ⊕ B``. ``rbits``: the garbler's secret R$ bits, two per AND,
    word ``(k >> 5) - kbase`` holding ANDs ``32·(k >> 5) ..``.
    """
    ks = aes128_load_keys(rk)
    row = 0
    one = np.uint64(1)
    k = np.uint64(k0)
    kb = np.uint64(kbase)
    g = g0
    while g < g1:
        if op[g] != OP_AND:
            a = in0[g]
            b = in1[g]
            m = umask[g]
            o = out[g]
            lab[o, 0] = lab[a, 0] ^ lab[b, 0] ^ (m & d0)
            lab[o, 1] = lab[a, 1] ^ lab[b, 1] ^ (m & d1)
            g += 1
            continue
        wa = in0[g]
        wb = in1[g]
        ac = _colour0(lab, wa, d0, d1)
        bc = _colour0(lab, wb, d0, d1)
        xa = _six(ac, bc, d0, d1)
        t = np.uint64(3) * k
        if (g + 1 < g1 and op[g + 1] == OP_AND and in0[g + 1] != out[g]
                and in1[g + 1] != out[g]):
            # two independent ANDs: twelve AES chains in flight
            wa2 = in0[g + 1]
            wb2 = in1[g + 1]
            ac2 = _colour0(lab, wa2, d0, d1)
            bc2 = _colour0(lab, wb2, d0, d1)
            xb = _six(ac2, bc2, d0, d1)
            h = _tccr12(ks, xa + xb, t, t + np.uint64(3), hi)
            garble_finish(lab, tables, row, out[g], ac, bc, d0, d1, h[0], h[1], h[2], h[3], h[4],
                          h[5], (lab[wa, 0] & one) ^ one, (lab[wb, 0] & one) ^ one,
                          rand_bits(rbits, k, kb), gmask)
            garble_finish(lab, tables, row + 1, out[g + 1], ac2, bc2, d0, d1, h[6], h[7], h[8],
                          h[9], h[10], h[11], (lab[wa2, 0] & one) ^ one, (lab[wb2, 0] & one) ^ one,
                          rand_bits(rbits, k + one, kb), gmask)
            row += 2
            k += np.uint64(2)
            g += 2
            continue
        h = _tccr6(ks, xa[0], xa[1], xa[2], xa[3], xa[4], xa[5], t, hi)
        garble_finish(lab, tables, row, out[g], ac, bc, d0, d1, h[0], h[1], h[2], h[3], h[4],
                      h[5], (lab[wa, 0] & one) ^ one, (lab[wb, 0] & one) ^ one,
                      rand_bits(rbits, k, kb), gmask)
        row += 1
        k += one
        g += 1
    return row




@njit(cache=True, nogil=True)
def evaluate_range(rk, op, in0, in1, out, g0, g1, k0, hi, lab, tables, emask):
    """Evaluate scheduled gates ``[g0, g1)`` with active labels in ``lab``."""
    ks = aes128_load_keys(rk)
    row = 0
    k = np.uint64(k0)
    g = g0
    while g < g1:
        if op[g] != OP_AND:
            a = in0[g]
            b = in1[g]
            o = out[g]
            lab[o, 0] = lab[a, 0] ^ lab[b, 0]
            lab[o, 1] = lab[a, 1] ^ lab[b, 1]
            g += 1
            continue
        a = in0[g]
        b = in1[g]
        wa = (lab[a, 0], lab[a, 1])
        wb = (lab[b, 0], lab[b, 1])
        t = np.uint64(3) * k
        if (g + 1 < g1 and op[g + 1] == OP_AND and in0[g + 1] != out[g]
                and in1[g + 1] != out[g]):
            a2 = in0[g + 1]
            b2 = in1[g + 1]
            wa2 = (lab[a2, 0], lab[a2, 1])
            wb2 = (lab[b2, 0], lab[b2, 1])
            h = _tccr6(ks, wa, wb, (wa[0] ^ wb[0], wa[1] ^ wb[1]), wa2, wb2,
                       (wa2[0] ^ wb2[0], wa2[1] ^ wb2[1]), t, hi, True)
            eval_finish(lab, tables, row, out[g], wa, wb, h[0], h[1], h[2], emask)
            eval_finish(lab, tables, row + 1, out[g + 1], wa2, wb2, h[3], h[4], h[5], emask)
            row += 2
            k += np.uint64(2)
            g += 2
            continue
        h = _tccr3(ks, wa, wb, (wa[0] ^ wb[0], wa[1] ^ wb[1]), t, hi)
        eval_finish(lab, tables, row, out[g], wa, wb, h[0], h[1], h[2], emask)
        row += 1
        k += np.uint64(1)
        g += 1
    return row
