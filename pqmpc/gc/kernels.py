"""Numba kernels behind the circuit IR and the garbling engine.

Everything here works on flat numpy arrays (op codes, wire indices, packed wire
values, labels viewed as ``(n, 2) uint64``) so that walking a circuit never costs a
Python-level step per gate. Kernels that need AES live in :mod:`pqmpc.gc.aesni_kernels`
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

# Codes returned by check_gates; bristol.py and circuit.py turn them into messages.
CHECK_OK = 0
CHECK_OUT_OF_RANGE = 1
CHECK_UNSET = 2
CHECK_SET_TWICE = 3
CHECK_BAD_CONSTANT = 4
CHECK_BAD_OP = 5


@njit(cache=True)
def check_gates(n_wires, n_inputs, op, in0, in1, out):
    """Return ``(gate, code)`` of the first structural error, ``(-1, 0)`` if none.

    Gates must come in an order where every input wire is already set (a primary
    input or the output of an earlier gate) and no wire is written twice.
    """
    is_set = np.zeros(n_wires, dtype=np.uint8)
    for w in range(min(n_inputs, n_wires)):
        is_set[w] = 1
    for g in range(op.shape[0]):
        k = op[g]
        o = out[g]
        a = in0[g]
        b = in1[g]
        if k > OP_EQW:
            return g, CHECK_BAD_OP
        if k == OP_EQ:
            if a != 0 and a != 1:
                return g, CHECK_BAD_CONSTANT
        else:
            if a < 0 or a >= n_wires:
                return g, CHECK_OUT_OF_RANGE
            if k == OP_XOR or k == OP_AND:
                if b < 0 or b >= n_wires:
                    return g, CHECK_OUT_OF_RANGE
        if o < 0 or o >= n_wires:
            return g, CHECK_OUT_OF_RANGE
        if k != OP_EQ:
            if is_set[a] == 0:
                return g, CHECK_UNSET
            if (k == OP_XOR or k == OP_AND) and is_set[b] == 0:
                return g, CHECK_UNSET
        if is_set[o] != 0:
            return g, CHECK_SET_TWICE
        is_set[o] = 1
    return -1, CHECK_OK


@njit(cache=True)
def unset_wires(n_wires, n_inputs, out, first, count):
    """Index of the first wire in ``[first, first+count)`` nobody sets, else -1."""
    is_set = np.zeros(n_wires, dtype=np.uint8)
    for w in range(min(n_inputs, n_wires)):
        is_set[w] = 1
    for g in range(out.shape[0]):
        is_set[out[g]] = 1
    for w in range(first, first + count):
        if is_set[w] == 0:
            return w
    return -1


@njit(cache=True)
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


@njit(cache=True)
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


@njit(cache=True)
def propagate_free(op, in0, in1, out, lab, d0, d1, c0, c1):
    """Garbler side of the free gates: zero-labels through XOR/INV/EQW/EQ.

    ``lab`` is the ``(n_wires, 2) uint64`` zero-label table, ``(d0, d1)`` is Δ and
    ``(c0, c1)`` the public label an evaluator holds for a constant wire.
    """
    for g in range(op.shape[0]):
        k = op[g]
        o = out[g]
        a = in0[g]
        if k == OP_XOR:
            b = in1[g]
            lab[o, 0] = lab[a, 0] ^ lab[b, 0]
            lab[o, 1] = lab[a, 1] ^ lab[b, 1]
        elif k == OP_INV:
            lab[o, 0] = lab[a, 0] ^ d0
            lab[o, 1] = lab[a, 1] ^ d1
        elif k == OP_EQW:
            lab[o, 0] = lab[a, 0]
            lab[o, 1] = lab[a, 1]
        elif k == OP_EQ:
            if a == 1:
                lab[o, 0] = c0 ^ d0
                lab[o, 1] = c1 ^ d1
            else:
                lab[o, 0] = c0
                lab[o, 1] = c1


@njit(cache=True)
def propagate_free_eval(op, in0, in1, out, lab, c0, c1):
    """Evaluator side of the free gates: INV and EQW copy, EQ takes the public label."""
    for g in range(op.shape[0]):
        k = op[g]
        o = out[g]
        a = in0[g]
        if k == OP_XOR:
            b = in1[g]
            lab[o, 0] = lab[a, 0] ^ lab[b, 0]
            lab[o, 1] = lab[a, 1] ^ lab[b, 1]
        elif k == OP_INV or k == OP_EQW:
            lab[o, 0] = lab[a, 0]
            lab[o, 1] = lab[a, 1]
        elif k == OP_EQ:
            lab[o, 0] = c0
            lab[o, 1] = c1
