"""Ferret's semi-honest bin groups, tree by tree: GGM expansion and LPN encoding while a tree is in L2.

:func:`ferret._Session._trees <pqmpc.ot.ext.ferret>` otherwise expands a whole group of bins
(4 MiB of leaves) and then encodes it in place: the leaves go out to L3 and come back, and
every written line later lands in L3 as a victim, where it evicts the LPN secret ``x`` (8 MiB
at b13) that the encoding reads at random. Here each tree's ``2^h`` leaves are expanded into a
scratch buffer that stays in L2, encoded there, and streamed to the caller's array with
non-temporal stores, so the outputs bypass the caches. The results are byte for byte those of
:func:`.spcot.sender_expand` / :func:`.spcot.receiver_expand` followed by
:meth:`.lpn.LocalCode.add_encoded_lsb` / :meth:`~.lpn.LocalCode.add_encoded_lsb_bits` (the LSB
convention), which remain the path without AES-NI (the trees then run on bulk OpenSSL), for a
Δ with lsb 0 and in malicious mode (below).

Malicious mode does not run these group kernels: its check weighs every raw leaf (before
encoding) with challenges fixed only after the sender's corrections, so the leaves must outlive
their expansion. Measured with both parties running (2^20 OTs per call), expanding straight into
the output arrays and encoding there in place (:mod:`.lpn`) beat both keeping a copy of the raw
leaves beside these kernels' outputs and expanding the trees a second time for them. What the
malicious receiver takes from here is :func:`receiver_check_sums`: its trees go into the outputs a
step at a time, each step summed while in L2 (the same values as one call over the whole group).

The tree keys and ``Δ`` are secret (as in :mod:`.spcot`); Python cannot promise constant time.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ...errors import ParameterError
from ...primitives.aes_kernels import HAVE_AESNI
from ...primitives.aes_kernels import aes128_load_keys as _load
from ...primitives.stream_store import stream_copy
from .lpn import LocalCode, _encode
from .spcot import _receiver_trees, _round_keys, _sender_trees, receiver_expand

#: Whether :func:`sender_group` / :func:`receiver_group` can run (the tree kernels need AES-NI).
AVAILABLE = HAVE_AESNI


@njit(cache=True, nogil=True)
def _sender_group(rk_tree, rk_lpn, mask, seeds, delta, k0, x, out, first_row, scratch):
    T = seeds.shape[0]
    m = scratch.shape[1]
    ks = _load(rk_lpn)
    ub = np.empty(0, dtype=np.uint64)
    nobits = np.empty(0, dtype=np.uint8)
    flat = scratch.reshape(-1).view(np.uint8)
    for tr in range(T):
        _sender_trees(rk_tree, seeds[tr:tr + 1], delta, scratch, k0[tr:tr + 1])
        _encode(ks, rk_lpn, (first_row + tr * m) // 2, mask, x, ub, scratch[0], nobits, 2)
        stream_copy(flat, out[tr * m * 16:(tr + 1) * m * 16])


@njit(cache=True, nogil=True)
def _receiver_group(rk_tree, rk_lpn, mask, kb, b, pos, x, out, bits, first_row, scratch):
    T = kb.shape[0]
    m = scratch.shape[1]
    ks = _load(rk_lpn)
    ub = np.empty(0, dtype=np.uint64)
    flat = scratch.reshape(-1).view(np.uint8)
    e = np.empty(m, dtype=np.uint8)  # the tree's noise bits, then its choice bits (streamed out too)
    for tr in range(T):
        _receiver_trees(rk_tree, kb[tr:tr + 1], b[tr:tr + 1], scratch, pos[tr:tr + 1])
        e[:] = 0
        e[pos[tr]] = 1
        _encode(ks, rk_lpn, (first_row + tr * m) // 2, mask, x, ub, scratch[0], e, 3)
        stream_copy(flat, out[tr * m * 16:(tr + 1) * m * 16])
        stream_copy(e, bits[tr * m:(tr + 1) * m])


def _args(code: LocalCode, first_row: int, x: np.ndarray, out: np.ndarray, T: int, h: int, name: str):
    if not AVAILABLE:
        raise ParameterError(f"{name} needs AES-NI (use spcot and lpn separately)")
    if first_row < 0 or first_row % 2 or not 1 <= h <= 30:
        raise ParameterError(f"{name}: the first row must be even and >= 0, and 1 <= h <= 30")
    if x.shape != (code.k, 16) or x.dtype != np.uint8 or not x.flags.c_contiguous:
        raise ParameterError(f"{name}: x must be a C-contiguous ({code.k}, 16) uint8 array")
    if out.shape != (T << h, 16) or out.dtype != np.uint8 or not out.flags.c_contiguous:
        raise ParameterError(f"{name}: out must be a C-contiguous ({T << h}, 16) uint8 array")
    return np.empty((1, 1 << h, 2), dtype=np.uint64)


def sender_group(code: LocalCode, first_row: int, x: np.ndarray, seeds: np.ndarray, delta: np.ndarray, h: int,
                 out: np.ndarray) -> np.ndarray:
    """``T`` sender trees of depth ``h`` from ``seeds`` ``(T, 16)``, each encoded as rows
    ``first_row + …`` with bit 0 cleared, into ``out`` ``(T·2^h, 16)``; returns ``k0`` ``(T, h, 16)``
    (the XOR of each level's left nodes, as :func:`.spcot.sender_expand`)."""
    seeds = np.ascontiguousarray(seeds, dtype=np.uint8)
    delta = np.ascontiguousarray(delta, dtype=np.uint8).reshape(16)
    if seeds.ndim != 2 or seeds.shape[1] != 16:
        raise ParameterError("sender_group needs (T, 16) seeds")
    T = seeds.shape[0]
    scratch = _args(code, first_row, x, out, T, h, "sender_group")
    k0 = np.empty((T, h, 16), dtype=np.uint8)
    _sender_group(_round_keys(), code._rk, np.uint64(code.k - 1), seeds.view(np.uint64), delta.view(np.uint64),
                  k0.view(np.uint64), x.view(np.uint64), out.reshape(-1), first_row, scratch)
    return k0


def receiver_group(code: LocalCode, first_row: int, x: np.ndarray, kb: np.ndarray, b: np.ndarray, h: int,
                   out: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """The receiver's trees from ``kb`` ``(T, h, 16)`` and ``b`` ``(T, h)`` (as
    :func:`.spcot.receiver_expand`), each encoded with bit 0 set to its noise bit (as
    :meth:`.lpn.LocalCode.add_encoded_lsb_bits`) into ``out``; ``bits`` ``(T·2^h,)`` gets the
    outputs' bit 0. Returns the punctured positions ``(T,)`` inside each tree."""
    kb = np.ascontiguousarray(kb, dtype=np.uint8)
    b = np.ascontiguousarray(b, dtype=np.uint8)
    if kb.ndim != 3 or kb.shape[1:] != (h, 16) or b.shape != kb.shape[:2]:
        raise ParameterError("receiver_group needs kb (T, h, 16) and b (T, h)")
    T = kb.shape[0]
    scratch = _args(code, first_row, x, out, T, h, "receiver_group")
    if bits.shape != (T << h,) or bits.dtype != np.uint8 or not bits.flags.c_contiguous:
        raise ParameterError(f"receiver_group: bits must be a C-contiguous ({T << h},) uint8 array")
    pos = np.empty(T, dtype=np.int64)
    _receiver_group(_round_keys(), code._rk, np.uint64(code.k - 1), kb.view(np.uint64), b, pos, x.view(np.uint64),
                    out.reshape(-1), bits, first_row, scratch)
    return pos


def mpcot_send_encoded(ch, code: LocalCode, first_row: int, x: np.ndarray, q_base: np.ndarray, delta: np.ndarray,
                       seeds: np.ndarray, h: int, out: np.ndarray) -> np.ndarray:
    """:func:`.spcot.mpcot_send` (the same corrections message) with the leaves encoded as by
    :meth:`.lpn.LocalCode.add_encoded_lsb` into ``out``; returns ``out``."""
    T = seeds.shape[0]
    if q_base.shape != (T * h, 16):
        raise ParameterError(f"mpcot_send_encoded needs {T * h} base COTs, got {q_base.shape}")
    k0 = sender_group(code, first_row, x, seeds, delta, h, out)
    k0 ^= q_base.reshape(T, h, 16)
    ch.send(k0)
    return out


def mpcot_receive_encoded(ch, code: LocalCode, first_row: int, x: np.ndarray, b_base: np.ndarray, t_base: np.ndarray,
                          T: int, h: int, step: str, out: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """:func:`.spcot.mpcot_receive` with the leaves encoded as by
    :meth:`.lpn.LocalCode.add_encoded_lsb_bits` into ``out`` and ``bits``; returns the punctured positions."""
    if b_base.shape != (T * h,) or t_base.shape != (T * h, 16):
        raise ParameterError(f"mpcot_receive_encoded needs {T * h} base COTs")
    c = ch.recv_array(np.uint8, (T, h, 16), step)
    c ^= t_base.reshape(T, h, 16)
    return receiver_group(code, first_row, x, c, b_base.reshape(T, h), h, out, bits)


#: Leaves per step of the receiver's check pass: a step's trees (1 MiB) are summed while mostly still in L2.
CHECK_STEP_LEAVES = 1 << 16


def receiver_check_sums(chi, kb: np.ndarray, b: np.ndarray, h: int, segments: list) -> tuple:
    """The receiver's trees of :func:`.spcot.receiver_expand` ``(kb, b, h)`` expanded into ``segments``
    (``(trees, w)`` in order, ``w`` ``(trees·2^h, 16)``: where the group's leaves go) a step of
    :data:`CHECK_STEP_LEAVES` at a time, each step fed to ``chi.sum_and_pick`` (punctured points
    picked) right after its expansion, while in L2. Returns ``(Σ χ_i·w_i, ⊕ χ_α, pos)``."""
    T = kb.shape[0]
    if sum(n for n, _ in segments) != T or any(w.shape != (n << h, 16) for n, w in segments):
        raise ParameterError(f"receiver_check_sums: the segments must hold the {T} trees' leaves in order")
    acc = np.zeros(16, dtype=np.uint8)
    picked = np.zeros(16, dtype=np.uint8)
    pos = np.empty(T, dtype=np.int64)
    step, t0 = max(1, CHECK_STEP_LEAVES >> h), 0
    for count, w in segments:
        for a in range(0, count, step):
            n = min(step, count - a)
            leaves = w[a << h:(a + n) << h]
            t = t0 + a
            _, pos[t:t + n] = receiver_expand(kb[t:t + n], b[t:t + n], h, leaves)
            s, p = chi.sum_and_pick(leaves, (np.arange(n, dtype=np.int64) << h) + pos[t:t + n])
            acc ^= s
            picked ^= p
        t0 += count
    return acc, picked, pos


def pieces(segments: list, a: int, n: int, h: int) -> list:
    """``(first tree, trees, arrays)`` of the parts of ``segments`` (``(trees, arrays)`` in order, the
    destinations of one group) that cover the group's trees ``a … a+n−1``."""
    out, s0 = [], 0
    for count, arrays in segments:
        lo, hi = max(a, s0), min(a + n, s0 + count)
        if lo < hi:
            out.append((lo, hi - lo, tuple(x[(lo - s0) << h:(hi - s0) << h] for x in arrays)))
        s0 += count
    return out


def kernel_specs() -> list:
    """Both roles' group kernels (none without AES-NI), for :func:`pqmpc.primitives.preload.preload`."""
    if not AVAILABLE:
        return []
    from ...primitives.preload import I64, U64, arr

    u64 = lambda nd, ro=False: arr("uint64", nd, ro)  # noqa: E731
    return [(_sender_group, (u64(2, True), u64(2), U64, u64(2), u64(1), u64(3), u64(2), arr("uint8", 1), I64,
                             u64(3))),
            (_receiver_group, (u64(2, True), u64(2), U64, u64(3), arr("uint8", 2), arr("int64", 1), u64(2),
                               arr("uint8", 1), arr("uint8", 1), I64, u64(3)))]


__all__ = ["AVAILABLE", "sender_group", "receiver_group", "mpcot_send_encoded", "mpcot_receive_encoded",
           "kernel_specs", "CHECK_STEP_LEAVES", "receiver_check_sums", "pieces"]
