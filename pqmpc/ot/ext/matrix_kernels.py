"""Fused kernels of the extension matrix: PRG streams, masking and the bit transpose per column tile.

The plain path runs the κ PRG streams over a whole chunk (1 MiB for 2^16 rows), XORs,
then transposes the chunk: three passes over memory that no longer fits the core's L2.
These kernels work one column tile at a time (``TILE_BLOCKS`` AES blocks per stream,
``128 · TILE_BLOCKS`` rows): the tile of every stream is made, masked and transposed
while it is in L1/L2, and only the rows (and, on the receiver, the U it sends) reach
memory. AES-NI only (callers check :data:`pqmpc.primitives.cpu.HAVE_AESNI`), with VAES
twins (two blocks per AES instruction, where the CPU has it); byte for byte the results of
the plain path.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ...primitives.aes_kernels import aes128_encrypt8_ni, aes128_load_keys
from ...primitives.aes_mixed import (
    ctr_mask_xor16,
    ctr_mask_xor16_256,
    ctr_mask_xor16_z,
    ctr_mask_xor16_z256,
    ctr_pair16,
    ctr_pair16_256,
    ctr_pair16_z,
    ctr_pair16_z256,
)
from ...primitives.cpu import HAVE_VAES, HAVE_ZMM
from ...primitives.gf_poly import acc128
from ...primitives.stream_store import stream_copy
from ...primitives.transpose_gfni import HAVE_GFNI_ZMM
from ...primitives.transpose_kernels import transpose_into

__all__ = ["TILE_BLOCKS", "ZMM_TILES", "low_bits_packed",
           "receiver_tiles", "receiver_tiles_vaes", "receiver_tiles_zmm", "sender_tiles",
           "sender_tiles_vaes", "sender_tiles_zmm", "sender_tiles_zmm_check", "kernel_specs"]

#: AES blocks per stream in one column tile (32 → 4,096 rows; a 64 KiB tile at κ = 128).
TILE_BLOCKS = 32


@njit(inline="always")
def _bswap64(x):
    x = ((x & np.uint64(0x00FF00FF00FF00FF)) << np.uint64(8)) | ((x >> np.uint64(8)) & np.uint64(0x00FF00FF00FF00FF))
    x = ((x & np.uint64(0x0000FFFF0000FFFF)) << np.uint64(16)) | ((x >> np.uint64(16)) & np.uint64(0x0000FFFF0000FFFF))
    return (x << np.uint64(32)) | (x >> np.uint64(32))


@njit(inline="always")
def _ctr(c):
    # the counter block of MultiKeyCTR: bytes 0..7 zero, bytes 8..15 = c big-endian
    return (np.uint64(0), _bswap64(np.uint64(c)))


@njit(inline="always")
def _ctr8(c):
    return (_ctr(c), _ctr(c + 1), _ctr(c + 2), _ctr(c + 3), _ctr(c + 4), _ctr(c + 5), _ctr(c + 6), _ctr(c + 7))


# A tile is w (128 or 256) rows of 16·TILE_BLOCKS bytes: whole 128-row × 64-byte bands, which the
# GFNI kernel transposes in about 0.6× the time of the byte-interleave one (same bytes).
# At κ = 128 a streamed tile goes straight from registers to memory in whole lines (no pass
# through a cache buffer) when the rows are 16-byte aligned (every numpy array of 16-byte rows).
if HAVE_GFNI_ZMM:
    from ...primitives.transpose_gfni import transpose128_kernel
    from ...primitives.transpose_gfni_nt import transpose128_stream

    @njit(inline="always")
    def _transpose_tile(tile, out, scratch):
        transpose128_kernel(tile, out, scratch)

    @njit(inline="always")
    def _stream_tile(tile, trows, dst, scratch):
        if dst.shape[1] == 16 and dst.ctypes.data % 16 == 0:
            transpose128_stream(tile, dst, scratch)
        else:
            transpose128_kernel(tile, trows, scratch)
            stream_copy(trows.reshape(-1), dst.reshape(-1))
else:
    @njit(inline="always")
    def _transpose_tile(tile, out, scratch):
        transpose_into(tile, out)

    @njit(inline="always")
    def _stream_tile(tile, trows, dst, scratch):
        transpose_into(tile, trows)
        stream_copy(trows.reshape(-1), dst.reshape(-1))


@njit(inline="always")
def _emit_rows(tile, trows, rows, g0, stream, scratch):
    # With ``stream`` (rows the caller does not read again soon: a large COT result) the tile is
    # transposed in cache and streamed out: non-temporal stores skip reading every output line
    # from memory first (receiver 2^24: 64 -> 49 ms). Rows hashed right after (random OT)
    # are better left in cache: transposed in place.
    if stream:
        _stream_tile(tile, trows, rows[g0 * 128:(g0 + TILE_BLOCKS) * 128], scratch)
    else:
        _transpose_tile(tile, rows[g0 * 128:(g0 + TILE_BLOCKS) * 128], scratch)


@njit(cache=True, nogil=True)
def receiver_tiles(rk0, rk1, start, code, crow, u, rows, tile, stream):
    """T = G(k⁰), U = G(k¹) ⊕ T ⊕ C per column tile, for ``K`` consecutive chunks of ``nblk``
    blocks per stream: U of chunk ``k`` into ``u[k]`` (u: (K, w, nblk, 2) u64), the transpose
    of T into ``rows`` (128·K·nblk, w/8) u8; ``tile`` (w, 16·TILE_BLOCKS) u8 scratch.
    ``nblk`` must be a multiple of TILE_BLOCKS; ``code`` (crows, K·nblk, 2), row ``j·crow``;
    ``stream``: write the rows with non-temporal stores (see ``_emit_rows``)."""
    w, nblk = u.shape[1], u.shape[2]
    tv = tile.view(np.uint64).reshape(w, TILE_BLOCKS, 2)
    trows = np.empty((128 * TILE_BLOCKS, w // 8), dtype=np.uint8)
    tscr = np.empty((128, 64), dtype=np.uint8)
    for g0 in range(0, u.shape[0] * nblk, TILE_BLOCKS):
        k = g0 // nblk
        b0 = g0 - k * nblk
        for j in range(w):
            ks0 = aes128_load_keys(rk0[j])
            ks1 = aes128_load_keys(rk1[j])
            jc = j * crow
            for b in range(0, TILE_BLOCKS, 8):
                y0 = aes128_encrypt8_ni(ks0, _ctr8(start + g0 + b))
                y1 = aes128_encrypt8_ni(ks1, _ctr8(start + g0 + b))
                for i in range(8):
                    tv[j, b + i, 0] = y0[i][0]
                    tv[j, b + i, 1] = y0[i][1]
                    u[k, j, b0 + b + i, 0] = y1[i][0] ^ y0[i][0] ^ code[jc, g0 + b + i, 0]
                    u[k, j, b0 + b + i, 1] = y1[i][1] ^ y0[i][1] ^ code[jc, g0 + b + i, 1]
        _emit_rows(tile, trows, rows, g0, stream, tscr)


@njit(cache=True, nogil=True)
def sender_tiles(rk, start, a, amask, rows, tile, stream):
    """Q = G(kˢ) ⊕ (U ∧ s) per column tile, transposed into ``rows`` (128·K·nblk, w/8) u8;
    ``a`` = U of K chunks (K, w, nblk, 2) u64, ``amask`` (w,) u64 of 0 / all-ones; ``tile`` as above."""
    w, nblk = a.shape[1], a.shape[2]
    tv = tile.view(np.uint64).reshape(w, TILE_BLOCKS, 2)
    trows = np.empty((128 * TILE_BLOCKS, w // 8), dtype=np.uint8)
    tscr = np.empty((128, 64), dtype=np.uint8)
    for g0 in range(0, a.shape[0] * nblk, TILE_BLOCKS):
        k = g0 // nblk
        b0 = g0 - k * nblk
        for j in range(w):
            ks = aes128_load_keys(rk[j])
            m = amask[j]
            for b in range(0, TILE_BLOCKS, 8):
                y = aes128_encrypt8_ni(ks, _ctr8(start + g0 + b))
                for i in range(8):
                    tv[j, b + i, 0] = y[i][0] ^ (a[k, j, b0 + b + i, 0] & m)
                    tv[j, b + i, 1] = y[i][1] ^ (a[k, j, b0 + b + i, 1] & m)
        _emit_rows(tile, trows, rows, g0, stream, tscr)


# VAES variants: the same bytes, each stream's tile made 16 blocks per step in ymm registers
# (two AES blocks per instruction). The counter blocks of a tile are the same for every stream,
# so they are written once per tile and encrypted under each stream's key.

@njit(inline="always")
def _tile_counters(ctr, first):
    for b in range(TILE_BLOCKS):
        ctr[b, 0] = np.uint64(0)
        ctr[b, 1] = _bswap64(np.uint64(first + b))


@njit(cache=True, nogil=True)
def receiver_tiles_vaes(rk0, rk1, start, code, crow, u, rows, tile, stream):
    """:func:`receiver_tiles` on VAES (callers check :data:`pqmpc.primitives.cpu.HAVE_VAES`);
    AES-128 or AES-256 streams, by the round keys' shape ((k, 11, 2) or (k, 15, 2))."""
    w, nblk = u.shape[1], u.shape[2]
    wide = rk0.shape[1] == 15
    tv = tile.view(np.uint64).reshape(w, TILE_BLOCKS, 2)
    trows = np.empty((128 * TILE_BLOCKS, w // 8), dtype=np.uint8)
    tscr = np.empty((128, 64), dtype=np.uint8)
    ctr = np.empty((TILE_BLOCKS, 2), dtype=np.uint64)
    for g0 in range(0, u.shape[0] * nblk, TILE_BLOCKS):
        k = g0 // nblk
        b0 = g0 - k * nblk
        _tile_counters(ctr, start + g0)
        if wide:
            for j in range(w):
                for b in range(0, TILE_BLOCKS, 16):
                    ctr_pair16_256(rk0[j], rk1[j], ctr, b, code[j * crow], g0 + b, tv[j], u[k, j], b0 + b)
        else:
            for j in range(w):
                for b in range(0, TILE_BLOCKS, 16):
                    ctr_pair16(rk0[j], rk1[j], ctr, b, code[j * crow], g0 + b, tv[j], u[k, j], b0 + b)
        _emit_rows(tile, trows, rows, g0, stream, tscr)


@njit(cache=True, nogil=True)
def sender_tiles_vaes(rk, start, a, amask, rows, tile, stream):
    """:func:`sender_tiles` on VAES (callers check :data:`pqmpc.primitives.cpu.HAVE_VAES`); AES-128
    or AES-256 streams, as :func:`receiver_tiles_vaes`."""
    w, nblk = a.shape[1], a.shape[2]
    wide = rk.shape[1] == 15
    tv = tile.view(np.uint64).reshape(w, TILE_BLOCKS, 2)
    trows = np.empty((128 * TILE_BLOCKS, w // 8), dtype=np.uint8)
    tscr = np.empty((128, 64), dtype=np.uint8)
    ctr = np.empty((TILE_BLOCKS, 2), dtype=np.uint64)
    for g0 in range(0, a.shape[0] * nblk, TILE_BLOCKS):
        k = g0 // nblk
        b0 = g0 - k * nblk
        _tile_counters(ctr, start + g0)
        if wide:
            for j in range(w):
                for b in range(0, TILE_BLOCKS, 16):
                    ctr_mask_xor16_256(rk[j], ctr, b, a[k, j], b0 + b, amask[j], tv[j])
        else:
            for j in range(w):
                for b in range(0, TILE_BLOCKS, 16):
                    ctr_mask_xor16(rk[j], ctr, b, a[k, j], b0 + b, amask[j], tv[j])
        _emit_rows(tile, trows, rows, g0, stream, tscr)


# zmm variants (AVX-512 VAES, four blocks per instruction): the same bytes again.
#: whether the zmm tile kernels run here (callers pick them over the ymm ones)
ZMM_TILES = HAVE_VAES and HAVE_ZMM


@njit(cache=True, nogil=True)
def receiver_tiles_zmm(rk0, rk1, start, code, crow, u, rows, tile, stream):
    """:func:`receiver_tiles_vaes` on zmm registers (callers check :data:`ZMM_TILES`)."""
    w, nblk = u.shape[1], u.shape[2]
    wide = rk0.shape[1] == 15
    tv = tile.view(np.uint64).reshape(w, TILE_BLOCKS, 2)
    trows = np.empty((128 * TILE_BLOCKS, w // 8), dtype=np.uint8)
    tscr = np.empty((128, 64), dtype=np.uint8)
    ctr = np.empty((TILE_BLOCKS, 2), dtype=np.uint64)
    for g0 in range(0, u.shape[0] * nblk, TILE_BLOCKS):
        k = g0 // nblk
        b0 = g0 - k * nblk
        _tile_counters(ctr, start + g0)
        if wide:
            for j in range(w):
                for b in range(0, TILE_BLOCKS, 16):
                    ctr_pair16_z256(rk0[j], rk1[j], ctr, b, code[j * crow], g0 + b, tv[j], u[k, j], b0 + b)
        else:
            for j in range(w):
                for b in range(0, TILE_BLOCKS, 16):
                    ctr_pair16_z(rk0[j], rk1[j], ctr, b, code[j * crow], g0 + b, tv[j], u[k, j], b0 + b)
        _emit_rows(tile, trows, rows, g0, stream, tscr)


@njit(cache=True, nogil=True)
def sender_tiles_zmm(rk, start, a, amask, rows, tile, stream):
    """:func:`sender_tiles_vaes` on zmm registers (callers check :data:`ZMM_TILES`)."""
    w, nblk = a.shape[1], a.shape[2]
    wide = rk.shape[1] == 15
    tv = tile.view(np.uint64).reshape(w, TILE_BLOCKS, 2)
    trows = np.empty((128 * TILE_BLOCKS, w // 8), dtype=np.uint8)
    tscr = np.empty((128, 64), dtype=np.uint8)
    ctr = np.empty((TILE_BLOCKS, 2), dtype=np.uint64)
    for g0 in range(0, a.shape[0] * nblk, TILE_BLOCKS):
        k = g0 // nblk
        b0 = g0 - k * nblk
        _tile_counters(ctr, start + g0)
        if wide:
            for j in range(w):
                for b in range(0, TILE_BLOCKS, 16):
                    ctr_mask_xor16_z256(rk[j], ctr, b, a[k, j], b0 + b, amask[j], tv[j])
        else:
            for j in range(w):
                for b in range(0, TILE_BLOCKS, 16):
                    ctr_mask_xor16_z(rk[j], ctr, b, a[k, j], b0 + b, amask[j], tv[j])
        _emit_rows(tile, trows, rows, g0, stream, tscr)


# numba's on-disk cache keys sender_tiles_zmm_check on this file, not on gf_poly.py whose driver it
# compiles in: a change there needs a change here (or a cleared cache) to be compiled in.
@njit(cache=True, nogil=True)
def sender_tiles_zmm_check(rk, start, a, amask, rows, tile, ptab, power, rows64, acc):
    """:func:`sender_tiles_zmm` (AES-128 streams, rows kept in cache) and, tile by tile while the
    tile's rows are still in L1/L2, the KOS sender's check sum ``Σ_j χ_j·q_j`` with the polynomial
    challenges of :mod:`pqmpc.primitives.gf_poly` (``ptab`` its power table, ``power`` the running
    power, advanced here), added reduced into ``acc[0:2]`` (``acc``: (4,) u64, ``acc[2:4]`` scratch).
    ``rows64``: ``rows`` viewed as (n, 2) u64."""
    w, nblk = a.shape[1], a.shape[2]
    tv = tile.view(np.uint64).reshape(w, TILE_BLOCKS, 2)
    trows = np.empty((128 * TILE_BLOCKS, w // 8), dtype=np.uint8)
    tscr = np.empty((128, 64), dtype=np.uint8)
    ctr = np.empty((TILE_BLOCKS, 2), dtype=np.uint64)
    nosel = np.zeros(0, dtype=np.uint8)
    for g0 in range(0, a.shape[0] * nblk, TILE_BLOCKS):
        k = g0 // nblk
        b0 = g0 - k * nblk
        _tile_counters(ctr, start + g0)
        for j in range(w):
            for b in range(0, TILE_BLOCKS, 16):
                ctr_mask_xor16_z(rk[j], ctr, b, a[k, j], b0 + b, amask[j], tv[j])
        _emit_rows(tile, trows, rows, g0, False, tscr)
        acc128(ptab, power, rows64[g0 * 128:(g0 + TILE_BLOCKS) * 128], nosel, acc)


@njit(cache=True, nogil=True)
def low_bits_packed(bits, code):
    """``bits &= 1`` in place and ``code[:] = pack_bits(bits)`` (little-endian bit order, zero
    padding) in one pass: a receiver's random choice bytes become choice bits and the code row
    while they are in cache. ``bits`` (n,) u8, ``code`` (ceil(n/8),) u8, both C-contiguous."""
    n = bits.shape[0]
    full = n // 8
    b64 = bits[:full * 8].view(np.uint64)
    for i in range(full):
        x = b64[i] & np.uint64(0x0101010101010101)
        b64[i] = x
        # byte k of x (0 or 1) lands on bit 56 + k; the partial products never overlap
        code[i] = np.uint8((x * np.uint64(0x0102040810204080)) >> np.uint64(56))
    if full * 8 < n:
        acc = 0
        for k in range(n - full * 8):
            v = bits[full * 8 + k] & 1
            bits[full * 8 + k] = v
            acc |= v << k
        code[full] = acc


def kernel_specs(role: str | None = None) -> list:
    """The extension receiver's kernel (``role="receiver"``), the sender's, or both (``None``),
    for :func:`pqmpc.primitives.preload.preload` (AES-NI callers only)."""
    from ...primitives.preload import BOOL, I64, arr

    u64 = lambda nd: arr("uint64", nd)  # noqa: E731
    rk, sk = ((receiver_tiles_zmm, sender_tiles_zmm) if ZMM_TILES else (receiver_tiles_vaes, sender_tiles_vaes)
              if HAVE_VAES else (receiver_tiles, sender_tiles))
    rec = [(rk, (u64(3), u64(3), I64, u64(3), I64, u64(4), arr("uint8", 2), arr("uint8", 2), BOOL)),
           (low_bits_packed, (arr("uint8", 1), arr("uint8", 1)))]
    snd = [(sk, (u64(3), I64, u64(4), u64(1), arr("uint8", 2), arr("uint8", 2), BOOL))]
    return rec if role == "receiver" else snd if role == "sender" else rec + snd
