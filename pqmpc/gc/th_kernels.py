"""AES-free numba kernels of the three-halves scheme (:mod:`pqmpc.gc.threehalves`).

The per-gate finishing steps shared by the fused walk (:mod:`pqmpc.gc.fused_th`) and
the level-batched OpenSSL path, the level gather/scatter glue, and the wire packing.
Nothing here calls AES, so the module compiles on every CPU.

Labels are ``(L, R)`` = (word 0, word 1) of a 16-byte label: the halves the scheme
slices a label into. The colour (permute bit) of a label is ``lsb(L)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

ONE = np.uint64(1)


@njit
def mask(bit):
    return np.uint64(0) - (bit & np.uint64(1))


@njit
def rand_bits(rbits, k, kbase):
    """The two R$ bits of AND ``k`` (absolute index) from the garbler's PRF words."""
    w = rbits[(k >> np.uint64(5)) - kbase]
    return (w >> (np.uint64(2) * (k & np.uint64(31)))) & np.uint64(3)


@njit
def _lin(gm, x, r, u0, u1, u2, u3, d0, d1):
    # indexes the 3-D table directly: a per-gate slice would cost a reference count
    return ((gm[x, r, 0] & u0) ^ (gm[x, r, 1] & u1) ^ (gm[x, r, 2] & u2) ^ (gm[x, r, 3] & u3)
            ^ (gm[x, r, 4] & d0) ^ (gm[x, r, 5] & d1))


@njit
def garble_finish(lab, tables, row, o, ac, bc, d0, d1, ha0, ha1, hb0, hb1, hab0, hab1, a, b, s,
                  gmask):
    """Table row and output zero-label of one AND from its six hashes.

    ``ac``, ``bc``: colour-0 labels of the inputs; ``a``, ``b``: colours of their
    one-labels; ``s``: the two R$ bits; ``gmask[a | b<<1 | s<<2]`` is ``V⁻¹·Z`` as
    0/all-ones words over ``(A_L, A_R, B_L, B_R, Δ_L, Δ_R)``.
    """
    x = a | (b << ONE) | (s << np.uint64(2))
    u0, u1, u2, u3 = ac[0], ac[1], bc[0], bc[1]
    lab[o, 0] = ha0[0] ^ hab0[0] ^ _lin(gmask, x, 0, u0, u1, u2, u3, d0, d1)
    lab[o, 1] = hb0[0] ^ hab0[0] ^ _lin(gmask, x, 1, u0, u1, u2, u3, d0, d1)
    tables[row, 0] = ha0[0] ^ ha1[0] ^ _lin(gmask, x, 2, u0, u1, u2, u3, d0, d1)
    tables[row, 1] = hb0[0] ^ hb1[0] ^ _lin(gmask, x, 3, u0, u1, u2, u3, d0, d1)
    tables[row, 2] = hab0[0] ^ hab1[0] ^ _lin(gmask, x, 4, u0, u1, u2, u3, d0, d1)
    ea0, ea1 = ha0[1] & ONE, ha1[1] & ONE
    eb0, eb1 = hb0[1] & ONE, hb1[1] & ONE
    ec0, ec1 = hab0[1] & ONE, hab1[1] & ONE
    s0 = s & ONE
    s1 = s >> ONE
    tables[row, 3] = ((s0 ^ ea0 ^ ec0) | ((s1 ^ eb0 ^ ec0) << ONE)
                      | ((a ^ ea0 ^ ea1) << np.uint64(2)) | ((b ^ eb0 ^ eb1) << np.uint64(3))
                      | ((a ^ b ^ ec0 ^ ec1) << np.uint64(4)))


@njit
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

