"""Numba kernels behind the circuit IR and the garbling engine.

Everything here works on flat numpy arrays (op codes, wire indices, packed wire
values, labels viewed as ``(n, 2) uint64``) so that walking a circuit never costs a
Python-level step per gate. Kernels that need AES live in :mod:`pqmpc.gc.fused` and :mod:`pqmpc.gc.fused_wide`
so that this module compiles on every CPU.
"""

from __future__ import annotations

import numpy as np
from numba import njit

OP_XOR = 0
OP_AND = 1
OP_INV = 2
OP_EQ = 3
OP_EQW = 4

# Codes of pqmpc.gc.circuit.first_gate_error; bristol.py and circuit.py turn them into messages.
CHECK_OK = 0
CHECK_OUT_OF_RANGE = 1
CHECK_UNSET = 2
CHECK_SET_TWICE = 3
CHECK_BAD_CONSTANT = 4
CHECK_BAD_OP = 5


@njit(cache=True, nogil=True)
def and_depths(n_wires, op, in0, in1, out):
    """AND-depth of every gate: ANDs add one level, free gates inherit the max."""
    wd = np.zeros(n_wires, dtype=np.int64)
    gd = np.empty(op.shape[0], dtype=np.int64)
    for g in range(op.shape[0]):
        k = op[g]
        if k == OP_EQ:
            d = 0
        elif k == OP_INV or k == OP_EQW:
            d = wd[in0[g]]
        else:
            d = max(wd[in0[g]], wd[in1[g]])
            if k == OP_AND:
                d += 1
        wd[out[g]] = d
        gd[g] = d
    return gd


@njit(cache=True, nogil=True)
def eval_packed(op, in0, in1, out, vals):
    """Plain evaluation, 64 input sets per uint64 word: ``vals`` is ``(n_wires, W)``."""
    nw = vals.shape[1]
    ones = ~np.uint64(0)
    for g in range(op.shape[0]):
        k = op[g]
        o = out[g]
        a = in0[g]
        if k == OP_XOR:
            b = in1[g]
            for j in range(nw):
                vals[o, j] = vals[a, j] ^ vals[b, j]
        elif k == OP_AND:
            b = in1[g]
            for j in range(nw):
                vals[o, j] = vals[a, j] & vals[b, j]
        elif k == OP_INV:
            for j in range(nw):
                vals[o, j] = vals[a, j] ^ ones
        elif k == OP_EQW:
            for j in range(nw):
                vals[o, j] = vals[a, j]
        else:
            c = ones if a == 1 else np.uint64(0)
            for j in range(nw):
                vals[o, j] = c


# -- glue around the two bulk AES calls of one AND level (levels backend) -----------------


@njit(cache=True, nogil=True)
def level_garble_inputs(lab, in0, in1, s, e, d0, d1, x):
    """x[0..3, i] = A0, A0^Δ, B0, B0^Δ for AND gate s+i (x is (4, m, 2) uint64)."""
    for i in range(e - s):
        a = in0[s + i]
        b = in1[s + i]
        x[0, i, 0] = lab[a, 0]
        x[0, i, 1] = lab[a, 1]
        x[1, i, 0] = lab[a, 0] ^ d0
        x[1, i, 1] = lab[a, 1] ^ d1
        x[2, i, 0] = lab[b, 0]
        x[2, i, 1] = lab[b, 1]
        x[3, i, 0] = lab[b, 0] ^ d0
        x[3, i, 1] = lab[b, 1] ^ d1


@njit(cache=True, nogil=True)
def level_add_tweaks(p, k0, hi, pairs, y):
    """y = p ^ tweak: rows of x[j] use tweak (2k, hi) (j < pairs) or (2k+1, hi), k = k0 + i."""
    nj = p.shape[0]
    for j in range(nj):
        odd = np.uint64(0) if j < pairs else np.uint64(1)
        for i in range(p.shape[1]):
            y[j, i, 0] = p[j, i, 0] ^ (np.uint64(2) * np.uint64(k0 + i) + odd)
            y[j, i, 1] = p[j, i, 1] ^ hi


@njit(cache=True, nogil=True)
def level_garble_finish(p, h, lab, in0, in1, out, s, e, d0, d1, tables, row):
    """Half-gates tables and output zero-labels from H = h ^ p (see halfgates.py)."""
    for i in range(e - s):
        a = in0[s + i]
        a0 = lab[a, 0]
        a1 = lab[a, 1]
        ma = np.uint64(0) - (a0 & np.uint64(1))
        mb = np.uint64(0) - (lab[in1[s + i], 0] & np.uint64(1))
        ha00 = h[0, i, 0] ^ p[0, i, 0]
        ha01 = h[0, i, 1] ^ p[0, i, 1]
        hb00 = h[2, i, 0] ^ p[2, i, 0]
        hb01 = h[2, i, 1] ^ p[2, i, 1]
        tg0 = ha00 ^ h[1, i, 0] ^ p[1, i, 0] ^ (mb & d0)
        tg1 = ha01 ^ h[1, i, 1] ^ p[1, i, 1] ^ (mb & d1)
        te0 = hb00 ^ h[3, i, 0] ^ p[3, i, 0] ^ a0
        te1 = hb01 ^ h[3, i, 1] ^ p[3, i, 1] ^ a1
        o = out[s + i]
        lab[o, 0] = ha00 ^ (ma & tg0) ^ hb00 ^ (mb & (te0 ^ a0))
        lab[o, 1] = ha01 ^ (ma & tg1) ^ hb01 ^ (mb & (te1 ^ a1))
        tables[row + i, 0] = tg0
        tables[row + i, 1] = tg1
        tables[row + i, 2] = te0
        tables[row + i, 3] = te1


@njit(cache=True, nogil=True)
def level_eval_inputs(lab, in0, in1, s, e, x):
    """x[0, i] = Wa, x[1, i] = Wb for AND gate s+i."""
    for i in range(e - s):
        a = in0[s + i]
        b = in1[s + i]
        x[0, i, 0] = lab[a, 0]
        x[0, i, 1] = lab[a, 1]
        x[1, i, 0] = lab[b, 0]
        x[1, i, 1] = lab[b, 1]


@njit(cache=True, nogil=True)
def level_eval_finish(p, h, lab, in0, in1, out, s, e, tables, row):
    for i in range(e - s):
        a = in0[s + i]
        wa0 = lab[a, 0]
        wa1 = lab[a, 1]
        ma = np.uint64(0) - (wa0 & np.uint64(1))
        mb = np.uint64(0) - (lab[in1[s + i], 0] & np.uint64(1))
        o = out[s + i]
        lab[o, 0] = (h[0, i, 0] ^ p[0, i, 0] ^ (ma & tables[row + i, 0]) ^ h[1, i, 0] ^ p[1, i, 0]
                     ^ (mb & (tables[row + i, 2] ^ wa0)))
        lab[o, 1] = (h[0, i, 1] ^ p[0, i, 1] ^ (ma & tables[row + i, 1]) ^ h[1, i, 1] ^ p[1, i, 1]
                     ^ (mb & (tables[row + i, 3] ^ wa1)))


# -- glue around the bulk wide hash of one AND level (κ = 256 without AES-NI) -------------


@njit(cache=True, nogil=True)
def level_garble_inputs_w(lab, in0, in1, s, e, d, x):
    """x[0..3, i] = A0, A0^Δ, B0, B0^Δ for AND gate s+i; any label width (x is (4, m, W))."""
    nw = lab.shape[1]
    for i in range(e - s):
        a = in0[s + i]
        b = in1[s + i]
        for w in range(nw):
            x[0, i, w] = lab[a, w]
            x[1, i, w] = lab[a, w] ^ d[w]
            x[2, i, w] = lab[b, w]
            x[3, i, w] = lab[b, w] ^ d[w]


@njit(cache=True, nogil=True)
def level_garble_finish_w(h, lab, in0, in1, out, s, e, d, tables, row):
    """Half-gates tables and output zero-labels from the hashes ``h`` (4, m, W)."""
    nw = lab.shape[1]
    for i in range(e - s):
        a = in0[s + i]
        ma = np.uint64(0) - (lab[a, 0] & np.uint64(1))
        mb = np.uint64(0) - (lab[in1[s + i], 0] & np.uint64(1))
        o = out[s + i]
        for w in range(nw):
            a0 = lab[a, w]
            tg = h[0, i, w] ^ h[1, i, w] ^ (mb & d[w])
            te = h[2, i, w] ^ h[3, i, w] ^ a0
            tables[row + i, w] = tg
            tables[row + i, nw + w] = te
            lab[o, w] = h[0, i, w] ^ (ma & tg) ^ h[2, i, w] ^ (mb & (te ^ a0))


@njit(cache=True, nogil=True)
def level_eval_inputs_w(lab, in0, in1, s, e, x):
    nw = lab.shape[1]
    for i in range(e - s):
        a = in0[s + i]
        b = in1[s + i]
        for w in range(nw):
            x[0, i, w] = lab[a, w]
            x[1, i, w] = lab[b, w]


@njit(cache=True, nogil=True)
def level_eval_finish_w(h, lab, in0, in1, out, s, e, tables, row):
    nw = lab.shape[1]
    for i in range(e - s):
        a = in0[s + i]
        ma = np.uint64(0) - (lab[a, 0] & np.uint64(1))
        mb = np.uint64(0) - (lab[in1[s + i], 0] & np.uint64(1))
        o = out[s + i]
        for w in range(nw):
            wa = lab[a, w]
            lab[o, w] = (h[0, i, w] ^ (ma & tables[row + i, w]) ^ h[1, i, w]
                         ^ (mb & (tables[row + i, nw + w] ^ wa)))


# -- Bristol fast path --------------------------------------------------------------------


@njit(cache=True, nogil=True)
def scan_bristol_gates(buf, pos, first_line, op, in0, in1, out, lines):
    """Parse gate lines of XOR/AND/INV/EQ/EQW from raw ASCII bytes, strictly.

    Returns ``(n_gates, ok)``. ``ok`` is False at the first line this scanner does not
    accept (anything unusual, including MAND); the caller then re-parses with the
    line-by-line reader, which gives the precise, line-numbered error.
    """
    n = buf.shape[0]
    g = 0
    line = first_line
    vals = np.zeros(5, dtype=np.int64)
    while pos < n:
        # one line: optional blanks, integers, an op name, optional blanks, newline
        while pos < n and (buf[pos] == 32 or buf[pos] == 9 or buf[pos] == 13):
            pos += 1
        if pos >= n:
            break
        if buf[pos] == 10:
            pos += 1
            line += 1
            continue
        k = 0
        while pos < n and 48 <= buf[pos] <= 57:
            if k == 5:
                return g, False
            v = 0
            while pos < n and 48 <= buf[pos] <= 57:
                v = v * 10 + (buf[pos] - 48)
                if v > 1 << 40:
                    return g, False
                pos += 1
            vals[k] = v
            k += 1
            if pos >= n or not (buf[pos] == 32 or buf[pos] == 9):
                return g, False
            while pos < n and (buf[pos] == 32 or buf[pos] == 9):
                pos += 1
        s = pos
        while pos < n and 65 <= buf[pos] <= 90:
            pos += 1
        ln = pos - s
        while pos < n and (buf[pos] == 32 or buf[pos] == 9 or buf[pos] == 13):
            pos += 1
        if pos < n and buf[pos] != 10:
            return g, False
        code = -1
        if ln == 3 and buf[s] == 88 and buf[s + 1] == 79 and buf[s + 2] == 82:
            code = 0  # XOR
        elif ln == 3 and buf[s] == 65 and buf[s + 1] == 78 and buf[s + 2] == 68:
            code = 1  # AND
        elif ln == 3 and buf[s] == 73 and buf[s + 1] == 78 and buf[s + 2] == 86:
            code = 2  # INV
        elif ln == 2 and buf[s] == 69 and buf[s + 1] == 81:
            code = 3  # EQ
        elif ln == 3 and buf[s] == 69 and buf[s + 1] == 81 and buf[s + 2] == 87:
            code = 4  # EQW
        if code < 0 or g >= op.shape[0]:
            return g, False
        if code <= 1:
            if k != 5 or vals[0] != 2 or vals[1] != 1:
                return g, False
            in1[g] = vals[3]
            out[g] = vals[4]
        else:
            if k != 4 or vals[0] != 1 or vals[1] != 1:
                return g, False
            in1[g] = -1
            out[g] = vals[3]
        op[g] = code
        in0[g] = vals[2]
        lines[g] = line
        g += 1
        if pos < n:
            pos += 1
            line += 1
    return g, True
