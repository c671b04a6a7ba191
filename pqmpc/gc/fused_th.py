"""Three-halves kernels (Rosulek–Roy, CRYPTO 2021) with the AES rounds inside the gate walk.

Same shape as :mod:`pqmpc.gc.fused` (half-gates): one njit loop over the scheduled
gate list, free gates as branch-free XORs, AES from
:mod:`pqmpc.primitives.aes_kernels` under the public fixed key. The garbler makes
six TCCR calls per AND gate (twelve AES), the evaluator three (six AES); the
garbler's six go out as a group of four and a group of two independent chains.

The scheme and its matrices are in :mod:`pqmpc.gc.threehalves`; the finishing steps
here write its equations out as XORs (the tests check them against the matrices). Tables are
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
def garble_finish(lab, tables, row, o, ac, bc, d0, d1, ha0, ha1, hb0, hb1, hab0, hab1, a, b, s):
    """Table row and output zero-label of one AND from its six hashes.

    ``ac``, ``bc``: colour-0 labels of the inputs; ``a``, ``b``: colours of their
    one-labels; ``s``: the two R$ bits. Computes ``Z_ij`` for the positions ``V⁻¹``
    reads and applies ``V⁻¹`` (rows C_L, C_R, G0, G1, G2); equal to the table
    ``threehalves.GMASK`` derived at import (checked by the tests).
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
def eval_finish(lab, tables, row, o, wa, wb, ha, hb, hab):
    """Output label of one AND from the evaluator's three hashes and the table row."""
    i = wa[0] & ONE
    j = wb[0] & ONE
    z = tables[row, 3]
    ij = i ^ j
    r1 = (z ^ (i & (z >> np.uint64(2))) ^ (ij & (z >> np.uint64(4))) ^ ha[1] ^ hab[1]) & ONE
    r2 = ((z >> ONE) ^ (j & (z >> np.uint64(3))) ^ (ij & (z >> np.uint64(4))) ^ hb[1]
          ^ hab[1]) & ONE
    # R_ij·(A_i, B_j) with R_ij = Rp_ij ⊕ r1·S1 ⊕ r2·S2 written out (equal to EMASK)
    al, ar, bl, br = wa[0], wa[1], wb[0], wb[1]
    m1 = mask(r1)
    m2 = mask(r2)
    x = al ^ br
    g2 = mask(ij) & tables[row, 2]
    lab[o, 0] = (ha[0] ^ hab[0] ^ (mask(i) & tables[row, 0]) ^ g2 ^ (mask(i ^ ONE) & bl)
                 ^ (m1 & (al ^ ar ^ bl)) ^ (m2 & x))
    lab[o, 1] = (hb[0] ^ hab[0] ^ (mask(j) & tables[row, 1]) ^ g2 ^ (mask(j ^ ONE) & ar)
                 ^ (m1 & x) ^ (m2 & (ar ^ bl ^ br)))


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
def level_garble_finish(p, q, lab, in0, in1, out, s, e, d0, d1, tables, row, rbits, k0, kbase):
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
                      pa ^ ONE, pb ^ ONE, sbits)


@njit(cache=True, nogil=True)
def level_eval_finish(p, q, lab, in0, in1, out, s, e, tables, row):
    """Output labels of ANDs ``[s, e)`` from ``H = q ⊕ p`` and their table rows."""
    for i in range(e - s):
        a = in0[s + i]
        b = in1[s + i]
        wa = (lab[a, 0], lab[a, 1])
        wb = (lab[b, 0], lab[b, 1])
        ha = (q[0, i, 0] ^ p[0, i, 0], q[0, i, 1] ^ p[0, i, 1])
        hb = (q[1, i, 0] ^ p[1, i, 0], q[1, i, 1] ^ p[1, i, 1])
        hab = (q[2, i, 0] ^ p[2, i, 0], q[2, i, 1] ^ p[2, i, 1])
        eval_finish(lab, tables, row + i, out[s + i], wa, wb, ha, hb, hab)


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
def _tccr4(ks, x0, x1, x2, x3, t0, t1, t2, t3, hi):
    # one AND at a time, four chains then two: wider batches (six or twelve chains, two
    # ANDs per iteration) ran 1.6x slower here, the round keys no longer fit in registers
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
def _tccr2(ks, x0, x1, t0, t1, hi):
    p0 = _enc(ks, x0)
    p1 = _enc(ks, x1)
    q0 = _enc(ks, (p0[0] ^ t0, p0[1] ^ hi))
    q1 = _enc(ks, (p1[0] ^ t1, p1[1] ^ hi))
    return (q0[0] ^ p0[0], q0[1] ^ p0[1]), (q1[0] ^ p1[0], q1[1] ^ p1[1])


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
                 kbase):
    """Garble scheduled gates ``[g0, g1)``; the first AND there is AND ``k0`` of the garbling.

    Tweaks of AND ``k``: ``(3k, hi)``, ``(3k+1, hi)``, ``(3k+2, hi)`` for the hashes of
    ``A``, ``B`` and ``A ⊕ B``. ``rbits``: the garbler's secret R$ bits, two per AND,
    word ``(k >> 5) - kbase`` holding ANDs ``32·(k >> 5) ..``.
    """
    ks = aes128_load_keys(rk)
    row = 0
    one = np.uint64(1)
    two = np.uint64(2)
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
        h = _tccr4(ks, xa[0], xa[1], xa[2], xa[3], t, t, t + one, t + one, hi)
        e = _tccr2(ks, xa[4], xa[5], t + two, t + two, hi)
        garble_finish(lab, tables, row, out[g], ac, bc, d0, d1, h[0], h[1], h[2], h[3], e[0],
                      e[1], (lab[wa, 0] & one) ^ one, (lab[wb, 0] & one) ^ one,
                      rand_bits(rbits, k, kb))
        row += 1
        k += one
        g += 1
    return row




@njit(cache=True, nogil=True)
def evaluate_range(rk, op, in0, in1, out, g0, g1, k0, hi, lab, tables):
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
        h = _tccr3(ks, wa, wb, (wa[0] ^ wb[0], wa[1] ^ wb[1]), t, hi)
        eval_finish(lab, tables, row, out[g], wa, wb, h[0], h[1], h[2])
        row += 1
        k += np.uint64(1)
        g += 1
    return row
