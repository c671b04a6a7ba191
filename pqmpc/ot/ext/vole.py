"""Silent random VOLE over GF(2^128) from COTs, GGM trees and dual LPN.

Relation (all arithmetic in GF(2^128), :mod:`pqmpc.primitives.gf128`): the
*sender* gets a global ``Δ`` and ``B`` ``(k, 16)``; the *receiver* gets ``A``
and ``C`` ``(k, 16)`` with ``C[i] = B[i] + A[i]·Δ`` on every index, ``A`` and
``B`` pseudorandom. This is the correlation RR22 PSI consumes.

Construction (Boyle–Couteau–Gilboa–Ishai–Kohl–Scholl, "Efficient
pseudorandom correlation generators", CRYPTO 2019, in the dual-LPN form; the
single-point VOLE as in Weng–Yang–Katz–Wang, S&P 2021):

1. **Base VOLEs from COTs.** 128 correlated OTs ``t_i = q_i + x_i·Δ`` packed
   as ``a = Σ X^i x_i``, ``b = Σ X^i q_i``, ``c = Σ X^i t_i`` give one VOLE
   ``c = b + a·Δ`` with ``a`` uniform (the COT Δ *is* the VOLE Δ). One per
   GGM tree: ``a_j`` is tree j's noise value ``β_j``.
2. **Single-point VOLE per tree** (T trees of ``2^h`` leaves). The sender
   expands a random root with the GGM PRG of :func:`pqmpc.primitives.ggm.ggm_expand_level`
   and sends, per level, both side sums masked with a random OT
   (``K_l^0 ⊕ m0``, ``K_l^1 ⊕ m1``); the receiver's choice bit
   ``1 − α_l`` gives it the sibling of its path, so it learns every leaf
   except ``v[α]``. The sender also sends ``d = b_j + Σ_i v_i`` and the
   receiver sets ``w[α] = c_j + d + Σ_{i≠α} w_i = v[α] + β_j·Δ``. So
   ``w = v + e·Δ`` with ``e`` regular noise: one nonzero ``β_j`` per tree at a
   uniform position. (Plain GGM, not Ferret's Half-Tree: Half-Tree leaves sum
   to the COT Δ, and with a non-binary ``β`` the receiver would learn
   ``(β + 1)·Δ``.)
3. **Dual LPN.** ``A = G·e``, ``B = G·v``, ``C = G·w`` with ``G`` the public
   ExConv7x24 code of :mod:`.lpn_codes` (binary, so linear over GF(2^128)).

Parameters (for ``k`` outputs): code length ``N = T·2^h ≥ 2k`` (rate 1/2,
as libOTe's ExConv7x24), ``h = ⌊log2(2k / 248)⌋`` (at least 1) and
``T = ⌈2k / 2^h⌉ ≥ 248`` trees, so the noise weight is ``T ≥ 248``.
Security estimate: 248 is libOTe's ``getRegNoiseWeight(0.15, N, 128)`` for
ExConv7x24 — the pseudo minimum distance ratio ``δ = 0.15`` estimated for this
code in RRT23 (ePrint 2023/882) and libOTe's ``ConfigureCode.cpp``, and
bit security ``−t·log2(1 − 2δ) ≥ 128`` against linear tests with regular
noise of weight ``t``. That is a binary-LPN estimate; our noise values are
uniform in GF(2^128), which is no easier. An estimate, not a proof: dual
LPN with structured codes is conjectured hard, classically and against
quantum attacks alike (no quantum speed-up beyond Grover-type searches is
known). **Not Silver codes** (broken, RRT23).

Costs per call: ``T·(128 + h)`` OTs from the COT layer (IKNP by default, a
fresh instance per call so that every VOLE has a fresh Δ), ``T·(2h + 1)``
blocks from sender to receiver, ``T·2^h`` AES calls per side for the trees,
and one code pass per compressed vector (two for the receiver).

Security: semi-honest (both parties) by default. ``check=True`` adds the
consistency check of Weng–Yang–Katz–Wang (Wolverine, S&P 2021) against a
malicious *sender*: after the trees the receiver draws ``χ`` and sends it
with ``x' = Σ χ^i e_i + a*`` (``a*`` from one more packed base VOLE); the
sender answers ``SHA-256(Σ χ^i v_i + b* + x'·Δ)`` and the receiver compares
with ``Σ χ^i w_i + c*`` (equal iff ``w = v + e·Δ``, except with probability
``N/2^128``). As in Wolverine and Ferret, a cheating sender may still learn
about one bit of the noise positions from whether the check passes (the
LPN parameters have the slack for it). The COT layer below is IKNP,
semi-honest against a malicious *receiver*. Python cannot promise constant
time.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
from numba import njit

from ...errors import ParameterError, ProtocolError
from ...primitives.bits import pack_bits
from ...primitives.buffers import ScratchPool
from ...primitives.gf128 import gf128_mul_block
from ...primitives.gf128 import mul as gf_mul
from ...primitives.ggm import ggm_expand_level
from ...rng import Rng
from ..interfaces import CorrelatedOT
from .lpn_codes import ExConvCode

PROTOCOL = "silent-VOLE"
#: Minimum regular-noise weight (ExConv7x24, δ = 0.15, 128-bit; see the module docstring).
MIN_NOISE_WEIGHT = 248


class VoleParams:
    """The tree shape and code for ``k`` VOLE outputs."""

    def __init__(self, k: int, min_weight: int = MIN_NOISE_WEIGHT):
        if not isinstance(k, int) or k < 1:
            raise ParameterError(f"VOLE size must be a positive integer, got {k!r}")
        target = max(2 * k, k + 32)
        h = max(1, int(math.floor(math.log2(max(1.0, target / min_weight)))))
        while h > 1 and target / (1 << h) < min_weight:
            h -= 1
        self.k = k
        self.h = h
        self.trees = max(min_weight, -(-target // (1 << h)))
        self.n_code = self.trees << h
        self.code = ExConvCode(k, self.n_code)

    def as_dict(self) -> dict:
        return {"k": self.k, "trees": self.trees, "depth": self.h, "code": "ExConv7x24", "N": self.n_code}


_XPOW = None


def _x_powers() -> np.ndarray:
    global _XPOW
    if _XPOW is None:
        p = np.zeros((128, 16), dtype=np.uint8)
        p[np.arange(128), np.arange(128) // 8] = (1 << (np.arange(128) % 8)).astype(np.uint8)
        _XPOW = p
    return _XPOW


def pack_cot_blocks(q: np.ndarray, trees: int) -> np.ndarray:
    """``Σ_i X^i q[128j + i]`` for each j: ``(trees, 16)``."""
    prod = gf_mul(q, np.tile(_x_powers(), (trees, 1)))
    return np.bitwise_xor.reduce(prod.view(np.uint64).reshape(trees, 128, 2), axis=1).view(np.uint8).copy()


@njit(cache=True, nogil=True)
def _level_sums(ch, trees, m, out):
    """out[j, s] = XOR of the side-s children of tree j (``2m`` children per tree)."""
    for j in range(trees):
        a0 = np.uint64(0)
        a1 = np.uint64(0)
        b0 = np.uint64(0)
        b1 = np.uint64(0)
        base = j * 2 * m
        for i in range(m):
            a0 ^= ch[base + 2 * i, 0]
            a1 ^= ch[base + 2 * i, 1]
            b0 ^= ch[base + 2 * i + 1, 0]
            b1 ^= ch[base + 2 * i + 1, 1]
        out[j, 0, 0] = a0
        out[j, 0, 1] = a1
        out[j, 1, 0] = b0
        out[j, 1, 1] = b1


@njit(cache=True, nogil=True)
def _receiver_fix(ch, trees, m, side, kb, path):
    """Replace the sibling of each tree's path by its value and zero the new path node."""
    for j in range(trees):
        base = j * 2 * m
        s = side[j]
        t0 = np.uint64(0)
        t1 = np.uint64(0)
        for i in range(m):
            t0 ^= ch[base + 2 * i + s, 0]
            t1 ^= ch[base + 2 * i + s, 1]
        g = base + 2 * path[j] + s
        # The garbage child of the unknown node is in the sum: XOR it out again.
        ch[g, 0] = kb[j, 0] ^ t0 ^ ch[g, 0]
        ch[g, 1] = kb[j, 1] ^ t1 ^ ch[g, 1]
        path[j] = 2 * path[j] + (1 - s)
        ch[base + path[j], 0] = 0
        ch[base + path[j], 1] = 0


@njit(cache=True, nogil=True)
def _tree_sums(leaves, trees, size, out):
    for j in range(trees):
        a0 = np.uint64(0)
        a1 = np.uint64(0)
        for i in range(j * size, (j + 1) * size):
            a0 ^= leaves[i, 0]
            a1 ^= leaves[i, 1]
        out[j, 0] = a0
        out[j, 1] = a1


@njit(cache=True, nogil=True)
def _receiver_finish(leaves, trees, size, path, c, d, beta, e):
    """w[α] = c + d + Σ_{i≠α} w_i in each tree, and e[α] = β (e is zero elsewhere)."""
    for j in range(trees):
        a0 = c[j, 0] ^ d[j, 0]
        a1 = c[j, 1] ^ d[j, 1]
        p = j * size + path[j]
        for i in range(j * size, (j + 1) * size):
            if i != p:
                a0 ^= leaves[i, 0]
                a1 ^= leaves[i, 1]
        leaves[p, 0] = a0
        leaves[p, 1] = a1
        e[p, 0] = beta[j, 0]
        e[p, 1] = beta[j, 1]


@njit(cache=True, nogil=True)
def _horner(x, c0, c1):
    """Σ_i χ^i·x_i over GF(2^128) (χ = (c0, c1)), by Horner from the last row."""
    r = (np.uint64(0), np.uint64(0))
    for i in range(x.shape[0] - 1, -1, -1):
        r = gf128_mul_block(r, (c0, c1))
        r = (r[0] ^ x[i, 0], r[1] ^ x[i, 1])
    return r


def _check_hash(z: np.ndarray) -> bytes:
    return hashlib.sha256(b"pqmpc/vole/check" + z.tobytes()).digest()


#: Leaves per chunk of trees expanded together: the level buffers (half and a quarter of this, 16 bytes
#: a leaf) stay in L2/L3 instead of streaming two code-length arrays through memory per level, and the
#: only code-length array is the leaves' own (on these VMs every fresh page costs a fault).
CHUNK_LEAVES = 1 << 17


def _expand_trees(roots: np.ndarray, h: int, on_level, on_leaves, pool: ScratchPool | None = None) -> np.ndarray:
    """Expand ``(T, 16)`` roots to ``(T·2^h, 16)`` leaves, a chunk of trees at a time.

    ``on_level(children, m, lev, j0, j1)`` sees each level of trees ``j0:j1`` (``2m`` children per
    tree, tree-major; the last level is the leaves), then ``on_leaves(leaves, j0, j1)`` the leaves
    after it, while they are still in cache. Trees are independent, so
    the chunking changes no output.
    """
    T = roots.shape[0]
    size = 1 << h
    leaves = _buffer(pool, "vole leaves", (T << h, 16))
    g = max(1, CHUNK_LEAVES >> h)
    half = g * size // 2
    bufs = (_buffer(pool, "vole level a", (half, 16)), _buffer(pool, "vole level b", (half // 2 or 1, 16)))
    for j0 in range(0, T, g):
        j1 = min(T, j0 + g)
        cur = roots[j0:j1]
        m = 1
        for lev in range(h):
            last = lev == h - 1
            # the last level lands in the leaves; the ones before alternate so that the level
            # before the last (half the leaves) has the bigger buffer
            out = leaves[j0 * size:j1 * size] if last else bufs[(h - 2 - lev) % 2][:2 * m * (j1 - j0)]
            ggm_expand_level(cur, out=out)
            on_level(out, m, lev, j0, j1)
            cur = out
            m *= 2
        on_leaves(cur, j0, j1)
    return leaves


def _buffer(pool: ScratchPool | None, name: str, shape) -> np.ndarray:
    return np.empty(shape, dtype=np.uint8) if pool is None else pool.get(name, shape)


class SilentVole:
    """Random VOLE over GF(2^128) (see the module docstring).

    ``cot`` is the correlated-OT layer (a :class:`~pqmpc.ot.interfaces.CorrelatedOT`);
    by default a fresh :class:`~pqmpc.ot.ext.iknp.IKNP` over ``base_ot`` per call,
    so each call has its own Δ. With a caller's ``cot`` object, Δ is that
    object's session Δ on the channel.

    ``pool`` (a :class:`~pqmpc.primitives.buffers.ScratchPool`): the code-length working arrays
    (leaves, noise) come from it and are reused by every call, instead of fresh memory each call
    (on these VMs the first touch of a fresh page costs more than the AES that fills it). The
    outputs are then views of the pool's buffers, valid until its next use by a VOLE.
    """

    name = PROTOCOL

    def __init__(self, cot: CorrelatedOT | None = None, base_ot=None, check: bool = False,
                 pool: ScratchPool | None = None):
        if cot is not None and not isinstance(cot, CorrelatedOT):
            raise ParameterError("SilentVole needs a CorrelatedOT (IKNP, Ferret, ...)")
        self.cot = cot
        self.base_ot = base_ot
        self.check = check
        self.pool = pool

    def _cot(self) -> CorrelatedOT:
        if self.cot is not None:
            return self.cot
        from .iknp import IKNP

        return IKNP(base=self.base_ot)

    def send(self, ch, k: int, rng=None) -> tuple[np.ndarray, np.ndarray]:
        """Sender of ``k`` VOLEs: ``(Δ, B)``, ``Δ`` ``(16,)``, ``B`` ``(k, 16)``."""
        if k == 0:
            return Rng.ensure(rng).blocks(1)[0], np.zeros((0, 16), dtype=np.uint8)
        p = VoleParams(k)
        rng = Rng.ensure(rng)
        cot = self._cot()
        T, h = p.trees, p.h
        extra = 1 if self.check else 0
        delta, q = cot.send_random_correlated(ch, 128 * (T + extra), rng=rng.fork("vole/cot"))
        gamma = pack_cot_blocks(q, T + extra)
        del q
        m0, m1 = cot.send_random(ch, T * h, rng=rng.fork("vole/rot"))
        m0 = m0.view(np.uint64).reshape(T, h, 2)
        m1 = m1.view(np.uint64).reshape(T, h, 2)
        size = 1 << h
        sums = np.empty((h, T, 2, 2), dtype=np.uint64)
        d = np.empty((T, 2), dtype=np.uint64)

        def on_level(children, m, lev, j0, j1):
            _level_sums(children.view(np.uint64), j1 - j0, m, sums[lev, j0:j1])

        def on_leaves(lv, j0, j1):
            _tree_sums(lv.view(np.uint64), j1 - j0, size, d[j0:j1])

        leaves = _expand_trees(rng.fork("vole/roots").blocks(T), h, on_level, on_leaves, self.pool)
        corr = np.ascontiguousarray(sums.transpose(1, 0, 2, 3))   # (T, h, side, 2)
        corr[:, :, 0] ^= m0
        corr[:, :, 1] ^= m1
        d ^= gamma[:T].view(np.uint64)
        ch.send(corr)
        ch.send(d)
        delta = np.asarray(delta, dtype=np.uint8).reshape(16).copy()
        if self.check:
            got = ch.recv_array(np.uint8, (2, 16), f"{PROTOCOL} step 3 (consistency challenge)")
            chi, xm = got[0].view(np.uint64), got[1]
            z = np.array(_horner(leaves.view(np.uint64), chi[0], chi[1]), dtype=np.uint64).view(np.uint8)
            # Z = V + b* + x'·Δ equals the receiver's W + c* iff the trees were consistent (whp).
            z ^= gamma[T] ^ gf_mul(xm.reshape(1, 16), delta.reshape(1, 16))[0]
            ch.send(np.frombuffer(_check_hash(z), dtype=np.uint8))
        return delta, p.code.dual_encode(leaves)

    def receive(self, ch, k: int, rng=None) -> tuple[np.ndarray, np.ndarray]:
        """Receiver of ``k`` VOLEs: ``(A, C)``, both ``(k, 16)``, ``C = B + A·Δ``."""
        if k == 0:
            z = np.zeros((0, 16), dtype=np.uint8)
            return z, z.copy()
        p = VoleParams(k)
        rng = Rng.ensure(rng)
        cot = self._cot()
        T, h = p.trees, p.h
        extra = 1 if self.check else 0
        x, t = cot.receive_random_correlated(ch, 128 * (T + extra), rng=rng.fork("vole/cot"))
        beta = pack_bits(x.reshape(T + extra, 128)).reshape(T + extra, 16)
        cvals = pack_cot_blocks(t, T + extra)
        del t, x
        alpha = rng.fork("vole/alpha").integers(T, 1 << h)
        shifts = np.arange(h - 1, -1, -1, dtype=np.int64)
        abits = ((alpha[:, None] >> shifts[None, :]) & 1).astype(np.uint8)   # level by level, MSB first
        choices = (1 - abits).reshape(-1)
        mb = cot.receive_random(ch, choices, rng=rng.fork("vole/rot")).view(np.uint64).reshape(T, h, 2)
        corr = ch.recv_array(np.uint64, (T, h, 2, 2), f"{PROTOCOL} step 1 (GGM level corrections, {T} trees)")
        d = ch.recv_array(np.uint64, (T, 2), f"{PROTOCOL} step 2 (tree sums)")
        side = choices.reshape(T, h).astype(np.int64)
        kb = corr[np.arange(T)[:, None], np.arange(h)[None, :], side] ^ mb   # (T, h, 2): the known side sums
        side_l = np.ascontiguousarray(side.T)
        kb_l = np.ascontiguousarray(kb.transpose(1, 0, 2))
        path = np.zeros(T, dtype=np.int64)
        size = 1 << h
        if self.pool is None:
            e = np.zeros((T << h, 16), dtype=np.uint8)
        else:
            e = self.pool.get("vole noise", (T << h, 16))
            e.fill(0)
        cv, bv, ev = cvals.view(np.uint64), beta.view(np.uint64), e.view(np.uint64)

        def on_level(children, m, lev, j0, j1):
            _receiver_fix(children.view(np.uint64), j1 - j0, m, side_l[lev, j0:j1], kb_l[lev, j0:j1], path[j0:j1])

        def on_leaves(lv, j0, j1):
            _receiver_finish(lv.view(np.uint64), j1 - j0, size, path[j0:j1], cv[j0:j1], d[j0:j1], bv[j0:j1],
                             ev[j0 * size:j1 * size])

        w = _expand_trees(np.zeros((T, 16), dtype=np.uint8), h, on_level, on_leaves, self.pool)
        if self.check:
            self._check_receiver(ch, rng, w, e, beta[T], cvals[T])
        # Two 16-byte-wide passes: the prefetching expander is fastest on 16-byte rows.
        return p.code.dual_encode(e), p.code.dual_encode(w)

    @staticmethod
    def _check_receiver(ch, rng, w, e, a_star, c_star):
        """Σ χ^i w_i = Σ χ^i v_i + (Σ χ^i e_i)·Δ, checked with one more VOLE (a*, c*) masking Σ χ^i e_i."""
        chi = rng.fork("vole/check").blocks(1)[0]
        cw = chi.view(np.uint64)
        wsum = np.array(_horner(w.view(np.uint64), cw[0], cw[1]), dtype=np.uint64).view(np.uint8)
        xsum = np.array(_horner(e.view(np.uint64), cw[0], cw[1]), dtype=np.uint64).view(np.uint8)
        ch.send(np.stack([chi, xsum ^ a_star]))
        theirs = ch.recv_bytes(32, f"{PROTOCOL} step 4 (consistency answer)")
        if theirs != _check_hash(wsum ^ c_star):
            raise ProtocolError(f"{PROTOCOL} step 4 (consistency answer): the sender's GGM trees are inconsistent")


__all__ = ["SilentVole", "VoleParams", "MIN_NOISE_WEIGHT", "pack_cot_blocks"]
