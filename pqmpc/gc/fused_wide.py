"""Half-gates with 256-bit labels (κ = 256, the "doubled key" post-quantum mode).

Same scheme and gate walk as :mod:`pqmpc.gc.fused`, with 32-byte labels, a 32-byte
Δ (lsb 1) and the wide hash of :func:`pqmpc.primitives.hashing.tccr_wide`::

    H(x, T) = E_x(T) ‖ E_x(T + 2^127)        E = AES-256 keyed by the label x

so each hash costs one AES-256 key schedule and two encryptions, done here inside
the walk with :mod:`pqmpc.primitives.aes_kernels` (AES-NI when numba's target has
it). Without AES-NI :mod:`pqmpc.gc.halfgates` hashes every AND gate through
OpenSSL instead (the label is the AES key: a table AES would leak it), and this
walk only runs free gates. Tweaks are ``(2k, hi)`` and ``(2k+1, hi)`` for the
``k``-th scheduled AND gate, as in the 128-bit mode (``hi``: :mod:`pqmpc.gc.tweaks`); tables are 64 bytes per AND
(``(m, 8) uint64`` rows ``TG ‖ TE``).

Security: semi-honest, like the 128-bit mode, but the hash is argued in the
ideal-cipher model for AES-256: recovering Δ or an unseen label needs a search
over 256-bit keys, ~2^128 with Grover, instead of the ~2^64 Grover search that
128-bit labels allow. Timing is not hardened (Python/numba).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from pqmpc.gc.kernels import OP_AND
from pqmpc.primitives.aes_kernels import aes256_encrypt, aes256_expand

_expand = aes256_expand
_enc = aes256_encrypt
_TOP = np.uint64(1) << np.uint64(63)


@njit
def _h(x0, x1, x2, x3, t, hi):
    # hi has its top bit clear (pqmpc.gc.tweaks), so the two halves never collide
    ks = _expand((x0, x1), (x2, x3))
    y = _enc(ks, (t, hi))
    z = _enc(ks, (t, hi | _TOP))
    return y[0], y[1], z[0], z[1]


@njit
def _m(bit):
    return np.uint64(0) - (bit & np.uint64(1))


@njit(cache=True, nogil=True)
def garble_range(op, in0, in1, umask, out, g0, g1, k0, hi, lab, d, tables):
    """Garble scheduled gates ``[g0, g1)``; ``lab`` is ``(n_wires + 2, 4)`` uint64."""
    row = 0
    k = np.uint64(k0)
    one = np.uint64(1)
    for g in range(g0, g1):
        a = in0[g]
        b = in1[g]
        o = out[g]
        if op[g] != OP_AND:
            m = umask[g]
            for w in range(4):
                lab[o, w] = lab[a, w] ^ lab[b, w] ^ (m & d[w])
            continue
        t = np.uint64(2) * k
        ha0 = _h(lab[a, 0], lab[a, 1], lab[a, 2], lab[a, 3], t, hi)
        ha1 = _h(lab[a, 0] ^ d[0], lab[a, 1] ^ d[1], lab[a, 2] ^ d[2], lab[a, 3] ^ d[3], t, hi)
        hb0 = _h(lab[b, 0], lab[b, 1], lab[b, 2], lab[b, 3], t + one, hi)
        hb1 = _h(lab[b, 0] ^ d[0], lab[b, 1] ^ d[1], lab[b, 2] ^ d[2], lab[b, 3] ^ d[3], t + one, hi)
        ma = _m(lab[a, 0])
        mb = _m(lab[b, 0])
        for w in range(4):
            tg = ha0[w] ^ ha1[w] ^ (mb & d[w])
            te = hb0[w] ^ hb1[w] ^ lab[a, w]
            lab[o, w] = ha0[w] ^ (ma & tg) ^ hb0[w] ^ (mb & (te ^ lab[a, w]))
            tables[row, w] = tg
            tables[row, 4 + w] = te
        row += 1
        k += one
    return row


@njit(cache=True, nogil=True)
def evaluate_range(op, in0, in1, out, g0, g1, k0, hi, lab, tables):
    """Evaluate scheduled gates ``[g0, g1)`` on active 256-bit labels."""
    row = 0
    k = np.uint64(k0)
    one = np.uint64(1)
    for g in range(g0, g1):
        a = in0[g]
        b = in1[g]
        o = out[g]
        if op[g] != OP_AND:
            for w in range(4):
                lab[o, w] = lab[a, w] ^ lab[b, w]
            continue
        t = np.uint64(2) * k
        hg = _h(lab[a, 0], lab[a, 1], lab[a, 2], lab[a, 3], t, hi)
        he = _h(lab[b, 0], lab[b, 1], lab[b, 2], lab[b, 3], t + one, hi)
        ma = _m(lab[a, 0])
        mb = _m(lab[b, 0])
        for w in range(4):
            lab[o, w] = (hg[w] ^ (ma & tables[row, w]) ^ he[w]
                         ^ (mb & (tables[row, 4 + w] ^ lab[a, w])))
        row += 1
        k += one
    return row
