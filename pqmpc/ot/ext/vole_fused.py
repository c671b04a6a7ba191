"""The subspace VOLE of SoftSpokenOT with the leaf PRG and the sums over leaves fused (VAES, k = 2, 4).

Per tree and per ``SLICE`` bytes of every leaf stream, one kernel step runs the AES-CTR
blocks of all ``2^k`` leaves of the tree, sixteen vector registers at a time (zmm where
AVX-512 is usable: four counter blocks per register, twice the AES throughput of ymm on
AMD Zen 4; else ymm, two; two registers per leaf so each round-key load serves two
instructions, each leaf's 16-byte round keys broadcast to every lane as they are loaded)
and XORs them into the tree's ``k`` row sums (and ``u``) while still in registers:
the leaf streams never reach memory, where the bulk path writes them and the
butterfly of :mod:`.subspace_vole` reads them back. The sender walks its leaves in
the order ``x' = x ⊕ Δ_i`` so that "bit b of x ⊕ Δ_i" is known when the kernel is
compiled, and skips ``x' = 0`` (the leaf it does not know). Same bytes as the
bulk path (the tests compare them); used by :class:`.subspace_vole._VoleMatrix`
where VAES runs, for k = 2 and 4, AES-128 leaves (κ = 128) and AES-256 (κ = 256).

The row kernels do this per column tile (4,096 OTs), transpose the tile while it is in
cache and, for random OT, hash its rows right there (κ = 128: the zmm TCCR, outputs stored
non-temporally; κ = 256: ``tccr_wide``). Rows no one reads after their hash (no check) are
made in one tile-sized ring buffer and never reach memory; a checked receiver's rows are
streamed from the ring to their place for the check, while a checked sender's rows stay in the
ring too: the sender kernels add the check's ``Σ χ_j·q_j`` per tile while its rows are in cache.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ...primitives.cpu import HAVE_VAES, HAVE_ZMM
from ...primitives.gf_poly import acc128, acc256
from ...primitives.stream_store import stream_copy
from ...primitives.tccr_wide_zmm import HAVE_WIDE_ZMM
from ...primitives.tccr_zmm import HAVE_TCCR_ZMM, hash_keys
from ...primitives.transpose_gfni import HAVE_GFNI_ZMM
from ...primitives.transpose_kernels import transpose_into

__all__ = ["FUSED_KS", "HAVE_FUSED", "LANES", "SLICE", "TILE_BYTES", "delta_mask", "fused_receiver",
           "fused_sender", "kernel_keys", "receiver_tile_rows", "receiver_tile_rows_hashed", "ring_buffer",
           "sender_tile_rows", "sender_tile_rows_hashed", "tile_buffer", "HAVE_HASHED_TILES", "HAVE_WIDE_HASHED_TILES"]

HAVE_FUSED = HAVE_VAES
FUSED_KS = (2, 4)
_I32 = ir.IntType(32)
#: AES blocks per vector register: 4 (zmm, AVX-512) or 2 (ymm)
LANES = 4 if HAVE_ZMM else 2
#: uint64 words per register
_W = 2 * LANES
_VT = ir.VectorType(ir.IntType(64), _W)
#: registers per leaf per step: two, so each round-key load serves two AES instructions
NV = 2
#: AES states in flight per batch of leaves
STATES = 16
#: bytes of every leaf stream per kernel step
SLICE = 16 * LANES * NV
#: whether the row kernels can also hash each tile's rows (random OT; zmm TCCR)
HAVE_HASHED_TILES = HAVE_VAES and HAVE_TCCR_ZMM
if HAVE_HASHED_TILES:
    from ...primitives.tccr_zmm import pair_loop_nt, tccr_loop_nt
if HAVE_VAES and HAVE_WIDE_ZMM:
    from ...primitives.aes_unrolled import tccr_wide_zmm_loop
    from ...primitives.tccr_wide_zmm import wide_pair_loop
#: bytes of every leaf stream per column tile of the row kernels (4,096 OTs: a 64 KiB tile at κ = 128,
#: IKNP's tile), a multiple of ``SLICE``
TILE_BYTES = 512


def kernel_keys(rk: np.ndarray) -> np.ndarray:
    """``(L, R, 2)`` AES round keys as the kernels take them (C order; each key is broadcast to every
    128-bit lane as it is loaded)."""
    return np.ascontiguousarray(rk)


def _arr(t, nd):
    return isinstance(t, types.Array) and t.dtype == types.uint64 and t.ndim == nd and t.layout == "C"


@intrinsic
def _slice(typingctx, rky, leaf0, d, ctr, dst, row0, w, dw, k, sender, rounds, choice, corr, tree):
    """One tree, one ``SLICE``-byte column slice (words ``w …`` of the chunk): stores the ``k`` row sums at
    ``dst[row0 + b, dw … dw + 2·LANES·NV − 1]`` and, for the receiver, ``corr[tree, w …] = u ⊕ choice[w …]``
    (stored from the registers: returning ``u`` as a tuple of words cost more than the AES);
    ``rounds``: 10 (AES-128 leaves) or 14 (AES-256)."""
    if not (_arr(rky, 3) and _arr(dst, 2) and _arr(choice, 1) and _arr(corr, 2)
            and all(isinstance(a, types.Integer) for a in (leaf0, d, ctr, row0, w, dw, tree))
            and isinstance(k, types.IntegerLiteral) and isinstance(sender, types.BooleanLiteral)
            and isinstance(rounds, types.IntegerLiteral) and rounds.literal_value in (10, 14)):
        return None
    kk = k.literal_value
    is_sender = sender.literal_value
    nr = rounds.literal_value

    def codegen(context, builder, sig, args):
        i64 = ir.IntType(64)
        intp = context.get_value_type(types.intp)
        ka = context.make_array(sig.args[0])(context, builder, args[0])
        da = context.make_array(sig.args[4])(context, builder, args[4])
        cha = context.make_array(sig.args[11])(context, builder, args[11])
        coa = context.make_array(sig.args[12])(context, builder, args[12])
        tree_v = context.cast(builder, args[13], sig.args[13], types.intp)
        leaf0_v, d_v, row0_v, w_v, dw_v = (context.cast(builder, args[i], sig.args[i], types.intp)
                                           for i in (1, 2, 5, 6, 7))
        ctr_v = context.cast(builder, args[3], sig.args[3], types.int64)
        fenc = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VT, [_VT, _VT]),
                                              f"llvm.x86.aesni.aesenc.{128 * LANES}")
        flast = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VT, [_VT, _VT]),
                                               f"llvm.x86.aesni.aesenclast.{128 * LANES}")
        fbswap = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i64, [i64]), "llvm.bswap.i64")

        def c(v):
            return ir.Constant(intp, v)

        ctrs = []
        for j in range(NV):
            cv = ir.Constant(_VT, None)
            for ln in range(LANES):
                blk = builder.add(ctr_v, ir.Constant(i64, LANES * j + ln))
                cv = builder.insert_element(cv, builder.call(fbswap, [blk]), ir.Constant(_I32, 2 * ln + 1))
            ctrs.append(cv)
        leaves = [x for x in range(1 << kk) if not (is_sender and x == 0)]
        idx = {}
        for x in leaves:
            # receiver: leaf x; sender: leaf x ⊕ Δ_i (the bits of x decide the sums)
            idx[x] = builder.add(leaf0_v, builder.xor(d_v, c(x)) if is_sender else c(x))

        v2 = ir.VectorType(ir.IntType(64), 2)
        undef2 = ir.Constant(v2, ir.Undefined)
        lanes = ir.Constant(ir.VectorType(_I32, _W), [0, 1] * LANES)

        def key(x, r):
            # one 16-byte round key broadcast to every lane on load: a quarter of the cache footprint
            # of pre-broadcast keys (all trees' keys are walked once per column tile)
            p = cgutils.get_item_pointer(context, builder, sig.args[0], ka, [idx[x], c(r), c(0)])
            return builder.shuffle_vector(builder.load(builder.bitcast(p, v2.as_pointer()), align=8), undef2, lanes)

        zero = ir.Constant(_VT, None)
        u = [zero] * NV
        sums = [[zero] * NV for _ in range(kk)]
        # 16 AES states at a time: enough chains in flight to cover the latency, few enough that the
        # states and the (k + 1)·NV sums stay in registers (k = 8 spills with every leaf live at once).
        per = STATES // NV
        for at in range(0, len(leaves), per):
            batch = leaves[at:at + per]
            st = {}
            for x in batch:
                k0 = key(x, 0)
                st[x] = [builder.xor(cv, k0) for cv in ctrs]
            for r in range(1, nr + 1):
                f = fenc if r < nr else flast
                for x in batch:
                    kr = key(x, r)
                    st[x] = [builder.call(f, [v, kr]) for v in st[x]]
            for x in batch:
                for j, v in enumerate(st[x]):
                    if not is_sender:
                        u[j] = builder.xor(u[j], v)
                    for b in range(kk):
                        if (x >> b) & 1:
                            sums[b][j] = builder.xor(sums[b][j], v)
        for b in range(kk):
            for j in range(NV):
                p = cgutils.get_item_pointer(context, builder, sig.args[4], da,
                                             [builder.add(row0_v, c(b)), builder.add(dw_v, c(_W * j))])
                builder.store(sums[b][j], builder.bitcast(p, _VT.as_pointer()), align=8)
        if not is_sender:
            for j in range(NV):
                at = builder.add(w_v, c(_W * j))
                pc = cgutils.get_item_pointer(context, builder, sig.args[11], cha, [at])
                ch_v = builder.load(builder.bitcast(pc, _VT.as_pointer()), align=8)
                po = cgutils.get_item_pointer(context, builder, sig.args[12], coa, [tree_v, at])
                builder.store(builder.xor(u[j], ch_v), builder.bitcast(po, _VT.as_pointer()), align=8)
        return context.get_constant(types.intp, 0)

    return types.intp(rky, leaf0, d, ctr, dst, row0, w, dw, k, sender, rounds, choice, corr, tree), codegen


if HAVE_VAES:
    # One kernel per (k, rounds, side): k and the rounds must be compile-time constants of the slice.
    @njit(cache=True, nogil=True)
    def _receiver2_10(rky, start, choice, corr, v):
        nb, cw = corr.shape
        for i in range(nb):
            for s in range(cw // (_W * NV)):
                _slice(rky, i << 2, 0, start + LANES * NV * s, v, i * 2, _W * NV * s, _W * NV * s, 2, False, 10,
                       choice, corr, i)

    @njit(cache=True, nogil=True)
    def _sender2_10(rky, start, points, dbits, corr, q):
        nb, cw = corr.shape
        for i in range(nb):
            for s in range(cw // (_W * NV)):
                _slice(rky, i << 2, points[i], start + LANES * NV * s, q, i * 2, _W * NV * s, _W * NV * s, 2, True, 10,
                       corr[0], corr, i)
        _add_corrections(2, dbits, corr, q)

    @njit(cache=True, nogil=True)
    def _receiver2_14(rky, start, choice, corr, v):
        nb, cw = corr.shape
        for i in range(nb):
            for s in range(cw // (_W * NV)):
                _slice(rky, i << 2, 0, start + LANES * NV * s, v, i * 2, _W * NV * s, _W * NV * s, 2, False, 14,
                       choice, corr, i)

    @njit(cache=True, nogil=True)
    def _sender2_14(rky, start, points, dbits, corr, q):
        nb, cw = corr.shape
        for i in range(nb):
            for s in range(cw // (_W * NV)):
                _slice(rky, i << 2, points[i], start + LANES * NV * s, q, i * 2, _W * NV * s, _W * NV * s, 2, True, 14,
                       corr[0], corr, i)
        _add_corrections(2, dbits, corr, q)

    @njit(cache=True, nogil=True)
    def _receiver4_10(rky, start, choice, corr, v):
        nb, cw = corr.shape
        for i in range(nb):
            for s in range(cw // (_W * NV)):
                _slice(rky, i << 4, 0, start + LANES * NV * s, v, i * 4, _W * NV * s, _W * NV * s, 4, False, 10,
                       choice, corr, i)

    @njit(cache=True, nogil=True)
    def _sender4_10(rky, start, points, dbits, corr, q):
        nb, cw = corr.shape
        for i in range(nb):
            for s in range(cw // (_W * NV)):
                _slice(rky, i << 4, points[i], start + LANES * NV * s, q, i * 4, _W * NV * s, _W * NV * s, 4, True, 10,
                       corr[0], corr, i)
        _add_corrections(4, dbits, corr, q)

    @njit(cache=True, nogil=True)
    def _receiver4_14(rky, start, choice, corr, v):
        nb, cw = corr.shape
        for i in range(nb):
            for s in range(cw // (_W * NV)):
                _slice(rky, i << 4, 0, start + LANES * NV * s, v, i * 4, _W * NV * s, _W * NV * s, 4, False, 14,
                       choice, corr, i)

    @njit(cache=True, nogil=True)
    def _sender4_14(rky, start, points, dbits, corr, q):
        nb, cw = corr.shape
        for i in range(nb):
            for s in range(cw // (_W * NV)):
                _slice(rky, i << 4, points[i], start + LANES * NV * s, q, i * 4, _W * NV * s, _W * NV * s, 4, True, 14,
                       corr[0], corr, i)
        _add_corrections(4, dbits, corr, q)

    _KERNELS = {(2, 10): (_receiver2_10, _sender2_10), (2, 14): (_receiver2_14, _sender2_14),
                (4, 10): (_receiver4_10, _sender4_10), (4, 14): (_receiver4_14, _sender4_14)}


    @njit(inline="always")
    def _receiver_tile(rky, start, k, choice, corr, tile, t0, tw):
        # one column tile: every tree's slices into the (κ, tw) tile
        nb = corr.shape[0]
        step = _W * NV
        for i in range(nb):
            for s in range(tw // step):
                w = t0 + step * s
                if k == 4:
                    if rky.shape[1] == 11:
                        _slice(rky, i << 4, 0, start + w // 2, tile, i * 4, w, step * s, 4, False, 10, choice, corr, i)
                    else:
                        _slice(rky, i << 4, 0, start + w // 2, tile, i * 4, w, step * s, 4, False, 14, choice, corr, i)
                elif rky.shape[1] == 11:
                    _slice(rky, i << 2, 0, start + w // 2, tile, i * 2, w, step * s, 2, False, 10, choice, corr, i)
                else:
                    _slice(rky, i << 2, 0, start + w // 2, tile, i * 2, w, step * s, 2, False, 14, choice, corr, i)

    @njit(inline="always")
    def _sender_tile(rky, start, k, points, dmask, corr, tile, t0, tw):
        nb = corr.shape[0]
        step = _W * NV
        for i in range(nb):
            d = points[i]
            for s in range(tw // step):
                w = t0 + step * s
                if k == 4:
                    if rky.shape[1] == 11:
                        _slice(rky, i << 4, d, start + w // 2, tile, i * 4, w, step * s, 4, True, 10, dmask, corr, i)
                    else:
                        _slice(rky, i << 4, d, start + w // 2, tile, i * 4, w, step * s, 4, True, 14, dmask, corr, i)
                elif rky.shape[1] == 11:
                    _slice(rky, i << 2, d, start + w // 2, tile, i * 2, w, step * s, 2, True, 10, dmask, corr, i)
                else:
                    _slice(rky, i << 2, d, start + w // 2, tile, i * 2, w, step * s, 2, True, 14, dmask, corr, i)
        _tile_corrections(tile, corr, t0, dmask, k)

    @njit(cache=True, nogil=True)
    def _receiver_tiles(rky, start, k, choice, corr, rows, buf):
        # Per column tile: every tree's slices into the tile, then its transpose into the rows,
        # while the tile is in cache (V never reaches memory; only the corrections and the rows do).
        cw = corr.shape[1]
        width = corr.shape[0] * k
        tmax = buf.shape[0] // width
        scr = np.empty((128, 64), dtype=np.uint8)
        for t0 in range(0, cw, tmax):
            tw = min(tmax, cw - t0)
            tile = buf[:width * tw].reshape(width, tw)
            _receiver_tile(rky, start, k, choice, corr, tile, t0, tw)
            _tile_transpose(tile.view(np.uint8), rows[64 * t0:64 * (t0 + tw)], scr)

    @njit(cache=True, nogil=True)
    def _sender_tiles(rky, start, k, points, dmask, corr, rows, buf, ptab, power, acc):
        # ``ptab, power, acc``: as in ``_sender_tiles_hashed`` (κ = 128 rows only)
        cw = corr.shape[1]
        width = corr.shape[0] * k
        tmax = buf.shape[0] // width
        scr = np.empty((128, 64), dtype=np.uint8)
        nosel = np.zeros(0, dtype=np.uint8)
        for t0 in range(0, cw, tmax):
            tw = min(tmax, cw - t0)
            tile = buf[:width * tw].reshape(width, tw)
            _sender_tile(rky, start, k, points, dmask, corr, tile, t0, tw)
            dst = rows[64 * t0:64 * (t0 + tw)]
            _tile_transpose(tile.view(np.uint8), dst, scr)
            if acc.shape[0]:
                acc128(ptab, power, dst.view(np.uint64), nosel, acc)


if HAVE_HASHED_TILES:
    # The same, each tile's rows hashed right after the transpose while they are in L1/L2 (random OT):
    # the receiver's ``H(t_j, j)`` into ``hout``, the sender's ``H(q_j, j)``, ``H(q_j ⊕ Δ, j)`` into
    # ``m0``, ``m1``; rows ``nh`` and on, and the last ``nh mod 16``, are left to the caller.
    # ``ring``: no one reads the rows after their hash, so every tile's rows go to the same
    # tile-sized ``rows`` (in L1/L2) rather than to their place in the chunk: writing the transpose
    # to memory that is not in cache cost more than the hash (receiver 4.8 -> 3.7 ms per 2^20).
    @njit(cache=True, nogil=True)
    def _receiver_tiles_hashed(rky, start, k, choice, corr, rows, buf, hrk, hstart, htag, hout, nh, ringb, mode):
        # mode 0: each tile's rows transposed into their place in ``rows``; 1: into ``ringb`` only
        # (see ``ring``); 2: into ``ringb``, hashed there, then streamed to their place in ``rows``
        # (kept for the check: no read for ownership of rows not in cache)
        cw = corr.shape[1]
        width = corr.shape[0] * k
        tmax = buf.shape[0] // width
        scr = np.empty((128, 64), dtype=np.uint8)
        for t0 in range(0, cw, tmax):
            tw = min(tmax, cw - t0)
            tile = buf[:width * tw].reshape(width, tw)
            _receiver_tile(rky, start, k, choice, corr, tile, t0, tw)
            a, b = 64 * t0, 64 * (t0 + tw)
            dst = rows[a:b] if mode == 0 else ringb[:b - a]
            _tile_transpose(tile.view(np.uint8), dst, scr)
            e = a + (min(b, nh) - a) // 16 * 16
            if e > a:
                tccr_loop_nt(hrk, dst[:e - a].view(np.uint64), hstart + np.uint64(a), htag,
                             hout[a:e].view(np.uint64))
            if mode == 2:
                stream_copy(dst.reshape(-1), rows[a:b].reshape(-1))

    # ``ptab, power, acc``: the check's :meth:`.check.Challenges.tile_args` (``acc`` empty: no check):
    # ``Σ χ_j·q_j`` over every row of the tile, hashed or not, added while the tile's rows are in L1/L2,
    # so a checked call's rows need not be kept (the ring) for a second pass over the chunk.
    @njit(cache=True, nogil=True)
    def _sender_tiles_hashed(rky, start, k, points, dmask, corr, rows, buf, hrk, hdelta, hstart, htag, m0, m1, nh,
                             ring, ptab, power, acc):
        cw = corr.shape[1]
        width = corr.shape[0] * k
        tmax = buf.shape[0] // width
        scr = np.empty((128, 64), dtype=np.uint8)
        nosel = np.zeros(0, dtype=np.uint8)
        for t0 in range(0, cw, tmax):
            tw = min(tmax, cw - t0)
            tile = buf[:width * tw].reshape(width, tw)
            _sender_tile(rky, start, k, points, dmask, corr, tile, t0, tw)
            a, b = 64 * t0, 64 * (t0 + tw)
            r = 0 if ring else a
            _tile_transpose(tile.view(np.uint8), rows[r:r + b - a], scr)
            e = a + (min(b, nh) - a) // 16 * 16
            if e > a:
                pair_loop_nt(hrk, rows[r:r + e - a].view(np.uint64), hdelta, hstart + np.uint64(a), htag,
                             m0[a:e].view(np.uint64), m1[a:e].view(np.uint64))
            if acc.shape[0]:
                acc128(ptab, power, rows[r:r + b - a].view(np.uint64), nosel, acc)


#: whether the row kernels can hash κ = 256 tiles too (``tccr_wide`` on zmm)
HAVE_WIDE_HASHED_TILES = HAVE_VAES and HAVE_WIDE_ZMM
if HAVE_WIDE_HASHED_TILES:
    # κ = 256: each tile's rows hashed with ``tccr_wide`` (a tweak array per tile) while in cache,
    # made in the ring buffer (``mode`` 1 and 2, as at κ = 128: the check's rows streamed from there
    # to their place, no read for ownership of 32 MiB per 2^20), else in their place. The wide hash
    # is bound by its per-row AES-256 key schedules, so its ordinary stores of the outputs overlap
    # it: streaming them from a tile buffer cost more (~2 ms per 2^20 pairs), and non-temporal
    # stores from the kernel saved nothing (2^20 pairs into 64-byte-aligned memory). Outputs are
    # 4-word rows.
    @njit(inline="always")
    def _tweaks(tws, hstart, a, n):
        # the wide hash takes a tweak per row: rows a .. a + n − 1 of the chunk
        for j in range(n):
            tws[j] = hstart + np.uint64(a + j)

    @njit(cache=True, nogil=True)
    def _receiver_tiles_wide(rky, start, k, choice, corr, rows, buf, hstart, htag, hout, nh, ringb, mode):
        cw = corr.shape[1]
        width = corr.shape[0] * k
        tmax = buf.shape[0] // width
        scr = np.empty((128, 64), dtype=np.uint8)
        tws = np.empty(64 * tmax, dtype=np.uint64)
        for t0 in range(0, cw, tmax):
            tw = min(tmax, cw - t0)
            tile = buf[:width * tw].reshape(width, tw)
            _receiver_tile(rky, start, k, choice, corr, tile, t0, tw)
            a, b = 64 * t0, 64 * (t0 + tw)
            dst = rows[a:b] if mode == 0 else ringb[:b - a]
            _tile_transpose(tile.view(np.uint8), dst, scr)
            e = a + (min(b, nh) - a) // 16 * 16
            if e > a:
                _tweaks(tws, hstart, a, e - a)
                tccr_wide_zmm_loop(dst[:e - a].view(np.uint64), tws[:e - a], hout[a:e].view(np.uint64), htag)
            if mode == 2:
                stream_copy(dst.reshape(-1), rows[a:b].reshape(-1))

    # ``ptab, power, acc``: as in ``_sender_tiles_hashed``, in GF(2^256)
    @njit(cache=True, nogil=True)
    def _sender_tiles_wide(rky, start, k, points, dmask, corr, rows, buf, hdelta, hstart, htag, m0, m1, nh, ring,
                           ptab, power, acc):
        cw = corr.shape[1]
        width = corr.shape[0] * k
        tmax = buf.shape[0] // width
        scr = np.empty((128, 64), dtype=np.uint8)
        tws = np.empty(64 * tmax, dtype=np.uint64)
        nosel = np.zeros(0, dtype=np.uint8)
        for t0 in range(0, cw, tmax):
            tw = min(tmax, cw - t0)
            tile = buf[:width * tw].reshape(width, tw)
            _sender_tile(rky, start, k, points, dmask, corr, tile, t0, tw)
            a, b = 64 * t0, 64 * (t0 + tw)
            r = 0 if ring else a
            _tile_transpose(tile.view(np.uint8), rows[r:r + b - a], scr)
            e = a + (min(b, nh) - a) // 16 * 16
            if e > a:
                _tweaks(tws, hstart, a, e - a)
                wide_pair_loop(rows[r:r + e - a].view(np.uint64), hdelta, tws[:e - a], htag, m0[a:e].view(np.uint64),
                               m1[a:e].view(np.uint64))
            if acc.shape[0]:
                acc256(ptab, power, rows[r:r + b - a].view(np.uint64), nosel, acc)


if HAVE_GFNI_ZMM:
    from ...primitives.transpose_gfni import transpose128_kernel as _tile_transpose
else:
    @njit(inline="always")
    def _tile_transpose(mat, out, scratch):
        transpose_into(mat, out)


@njit(inline="always")
def _tile_corrections(tile, corr, t0, dmask, k):
    # q_{i,b} = w_{i,b} ⊕ Δ_{i,b}·c_i on the tile while it is in L1: branch-free (a mask per row, no
    # timing that depends on Δ's bits), one row at a time as 1-D views so the loop vectorizes (2-D
    # indexing did not: 1 ms per 2^20); in the slice kernel the correction's registers made the AES
    # states spill
    width, tw = tile.shape
    for r in range(width):
        m = dmask[r]
        dst = tile[r]
        src = corr[r // k, t0:t0 + tw]
        for x in range(tw):
            dst[x] ^= src[x] & m


@njit(cache=True, nogil=True)
def _add_corrections(k, dbits, corr, q):
    # branch-free on Δ's bits (a mask per row): no timing that follows Δ's Hamming weight
    nb, cw = corr.shape
    for i in range(nb):
        src = corr[i]
        for b in range(k):
            m = np.uint64(0) - np.uint64(dbits[i * k + b] & 1)
            dst = q[i * k + b]
            for w in range(cw):
                dst[w] ^= src[w] & m


def fused_receiver(k: int, rky, start: int, choice: np.ndarray, corr: np.ndarray, v: np.ndarray) -> None:
    """Receiver rows of one chunk (uint8 arrays, widths a multiple of ``SLICE`` bytes), streams from block ``start``."""
    _KERNELS[k, rky.shape[1] - 1][0](rky, start, choice.view(np.uint64), corr.view(np.uint64), v.view(np.uint64))


def fused_sender(k: int, rky, start: int, points, dbits, corr: np.ndarray, q: np.ndarray) -> None:
    """Sender rows of one chunk (as :func:`fused_receiver`)."""
    _KERNELS[k, rky.shape[1] - 1][1](rky, start, points, dbits, corr.view(np.uint64), q.view(np.uint64))


def delta_mask(dbits: np.ndarray) -> np.ndarray:
    """Δ's bits ``(κ,)`` as uint64 0 / all-ones (the sender's row masks)."""
    return np.where(np.asarray(dbits) != 0, np.uint64(0xFFFFFFFFFFFFFFFF), np.uint64(0))


def tile_buffer(width: int) -> np.ndarray:
    """Scratch for one column tile of a ``width``-row matrix (the row kernels' ``buf``)."""
    return np.empty(width * TILE_BYTES // 8, dtype=np.uint64)


def receiver_tile_rows(k: int, rky, start: int, choice: np.ndarray, corr: np.ndarray, rows: np.ndarray,
                       buf: np.ndarray) -> None:
    """:func:`fused_receiver` with V transposed tile by tile into ``rows`` (``(8·cb, κ/8)`` uint8, C order);
    ``corr`` ``(κ/k, cb)`` as there, ``cb`` a multiple of ``SLICE``; ``buf``: ``κ·TILE_BYTES/8`` uint64 scratch."""
    _receiver_tiles(rky, start, k, choice.view(np.uint64), corr.view(np.uint64), rows, buf)


_NO_CHECK = (np.zeros((1, 2), dtype=np.uint64), np.zeros(2, dtype=np.uint64), np.zeros(0, dtype=np.uint64))


def _check_args(check, rows: np.ndarray, wide: bool = False) -> tuple:
    if check is None:
        return _NO_CHECK
    if rows.shape[1] != 16 and not (wide and rows.shape[1] == 32):
        raise ValueError("only the hashed row kernels sum the check of 32-byte rows (GF(2^256))")
    return check


def sender_tile_rows(k: int, rky, start: int, points, dbits, corr: np.ndarray, rows: np.ndarray,
                     buf: np.ndarray, check: tuple | None = None) -> None:
    """:func:`fused_sender` with Q transposed tile by tile into ``rows`` (as :func:`receiver_tile_rows`).
    ``check = (table, power, acc)`` (:meth:`.check.Challenges.tile_args`, 16-byte rows only): also
    ``acc[0:2] ^= Σ χ_j·q_j`` over the chunk's rows, tile by tile in cache, ``power`` advanced."""
    _sender_tiles(rky, start, k, points, delta_mask(dbits), corr.view(np.uint64), rows, buf,
                  *_check_args(check, rows))


def receiver_tile_rows_hashed(k: int, rky, start: int, choice: np.ndarray, corr: np.ndarray, rows: np.ndarray,
                              buf: np.ndarray, hstart: int, tag: int, hout: np.ndarray, nh: int,
                              ring: np.ndarray | None = None, keep: bool = False) -> int:
    """:func:`receiver_tile_rows`, and ``hout[j] = H(rows[j], hstart + j)`` for ``j < nh − nh mod 16``
    (``hout`` may be ``rows``; :data:`HAVE_HASHED_TILES` only); returns that count. With ``ring``
    (:func:`ring_buffer`; only when every row is hashed, ``nh`` = the chunk, a multiple of 16), the
    rows are made there tile by tile and ``rows`` is not written."""
    if ring is not None and nh != rows.shape[0] and not keep:
        raise ValueError("ring: only when every row of the chunk is hashed here")
    mode = 0 if ring is None else 2 if keep else 1
    ringb = rows[:0] if ring is None else ring
    if rows.shape[1] == 32:
        _receiver_tiles_wide(rky, start, k, choice.view(np.uint64), corr.view(np.uint64), rows, buf,
                             np.uint64(hstart % (1 << 64)), np.uint64(tag), hout, nh, ringb, mode)
    else:
        _receiver_tiles_hashed(rky, start, k, choice.view(np.uint64), corr.view(np.uint64), rows, buf, hash_keys(),
                               np.uint64(hstart % (1 << 64)), np.uint64(tag), hout, nh, ringb, mode)
    return nh - nh % 16


def sender_tile_rows_hashed(k: int, rky, start: int, points, dbits, corr: np.ndarray, rows: np.ndarray,
                            buf: np.ndarray, delta: np.ndarray, hstart: int, tag: int, m0: np.ndarray,
                            m1: np.ndarray, nh: int, ring: np.ndarray | None = None,
                            check: tuple | None = None) -> int:
    """:func:`sender_tile_rows`, and ``m0[j] = H(q_j, hstart + j)``, ``m1[j] = H(q_j ⊕ Δ, hstart + j)`` for
    ``j < nh − nh mod 16`` (:data:`HAVE_HASHED_TILES` only); returns that count. ``ring`` as in
    :func:`receiver_tile_rows_hashed`; with ``check`` (as in :func:`sender_tile_rows`: every row of the
    chunk is summed here) the rows past ``nh`` may be left unwritten too, as no one else reads them."""
    if ring is not None and (nh % 16 or (nh != rows.shape[0] and check is None)):
        raise ValueError("ring: only when every row the caller reads is hashed or summed here")
    ck = _check_args(check, rows, wide=True)
    d = np.ascontiguousarray(delta, dtype=np.uint8).view(np.uint64)
    if rows.shape[1] == 32:
        _sender_tiles_wide(rky, start, k, points, delta_mask(dbits), corr.view(np.uint64),
                           rows if ring is None else ring, buf, d, np.uint64(hstart % (1 << 64)), np.uint64(tag),
                           m0, m1, nh, ring is not None, *ck)
    else:
        _sender_tiles_hashed(rky, start, k, points, delta_mask(dbits), corr.view(np.uint64),
                             rows if ring is None else ring, buf, hash_keys(), d, np.uint64(hstart % (1 << 64)),
                             np.uint64(tag), m0, m1, nh, ring is not None, *ck)
    return nh - nh % 16


def ring_buffer(width: int) -> np.ndarray:
    """The rows of one column tile of a ``width``-row matrix (``(8·TILE_BYTES, width/8)`` uint8): the
    hashed row kernels' ``ring``."""
    return np.empty((8 * TILE_BYTES, width // 8), dtype=np.uint8)
