"""Three-halves kernels (Rosulek–Roy, CRYPTO 2021) with the AES rounds inside the gate walk.

Same shape as :mod:`pqmpc.gc.fused` (half-gates): one njit loop over the scheduled
gate list, free gates as branch-free XORs, AES from
:mod:`pqmpc.primitives.aes_kernels` under the public fixed key. The garbler makes
six TCCR calls per AND gate (twelve AES), the evaluator three (six AES); the
garbler's six are issued as one batch of six independent chains.

The scheme, the matrices and the derived coefficient tables (``gmask``, ``emask``)
are in :mod:`pqmpc.gc.threehalves`; these kernels only apply them. Tables are
``(m, 4) uint64`` rows ``G0, G1, G2, z`` (three 64-bit half-ciphertexts, the five
control bits in the low bits of ``z``); :func:`pack` / :func:`unpack` convert to the
197-bit wire form. Without AES-NI this walk never sees an AND gate
(:mod:`pqmpc.gc.threehalves` sends all of them to OpenSSL through the level functions
here, which use no AES and so compile on any CPU).

One module on purpose: numba's on-disk cache of a kernel is invalidated only by
changes to the kernel's own source file, so the gate-finishing helpers live next to
every cached kernel that inlines them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from pqmpc.gc.kernels import OP_AND
from pqmpc.primitives.aes_kernels import aes128_encrypt, aes128_load_keys

_enc = aes128_encrypt
ONE = np.uint64(1)


@njit
def mask(bit):
    return np.uint64(0) - (bit & np.uint64(1))


@njit
def rand_bits(rbits, k, kbase):
    """The two R$ bits of AND ``k`` (absolute index) from the garbler's PRF words."""
    w = rbits[(k >> np.uint64(5)) - kbase]
    return (w >> (np.uint64(2) * (k & np.uint64(31)))) & np.uint64(3)


@njit(inline="always")
def _z(al, ar, bl, br, rpl, rpr, m1, m2, mt, d0, d1):
    """Both halves of ``Z_ij = R_ij·(A_i, B_j) ⊕ t_ij·Δ`` with ``R_ij = Rp_ij ⊕ r1·S1 ⊕ r2·S2``
    (``rpl``, ``rpr``: ``Rp_ij·(A_i, B_j)``; ``m1``, ``m2``, ``mt``: masks of r1, r2, t_ij)."""
    x = al ^ br  # row L of S2, row R of S1
    zl = rpl ^ (m1 & (al ^ ar ^ bl)) ^ (m2 & x) ^ (mt & d0)
    zr = rpr ^ (m1 & x) ^ (m2 & (ar ^ bl ^ br)) ^ (mt & d1)
    return zl, zr


@njit(inline="always")
def garble_finish(lab, tables, row, o, ac, bc, d0, d1, ha0, ha1, hb0, hb1, hab0, hab1, a, b, s,
                  gidx):
    """Table row and output zero-label of one AND from its six hashes.

    ``ac``, ``bc``: colour-0 labels of the inputs; ``a``, ``b``: colours of their
    one-labels; ``s``: the two R$ bits. Computes ``Z_ij`` for the positions ``V⁻¹``
    reads and applies ``V⁻¹`` (rows C_L, C_R, G0, G1, G2); equal to the table
    ``threehalves.GMASK`` derived at import (checked by the tests). ``gidx`` is unused
    here (kept so both finishing paths share one signature).
    """
    s0 = s & ONE
    s1 = s >> ONE
    na = a ^ ONE
    nb = b ^ ONE
    a0l, a0r, b0l, b0r = ac[0], ac[1], bc[0], bc[1]
    a1l, a1r, b1l, b1r = a0l ^ d0, a0r ^ d1, b0l ^ d0, b0r ^ d1
    z00l, z00r = _z(a0l, a0r, b0l, b0r, b0l, a0r, mask(s0), mask(s1), mask(na & nb), d0, d1)
    z01l, z01r = _z(a0l, a0r, b1l, b1r, b1l, np.uint64(0), mask(a ^ b ^ s0), mask(a ^ s1),
                    mask(na & b), d0, d1)
    z10l, z10r = _z(a1l, a1r, b0l, b0r, np.uint64(0), a1r, mask(b ^ s0), mask(a ^ b ^ s1),
                    mask(a & nb), d0, d1)
    z11l, _ = _z(a1l, a1r, b1l, b1r, np.uint64(0), np.uint64(0), mask(a ^ s0), mask(b ^ s1),
                 mask(a & b), d0, d1)
    z00 = z00l ^ z00r
    lab[o, 0] = ha0[0] ^ hab0[0] ^ z00l
    lab[o, 1] = hb0[0] ^ hab0[0] ^ z00r
    tables[row, 0] = ha0[0] ^ ha1[0] ^ z00 ^ z10l ^ z10r
    tables[row, 1] = hb0[0] ^ hb1[0] ^ z00 ^ z01l ^ z01r
    tables[row, 2] = hab0[0] ^ hab1[0] ^ z10l ^ z11l
    ea0, ea1 = ha0[1] & ONE, ha1[1] & ONE
    eb0, eb1 = hb0[1] & ONE, hb1[1] & ONE
    ec0, ec1 = hab0[1] & ONE, hab1[1] & ONE
    tables[row, 3] = ((s0 ^ ea0 ^ ec0) | ((s1 ^ eb0 ^ ec0) << ONE)
                      | ((a ^ ea0 ^ ea1) << np.uint64(2)) | ((b ^ eb0 ^ eb1) << np.uint64(3))
                      | ((a ^ b ^ ec0 ^ ec1) << np.uint64(4)))


@njit(inline="always")
def eval_finish(lab, tables, row, o, wa, wb, ha, hb, hab, emask):
    """Output label of one AND from the evaluator's three hashes and the table row."""
    i = wa[0] & ONE
    j = wb[0] & ONE
    z = tables[row, 3]
    ij = i ^ j
    r1 = (z ^ (i & (z >> np.uint64(2))) ^ (ij & (z >> np.uint64(4))) ^ ha[1] ^ hab[1]) & ONE
    r2 = ((z >> ONE) ^ (j & (z >> np.uint64(3))) ^ (ij & (z >> np.uint64(4))) ^ hb[1]
          ^ hab[1]) & ONE
    x = i | (j << ONE) | (r1 << np.uint64(2)) | (r2 << np.uint64(3))
    g2 = mask(ij) & tables[row, 2]
    lab[o, 0] = (ha[0] ^ hab[0] ^ (mask(i) & tables[row, 0]) ^ g2 ^ (emask[x, 0, 0] & wa[0])
                 ^ (emask[x, 0, 1] & wa[1]) ^ (emask[x, 0, 2] & wb[0]) ^ (emask[x, 0, 3] & wb[1]))
    lab[o, 1] = (hb[0] ^ hab[0] ^ (mask(j) & tables[row, 1]) ^ g2 ^ (emask[x, 1, 0] & wa[0])
                 ^ (emask[x, 1, 1] & wa[1]) ^ (emask[x, 1, 2] & wb[0]) ^ (emask[x, 1, 3] & wb[1]))


# ---- level-batched path: gather the hash inputs of a whole AND level, hash them with
# two bulk OpenSSL calls (pqmpc.gc.threehalves), finish here ----

@njit(cache=True, nogil=True)
def level_garble_inputs(lab, in0, in1, s, e, d0, d1, x):
    """``x[0..5, i]`` = A, A⊕Δ, B, B⊕Δ, A⊕B, A⊕B⊕Δ (colour-0 labels) of AND ``s + i``."""
    for i in range(e - s):
        a = in0[s + i]
        b = in1[s + i]
        ma = mask(lab[a, 0])
        mb = mask(lab[b, 0])
        a0 = lab[a, 0] ^ (ma & d0)
        a1 = lab[a, 1] ^ (ma & d1)
        b0 = lab[b, 0] ^ (mb & d0)
        b1 = lab[b, 1] ^ (mb & d1)
        x[0, i, 0] = a0
        x[0, i, 1] = a1
        x[2, i, 0] = b0
        x[2, i, 1] = b1
        x[4, i, 0] = a0 ^ b0
        x[4, i, 1] = a1 ^ b1
        for j in (0, 2, 4):
            x[j + 1, i, 0] = x[j, i, 0] ^ d0
            x[j + 1, i, 1] = x[j, i, 1] ^ d1


@njit(cache=True, nogil=True)
def level_eval_inputs(lab, in0, in1, s, e, x):
    """``x[0..2, i]`` = A, B, A⊕B (active labels) of AND ``s + i``."""
    for i in range(e - s):
        a = in0[s + i]
        b = in1[s + i]
        for w in range(2):
            x[0, i, w] = lab[a, w]
            x[1, i, w] = lab[b, w]
            x[2, i, w] = lab[a, w] ^ lab[b, w]


@njit(cache=True, nogil=True)
def level_add_tweaks(p, k0, hi, per, y):
    """``y = p ⊕ T``: row ``i`` of ``p[j]`` gets tweak ``(3(k0+i) + j // per, hi)``."""
    for j in range(p.shape[0]):
        off = np.uint64(j // per)
        for i in range(p.shape[1]):
            y[j, i, 0] = p[j, i, 0] ^ (np.uint64(3) * np.uint64(k0 + i) + off)
            y[j, i, 1] = p[j, i, 1] ^ hi


@njit(cache=True, nogil=True)
def level_garble_finish(p, q, lab, in0, in1, out, s, e, d0, d1, tables, row, rbits, k0, kbase,
                        gmask):
    """Tables and output zero-labels of ANDs ``[s, e)`` from ``H = q ⊕ p``."""
    kb = np.uint64(kbase)
    for i in range(e - s):
        a = in0[s + i]
        b = in1[s + i]
        pa = lab[a, 0] & ONE
        pb = lab[b, 0] & ONE
        ac = (lab[a, 0] ^ (mask(pa) & d0), lab[a, 1] ^ (mask(pa) & d1))
        bc = (lab[b, 0] ^ (mask(pb) & d0), lab[b, 1] ^ (mask(pb) & d1))
        h0 = (q[0, i, 0] ^ p[0, i, 0], q[0, i, 1] ^ p[0, i, 1])
        h1 = (q[1, i, 0] ^ p[1, i, 0], q[1, i, 1] ^ p[1, i, 1])
        h2 = (q[2, i, 0] ^ p[2, i, 0], q[2, i, 1] ^ p[2, i, 1])
        h3 = (q[3, i, 0] ^ p[3, i, 0], q[3, i, 1] ^ p[3, i, 1])
        h4 = (q[4, i, 0] ^ p[4, i, 0], q[4, i, 1] ^ p[4, i, 1])
        h5 = (q[5, i, 0] ^ p[5, i, 0], q[5, i, 1] ^ p[5, i, 1])
        sbits = rand_bits(rbits, np.uint64(k0 + i), kb)
        garble_finish(lab, tables, row + i, out[s + i], ac, bc, d0, d1, h0, h1, h2, h3, h4, h5,
                      pa ^ ONE, pb ^ ONE, sbits, gmask)


@njit(cache=True, nogil=True)
def level_eval_finish(p, q, lab, in0, in1, out, s, e, tables, row, emask):
    """Output labels of ANDs ``[s, e)`` from ``H = q ⊕ p`` and their table rows."""
    for i in range(e - s):
        a = in0[s + i]
        b = in1[s + i]
        wa = (lab[a, 0], lab[a, 1])
        wb = (lab[b, 0], lab[b, 1])
        ha = (q[0, i, 0] ^ p[0, i, 0], q[0, i, 1] ^ p[0, i, 1])
        hb = (q[1, i, 0] ^ p[1, i, 0], q[1, i, 1] ^ p[1, i, 1])
        hab = (q[2, i, 0] ^ p[2, i, 0], q[2, i, 1] ^ p[2, i, 1])
        eval_finish(lab, tables, row + i, out[s + i], wa, wb, ha, hb, hab, emask)


# ---- wire packing: 24 bytes of half-ciphertexts per AND, then the 5-bit control
# fields of all m ANDs packed little-endian (bit c of AND g at bit 5g + c) ----

@njit(cache=True, nogil=True)
def pack(rows, buf):
    """Pack ``(m, 4) uint64`` rows into ``buf`` (``24 m + ceil(5 m / 8)`` bytes)."""
    m = rows.shape[0]
    for g in range(m):
        for w in range(3):
            v = rows[g, w]
            for byte in range(8):
                buf[24 * g + 8 * w + byte] = np.uint8((v >> np.uint64(8 * byte)) & np.uint64(255))
    base = 24 * m
    for t in range(base, buf.shape[0]):
        buf[t] = 0
    for g in range(m):
        z = rows[g, 3]
        for c in range(5):
            pos = 5 * g + c
            buf[base + (pos >> 3)] |= np.uint8(((z >> np.uint64(c)) & ONE) << np.uint64(pos & 7))


@njit(cache=True, nogil=True)
def unpack(buf, rows):
    """Inverse of :func:`pack`; returns False if a padding bit or a z bit above 4 is set."""
    m = rows.shape[0]
    for g in range(m):
        for w in range(3):
            v = np.uint64(0)
            for byte in range(8):
                v |= np.uint64(buf[24 * g + 8 * w + byte]) << np.uint64(8 * byte)
            rows[g, w] = v
    base = 24 * m
    for g in range(m):
        z = np.uint64(0)
        for c in range(5):
            pos = 5 * g + c
            z |= np.uint64((buf[base + (pos >> 3)] >> (pos & 7)) & 1) << np.uint64(c)
        rows[g, 3] = z
    used = 5 * m
    if used & 7:
        if buf[base + (used >> 3)] >> (used & 7):
            return False
    return True



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
