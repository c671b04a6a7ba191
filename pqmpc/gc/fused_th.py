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
def _tccr6(ks, x0, x1, x2, x3, x4, x5, t0, hi):
    # x0, x1 share tweak t0; x2, x3 t0+1; x4, x5 t0+2 (six independent AES chains)
    p0 = _enc(ks, x0)
    p1 = _enc(ks, x1)
    p2 = _enc(ks, x2)
    p3 = _enc(ks, x3)
    p4 = _enc(ks, x4)
    p5 = _enc(ks, x5)
    t1 = t0 + np.uint64(1)
    t2 = t0 + np.uint64(2)
    q0 = _enc(ks, (p0[0] ^ t0, p0[1] ^ hi))
    q1 = _enc(ks, (p1[0] ^ t0, p1[1] ^ hi))
    q2 = _enc(ks, (p2[0] ^ t1, p2[1] ^ hi))
    q3 = _enc(ks, (p3[0] ^ t1, p3[1] ^ hi))
    q4 = _enc(ks, (p4[0] ^ t2, p4[1] ^ hi))
    q5 = _enc(ks, (p5[0] ^ t2, p5[1] ^ hi))
    return ((q0[0] ^ p0[0], q0[1] ^ p0[1]), (q1[0] ^ p1[0], q1[1] ^ p1[1]),
            (q2[0] ^ p2[0], q2[1] ^ p2[1]), (q3[0] ^ p3[0], q3[1] ^ p3[1]),
            (q4[0] ^ p4[0], q4[1] ^ p4[1]), (q5[0] ^ p5[0], q5[1] ^ p5[1]))






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
        pa = lab[wa, 0] & one
        pb = lab[wb, 0] & one
        ma = mask(pa)
        mb = mask(pb)
        ac = (lab[wa, 0] ^ (ma & d0), lab[wa, 1] ^ (ma & d1))  # colour-0 label of A
        bc = (lab[wb, 0] ^ (mb & d0), lab[wb, 1] ^ (mb & d1))
        cc = (ac[0] ^ bc[0], ac[1] ^ bc[1])
        h = _tccr6(ks, ac, (ac[0] ^ d0, ac[1] ^ d1), bc, (bc[0] ^ d0, bc[1] ^ d1),
                   cc, (cc[0] ^ d0, cc[1] ^ d1), np.uint64(3) * k, hi)
        s = rand_bits(rbits, k, kb)
        garble_finish(lab, tables, row, out[g], ac, bc, d0, d1, h[0], h[1], h[2], h[3], h[4],
                      h[5], pa ^ one, pb ^ one, s, gmask)
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
        h = _tccr3(ks, wa, wb, (wa[0] ^ wb[0], wa[1] ^ wb[1]), np.uint64(3) * k, hi)
        eval_finish(lab, tables, row, out[g], wa, wb, h[0], h[1], h[2], emask)
        row += 1
        k += np.uint64(1)
        g += 1
    return row
