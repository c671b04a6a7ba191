"""Single-point COT on GGM trees, batched into Ferret's regular multi-point COT.

One single-point COT of length ``2^h`` gives the sender ``v`` and the
receiver a hidden position ``α`` and ``w`` with ``w = v ⊕ e_α·Δ``. We build it
from the correlated GGM tree of Half-Tree (Guo, Yang, Wang, Zhang, Xie, Liu,
Zhao, EUROCRYPT 2023): the sender's level-1 nodes are ``(s, s ⊕ Δ)`` and every
node ``x`` has children ``H(x)`` and ``x ⊕ H(x)`` with ``H(x) = π(σ(x)) ⊕ σ(x)``
the circular-correlation-robust hash from fixed-key AES. Then the XOR of
every level is ``Δ``, so the XOR ``K_l^0`` of a level's left children and the
XOR ``K_l^1 = K_l^0 ⊕ Δ`` of its right children are themselves a correlated
pair: one base COT ``(q, t = q ⊕ b·Δ)`` per level delivers ``K_l^b`` with a
single block ``c_l = K_l^0 ⊕ q`` on the wire. The receiver takes ``b`` as the
side it learns, so the path goes the other way (``α_l = 1 − b``); it never
sends anything. Finally ``w[α] = ⊕_{i≠α} v[i]`` because the leaves XOR to ``Δ``.
One AES call per inner node, ``h`` blocks per tree on the wire.

Leaves are stored in the "split" layout: expanding ``m`` parents in place
writes left children to ``[0, m)`` and right children to ``[m, 2m)``, so the
new path bit becomes the high bit of the index. A tree's punctured position
is therefore ``Σ_l α_l·2^(l−1)``; Ferret does not care about leaf order.

Security: semi-honest. The receiver learns nothing about ``v[α]`` (hence Δ)
if ``H`` is circular correlation robust (fixed-key AES as an ideal
permutation) and the base COTs are secure; the sender learns nothing about
``α`` because it never receives a message. Symmetric-key only, so
post-quantum up to Grover. Python cannot promise constant time.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ...errors import ParameterError
from ...primitives.aes import DEFAULT_KEY, openssl_ecb
from ...primitives.aes_kernels import HAVE_AESNI, fixed_key_schedule
from ...primitives.aes_unrolled import cr_ni_loop, cr_vaes_loop
from ...primitives.cpu import HAVE_VAES

if HAVE_VAES:
    _ccr_wide = cr_vaes_loop
else:
    @njit
    def _ccr_wide(rk, x, out, sig):
        return 0  # never a ymm AES instruction where the CPU has none

#: Parents hashed per bulk call in a level; their left children (4 KiB) stay in L1 until placed.
TILE = 256


@intrinsic
def _place(typingctx, L, j, m, tmp, n):
    """Children of parents ``L[j:j+n]`` from their hashes ``tmp[:n]``: left (the hash) in place, right
    (parent ⊕ hash) at ``m + j …``; returns the XOR of the left ones. 16-byte loads and stores (numba
    would split each block into two 8-byte accesses behind stride multiplies)."""
    if not all(isinstance(a, types.Array) and a.dtype == types.uint64 and a.ndim == 2 and a.layout == "C"
               for a in (L, tmp)):
        return None
    v2 = ir.VectorType(ir.IntType(64), 2)

    def codegen(context, builder, sig, args):
        La, ja, ma, ta, na = args
        i64 = ir.IntType(64)
        j_ = context.cast(builder, ja, sig.args[1], types.intp)
        m_ = context.cast(builder, ma, sig.args[2], types.intp)
        n_ = context.cast(builder, na, sig.args[4], types.intp)
        zero = ir.Constant(i64, 0)

        def base(aty, a):
            ary = context.make_array(aty)(context, builder, a)
            return builder.bitcast(cgutils.get_item_pointer(context, builder, aty, ary, [zero, zero]), v2.as_pointer())

        lp, tp = base(sig.args[0], La), base(sig.args[3], ta)
        acc_p = cgutils.alloca_once_value(builder, ir.Constant(v2, None))
        with cgutils.for_range(builder, n_) as loop:
            t = loop.index
            src = builder.gep(lp, [builder.add(j_, t)])
            x = builder.load(src, align=8)
            h = builder.load(builder.gep(tp, [t]), align=8)
            builder.store(h, src, align=8)
            builder.store(builder.xor(x, h), builder.gep(lp, [builder.add(builder.add(m_, j_), t)]), align=8)
            builder.store(builder.xor(builder.load(acc_p), h), acc_p)
        acc = builder.load(acc_p)
        tup = ir.Constant(context.get_value_type(sig.return_type), ir.Undefined)
        tup = builder.insert_value(tup, builder.extract_element(acc, ir.Constant(ir.IntType(32), 0)), 0)
        return builder.insert_value(tup, builder.extract_element(acc, ir.Constant(ir.IntType(32), 1)), 1)

    return types.UniTuple(types.uint64, 2)(L, j, m, tmp, n), codegen


@njit(inline="always")
def _expand_level(rk, L, m, tmp):
    """Expand parents ``L[0:m]`` into ``L[0:2m]``; return the XOR of the left children.

    Left child ``π(σ(x)) ⊕ σ(x)`` in place, right ``x ⊕ left`` above the parents. The hashes of
    ``TILE`` parents at a time come from the bulk CCR kernels of ``primitives.aes_unrolled`` (16
    blocks a step with VAES, 8 with AES-NI) into ``tmp``, then :func:`_place` writes the children."""
    acc0 = np.uint64(0)
    acc1 = np.uint64(0)
    j = 0
    while j < m:
        n = min(TILE, m - j)
        src = L[j:j + n]
        done = _ccr_wide(rk, src, tmp[:n], True)
        if done < n:
            cr_ni_loop(rk, src[done:], tmp[done:n], True)
        a0, a1 = _place(L, j, m, tmp, n)
        acc0 ^= a0
        acc1 ^= a1
        j += n
    return acc0, acc1


@njit(cache=True, nogil=True)
def _sender_trees(rk, seeds, delta, leaves, k0):
    tmp = np.empty((TILE, 2), dtype=np.uint64)
    d0 = delta[0]
    d1 = delta[1]
    for tr in range(leaves.shape[0]):
        L = leaves[tr]
        s0 = seeds[tr, 0]
        s1 = seeds[tr, 1]
        L[0, 0] = s0
        L[0, 1] = s1
        L[1, 0] = s0 ^ d0
        L[1, 1] = s1 ^ d1
        k0[tr, 0, 0] = s0
        k0[tr, 0, 1] = s1
        m = 2
        for lev in range(1, k0.shape[1]):
            a0, a1 = _expand_level(rk, L, m, tmp)
            k0[tr, lev, 0] = a0
            k0[tr, lev, 1] = a1
            m *= 2


@njit(cache=True, nogil=True)
def _receiver_trees(rk, kb, b, leaves, pos):
    tmp = np.empty((TILE, 2), dtype=np.uint64)
    h = kb.shape[1]
    for tr in range(leaves.shape[0]):
        L = leaves[tr]
        bit = b[tr, 0]
        # Level 1: the learned node is the sibling; the path takes the other side.
        p = 1 - bit
        L[bit, 0] = kb[tr, 0, 0]
        L[bit, 1] = kb[tr, 0, 1]
        L[p, 0] = 0
        L[p, 1] = 0
        tot0 = kb[tr, 0, 0]
        tot1 = kb[tr, 0, 1]
        m = 2
        for lev in range(1, h):
            left0, left1 = _expand_level(rk, L, m, tmp)
            # The unknown path node expanded to garbage: drop its left child from the sum.
            left0 ^= L[p, 0]
            left1 ^= L[p, 1]
            bit = b[tr, lev]
            if bit == 0:
                side0, side1 = left0, left1
            else:
                # The right children XOR to (all known children) ⊕ (left ones) = tot ⊕ left.
                side0, side1 = tot0 ^ left0, tot1 ^ left1
            sib = p + bit * m
            s0 = kb[tr, lev, 0] ^ side0
            s1 = kb[tr, lev, 1] ^ side1
            L[sib, 0] = s0
            L[sib, 1] = s1
            p = p + (1 - bit) * m
            L[p, 0] = 0
            L[p, 1] = 0
            tot0 ^= s0
            tot1 ^= s1
            m *= 2
        # The leaves XOR to Δ on the sender's side, so w[α] = v[α] ⊕ Δ is the XOR of the others.
        L[p, 0] = tot0
        L[p, 1] = tot1
        pos[tr] = p


def _round_keys():
    return fixed_key_schedule()  # the one cached schedule of the fixed key


def _u64(blocks: np.ndarray) -> np.ndarray:
    return blocks.view(np.uint64)


# Without AES-NI the njit kernels above would run the table AES (not constant time) on
# secret tree nodes, so these do the same level by level over all trees with bulk OpenSSL.


def _expand_level_np(L: np.ndarray, m: int) -> np.ndarray:
    """``_expand_level`` on every tree of ``L`` ``(T, 2^h, 2)`` uint64 at once; returns ``(T, 2)``."""
    x = L[:, :m].copy()
    s = np.empty_like(x)
    s[..., 0] = x[..., 1]
    s[..., 1] = x[..., 0] ^ x[..., 1]
    left = openssl_ecb(DEFAULT_KEY, s.view(np.uint8).reshape(-1, 16)).view(np.uint64).reshape(s.shape)
    left ^= s
    L[:, :m] = left
    np.bitwise_xor(x, left, out=L[:, m:2 * m])
    return np.bitwise_xor.reduce(left, axis=1)


def _sender_trees_np(seeds, delta, leaves, k0):
    leaves[:, 0] = seeds
    leaves[:, 1] = seeds ^ delta
    k0[:, 0] = seeds
    m = 2
    for lev in range(1, k0.shape[1]):
        k0[:, lev] = _expand_level_np(leaves, m)
        m *= 2


def _receiver_trees_np(kb, b, leaves, pos):
    T, h = kb.shape[:2]
    tr = np.arange(T)
    bit = b[:, 0].astype(np.int64)
    p = 1 - bit
    leaves[tr, bit] = kb[:, 0]
    leaves[tr, p] = 0
    tot = kb[:, 0].copy()
    m = 2
    for lev in range(1, h):
        left = _expand_level_np(leaves, m)
        left ^= leaves[tr, p]
        bit = b[:, lev].astype(np.int64)
        side = np.where(bit[:, None] == 0, left, tot ^ left)
        sib = kb[:, lev] ^ side
        leaves[tr, p + bit * m] = sib
        p = p + (1 - bit) * m
        leaves[tr, p] = 0
        tot ^= sib
        m *= 2
    leaves[tr, p] = tot
    pos[:] = p


def sender_expand(seeds: np.ndarray, delta: np.ndarray, h: int, leaves: np.ndarray | None = None):
    """Expand ``T`` correlated GGM trees of depth ``h``.

    ``seeds`` is ``(T, 16)`` (the left level-1 node of each tree), ``delta`` a
    ``(16,)`` block. Returns ``(leaves, k0)``: ``leaves`` ``(T·2^h, 16)`` (the
    sender's ``v``), ``k0`` ``(T, h, 16)`` the XOR of each level's left nodes.
    """
    seeds = np.ascontiguousarray(seeds, dtype=np.uint8)
    delta = np.ascontiguousarray(delta, dtype=np.uint8).reshape(16)
    if seeds.ndim != 2 or seeds.shape[1] != 16 or not 1 <= h <= 30:
        raise ParameterError("sender_expand needs (T, 16) seeds and 1 <= h <= 30")
    T = seeds.shape[0]
    if leaves is None:
        leaves = np.empty((T << h, 16), dtype=np.uint8)
    k0 = np.empty((T, h, 16), dtype=np.uint8)
    if HAVE_AESNI:
        _sender_trees(_round_keys(), _u64(seeds), _u64(delta), _u64(leaves).reshape(T, 1 << h, 2),
                      _u64(k0))
    else:
        _sender_trees_np(_u64(seeds), _u64(delta), _u64(leaves).reshape(T, 1 << h, 2), _u64(k0))
    return leaves, k0


def receiver_expand(kb: np.ndarray, b: np.ndarray, h: int, leaves: np.ndarray | None = None):
    """The receiver's side: ``kb`` ``(T, h, 16)`` the learned level sums ``K_l^{b_l}``, ``b`` ``(T, h)`` bits.

    Returns ``(leaves, pos)``: ``leaves`` ``(T·2^h, 16)`` (``w``) and ``pos``
    ``(T,)`` the punctured index inside each tree.
    """
    kb = np.ascontiguousarray(kb, dtype=np.uint8)
    b = np.ascontiguousarray(b, dtype=np.uint8)
    if kb.ndim != 3 or kb.shape[1:] != (h, 16) or b.shape != kb.shape[:2] or not 1 <= h <= 30:
        raise ParameterError("receiver_expand needs kb (T, h, 16) and b (T, h)")
    T = kb.shape[0]
    if leaves is None:
        leaves = np.empty((T << h, 16), dtype=np.uint8)
    pos = np.empty(T, dtype=np.int64)
    if HAVE_AESNI:
        _receiver_trees(_round_keys(), _u64(kb), b, _u64(leaves).reshape(T, 1 << h, 2), pos)
    else:
        _receiver_trees_np(_u64(kb), b, _u64(leaves).reshape(T, 1 << h, 2), pos)
    return leaves, pos


def mpcot_send(ch, q_base: np.ndarray, delta: np.ndarray, seeds: np.ndarray, h: int,
               leaves: np.ndarray | None = None) -> np.ndarray:
    """Sender of ``T`` regular single-point COTs (one per bin of ``2^h``).

    ``q_base`` ``(T·h, 16)``: the sender's halves of ``T·h`` base COTs under
    ``delta``. Sends the ``(T, h, 16)`` corrections in one message and
    returns ``v`` ``(T·2^h, 16)``.
    """
    T = seeds.shape[0]
    if q_base.shape != (T * h, 16):
        raise ParameterError(f"mpcot_send needs {T * h} base COTs, got {q_base.shape}")
    v, k0 = sender_expand(seeds, delta, h, leaves)
    k0 ^= q_base.reshape(T, h, 16)
    ch.send(k0)
    return v


def mpcot_receive(ch, b_base: np.ndarray, t_base: np.ndarray, T: int, h: int, step: str,
                  leaves: np.ndarray | None = None):
    """Receiver of ``T`` regular single-point COTs; returns ``(w, pos)``.

    ``b_base`` ``(T·h,)`` / ``t_base`` ``(T·h, 16)`` are the receiver's base
    COTs; their choice bits fix the punctured positions (bit ``b`` at level
    ``l`` means the path goes to side ``1 − b``). ``pos`` is inside each bin.
    """
    if b_base.shape != (T * h,) or t_base.shape != (T * h, 16):
        raise ParameterError(f"mpcot_receive needs {T * h} base COTs")
    c = ch.recv_array(np.uint8, (T, h, 16), step)
    c ^= t_base.reshape(T, h, 16)
    return receiver_expand(c, b_base.reshape(T, h), h, leaves)


def kernel_specs() -> list:
    """The tree kernels (both roles; none without AES-NI), for :func:`pqmpc.primitives.preload.preload`."""
    if not HAVE_AESNI:
        return []
    from ...primitives.preload import arr

    u64 = lambda nd, ro=False: arr("uint64", nd, ro)  # noqa: E731
    return [(_sender_trees, (u64(2, True), u64(2), u64(1), u64(3), u64(3))),
            (_receiver_trees, (u64(2, True), u64(3), arr("uint8", 2), u64(3), arr("int64", 1)))]


__all__ = ["sender_expand", "receiver_expand", "mpcot_send", "mpcot_receive", "kernel_specs"]
