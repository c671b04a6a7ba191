"""Half-gates kernels with the AES rounds inside the gate walk.

One njit loop walks the scheduled gate list: free gates are a few XORs, each AND
gate costs four TCCR hashes (garbler) or two (evaluator), i.e. eight or four AES
calls. Two independent neighbouring AND gates are processed together so the CPU
has eight independent AES chains in flight. Because the loop never returns to
Python, deep and narrow circuits (AES, SHA-256, adders) run at the same per-gate
cost as wide ones.

AES comes from :mod:`pqmpc.primitives.aes_kernels`, whose ``aes128_encrypt`` is
bound at import to the AES-NI version or, when numba's target lacks AES-NI, to a
table-based pure-numba AES with identical output; nothing here compiles an
intrinsic the CPU cannot run. The table AES is not constant time, so without AES-NI
:mod:`pqmpc.gc.halfgates` never sends an AND gate (secret labels) through this walk:
it only runs the free gates, which use no AES. The permutation key is the public fixed key of
:class:`pqmpc.primitives.aes.FixedKeyAES` (its one cached schedule,
``aes_kernels.fixed_key_schedule()``), so these kernels give the same bytes as
the bulk OpenSSL path in :mod:`pqmpc.gc.halfgates`.

Label lsbs select values through masks rather than branches, but timing is not
a security property Python/numba can promise; the scheme is semi-honest half-gates
under the TCCR assumption (:mod:`pqmpc.gc.halfgates`).

The gate list is the schedule's packed form (``Schedule.gates``: one ``ua, ub, out,
kind`` row per gate), so a walk touches one 16-byte row per gate. Tables are
``(m, 4) uint64`` rows ``TG_lo, TG_hi, TE_lo, TE_hi`` (32 bytes per AND).
The tweaks of the ``k``-th AND of the schedule are the blocks ``(2k, hi)`` and
``(2k+1, hi)`` (low word, high word), ``hi`` naming the garbling
(:mod:`pqmpc.gc.tweaks`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from pqmpc.gc.schedule import GATE_AND
from pqmpc.primitives.aes_kernels import aes128_encrypt, aes128_load_keys

_enc = aes128_encrypt


@njit
def _tccr(ks, x, t, hi):
    p = _enc(ks, x)
    q = _enc(ks, (p[0] ^ t, p[1] ^ hi))
    return (q[0] ^ p[0], q[1] ^ p[1])


@njit
def _tccr4(ks, x0, x1, x2, x3, t0, t1, t2, t3, hi):
    # four independent chains so the AES unit is never waiting on one result
    p0 = _enc(ks, x0)
    p1 = _enc(ks, x1)
    p2 = _enc(ks, x2)
    p3 = _enc(ks, x3)
    q0 = _enc(ks, (p0[0] ^ t0, p0[1] ^ hi))
    q1 = _enc(ks, (p1[0] ^ t1, p1[1] ^ hi))
    q2 = _enc(ks, (p2[0] ^ t2, p2[1] ^ hi))
    q3 = _enc(ks, (p3[0] ^ t3, p3[1] ^ hi))
    return ((q0[0] ^ p0[0], q0[1] ^ p0[1]), (q1[0] ^ p1[0], q1[1] ^ p1[1]),
            (q2[0] ^ p2[0], q2[1] ^ p2[1]), (q3[0] ^ p3[0], q3[1] ^ p3[1]))


@njit
def _mask(bit):
    return np.uint64(0) - (bit & np.uint64(1))


@njit
def _garble_finish(lab, tables, row, o, a0, b0, ha0, ha1, hb0, hb1, d0, d1):
    ma = _mask(a0[0])
    mb = _mask(b0[0])
    tg0 = ha0[0] ^ ha1[0] ^ (mb & d0)
    tg1 = ha0[1] ^ ha1[1] ^ (mb & d1)
    te0 = hb0[0] ^ hb1[0] ^ a0[0]
    te1 = hb0[1] ^ hb1[1] ^ a0[1]
    wg0 = ha0[0] ^ (ma & tg0)
    wg1 = ha0[1] ^ (ma & tg1)
    we0 = hb0[0] ^ (mb & (te0 ^ a0[0]))
    we1 = hb0[1] ^ (mb & (te1 ^ a0[1]))
    lab[o, 0] = wg0 ^ we0
    lab[o, 1] = wg1 ^ we1
    tables[row, 0] = tg0
    tables[row, 1] = tg1
    tables[row, 2] = te0
    tables[row, 3] = te1


@njit(cache=True, nogil=True)
def garble_range(rk, gates, g0, g1, k0, hi, lab, d0, d1, tables):
    """Garble scheduled gates ``[g0, g1)``; the first AND there is AND ``k0`` of the garbling.

    ``gates`` is the schedule's packed form (``Schedule.gates``: rows ``ua, ub, out,
    kind``); ``hi`` the high tweak word (tag and garbling id, :mod:`pqmpc.gc.tweaks`);
    ``lab`` has two extra rows, zero and the constant-wire label, after the circuit's
    wires. Inputs are filled in by the caller; table row ``i`` receives the ``i``-th
    AND of the range.
    """
    ks = aes128_load_keys(rk)
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
            # uniform free gate: no branch on the gate kind (see Schedule.gates)
            m = np.uint64(0) - np.uint64(kind & 1)
            lab[o, 0] = lab[a, 0] ^ lab[b, 0] ^ (m & d0)
            lab[o, 1] = lab[a, 1] ^ lab[b, 1] ^ (m & d1)
            g += 1
            continue
        t = np.uint64(2) * k
        a0 = (lab[a, 0], lab[a, 1])
        b0 = (lab[b, 0], lab[b, 1])
        # the next AND of the same AND run cannot read this one's output (same depth)
        if kind >> 2 >= 1 and g + 1 < g1:
            a2 = gates[g + 1, 0]
            b2 = gates[g + 1, 1]
            a20 = (lab[a2, 0], lab[a2, 1])
            b20 = (lab[b2, 0], lab[b2, 1])
            h0, h1, h2, h3 = _tccr4(ks, a0, (a0[0] ^ d0, a0[1] ^ d1), b0,
                                    (b0[0] ^ d0, b0[1] ^ d1), t, t, t + one, t + one, hi)
            t2 = t + np.uint64(2)
            e0, e1, e2, e3 = _tccr4(ks, a20, (a20[0] ^ d0, a20[1] ^ d1), b20,
                                    (b20[0] ^ d0, b20[1] ^ d1), t2, t2, t2 + one, t2 + one, hi)
            _garble_finish(lab, tables, row, o, a0, b0, h0, h1, h2, h3, d0, d1)
            _garble_finish(lab, tables, row + 1, gates[g + 1, 2], a20, b20, e0, e1, e2, e3, d0, d1)
            row += 2
            k += np.uint64(2)
            g += 2
        else:
            h0, h1, h2, h3 = _tccr4(ks, a0, (a0[0] ^ d0, a0[1] ^ d1), b0,
                                    (b0[0] ^ d0, b0[1] ^ d1), t, t, t + one, t + one, hi)
            _garble_finish(lab, tables, row, o, a0, b0, h0, h1, h2, h3, d0, d1)
            row += 1
            k += np.uint64(1)
            g += 1
    return row


@njit
def _eval_finish(lab, tables, row, o, wa, wb, hg, he):
    ma = _mask(wa[0])
    mb = _mask(wb[0])
    tg0 = tables[row, 0]
    tg1 = tables[row, 1]
    te0 = tables[row, 2]
    te1 = tables[row, 3]
    lab[o, 0] = hg[0] ^ (ma & tg0) ^ he[0] ^ (mb & (te0 ^ wa[0]))
    lab[o, 1] = hg[1] ^ (ma & tg1) ^ he[1] ^ (mb & (te1 ^ wa[1]))


@njit(cache=True, nogil=True)
def evaluate_range(rk, gates, g0, g1, k0, hi, lab, tables):
    """Evaluate scheduled gates ``[g0, g1)`` with active labels in ``lab`` (``gates`` as in
    :func:`garble_range`): four independent ANDs per step when the run has them, so
    eight AES chains are in flight as in the garbler."""
    ks = aes128_load_keys(rk)
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
            lab[o, 0] = lab[a, 0] ^ lab[b, 0]
            lab[o, 1] = lab[a, 1] ^ lab[b, 1]
            g += 1
            continue
        t = np.uint64(2) * k
        wa = (lab[a, 0], lab[a, 1])
        wb = (lab[b, 0], lab[b, 1])
        if kind >> 2 >= 3 and g + 3 < g1:
            a2, b2 = gates[g + 1, 0], gates[g + 1, 1]
            a3, b3 = gates[g + 2, 0], gates[g + 2, 1]
            a4, b4 = gates[g + 3, 0], gates[g + 3, 1]
            wa2, wb2 = (lab[a2, 0], lab[a2, 1]), (lab[b2, 0], lab[b2, 1])
            wa3, wb3 = (lab[a3, 0], lab[a3, 1]), (lab[b3, 0], lab[b3, 1])
            wa4, wb4 = (lab[a4, 0], lab[a4, 1]), (lab[b4, 0], lab[b4, 1])
            h0, h1, h2, h3 = _tccr4(ks, wa, wb, wa2, wb2, t, t + one, t + np.uint64(2),
                                    t + np.uint64(3), hi)
            h4, h5, h6, h7 = _tccr4(ks, wa3, wb3, wa4, wb4, t + np.uint64(4), t + np.uint64(5),
                                    t + np.uint64(6), t + np.uint64(7), hi)
            _eval_finish(lab, tables, row, o, wa, wb, h0, h1)
            _eval_finish(lab, tables, row + 1, gates[g + 1, 2], wa2, wb2, h2, h3)
            _eval_finish(lab, tables, row + 2, gates[g + 2, 2], wa3, wb3, h4, h5)
            _eval_finish(lab, tables, row + 3, gates[g + 3, 2], wa4, wb4, h6, h7)
            row += 4
            k += np.uint64(4)
            g += 4
        elif kind >> 2 >= 1 and g + 1 < g1:
            a2 = gates[g + 1, 0]
            b2 = gates[g + 1, 1]
            wa2 = (lab[a2, 0], lab[a2, 1])
            wb2 = (lab[b2, 0], lab[b2, 1])
            h0, h1, h2, h3 = _tccr4(ks, wa, wb, wa2, wb2, t, t + one, t + np.uint64(2),
                                    t + np.uint64(3), hi)
            _eval_finish(lab, tables, row, o, wa, wb, h0, h1)
            _eval_finish(lab, tables, row + 1, gates[g + 1, 2], wa2, wb2, h2, h3)
            row += 2
            k += np.uint64(2)
            g += 2
        else:
            hg = _tccr(ks, wa, t, hi)
            he = _tccr(ks, wb, t + one, hi)
            _eval_finish(lab, tables, row, o, wa, wb, hg, he)
            row += 1
            k += np.uint64(1)
            g += 1
    return row
