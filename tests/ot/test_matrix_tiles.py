"""The fused per-tile matrix step (PRG, masking and transpose per column tile) gives the
rows of the plain path, byte for byte, on every size (whole tiles fused, the rest plain)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.net import run_pair
from pqmpc.ot.ext.matrix import MatrixReceiver, MatrixSender, transpose_rows
from pqmpc.rng import Rng


@pytest.mark.parametrize("w,seed_bytes,per_row", [(128, 16, False), (128, 32, False), (256, 32, False),
                                                (512, 16, True)])
def test_rows_paths_agree(w, seed_bytes, per_row):
    _check_paths(w, seed_bytes, per_row, [4096, 65536, 4095, 8200, 1, 12288])


# Chunks shorter than a tile (KOS's remainder chunk first, IKNP's tail last) run one padded kernel
# tile where the streams sit on a block boundary, advancing them by exactly the bytes used; the
# chunks after them, tiled or not, must continue the streams as the plain path does.
@pytest.mark.parametrize("w,seed_bytes", [(128, 16), (256, 32)])
@pytest.mark.parametrize("sizes", [[192, 65536, 4096], [128, 4096, 3968, 8192, 192, 4096],
                                   [1, 4096, 7, 4095, 8, 4096], [4095, 4095, 4096]])
def test_short_chunks_agree(w, seed_bytes, sizes):
    _check_paths(w, seed_bytes, False, sizes)


# κ = 256 (AES-256 streams, 32-byte rows) on sizes around the tile (4,096 rows) boundaries:
# whole tiles run the fused VAES kernel, the rest the plain path, and the streams stay in step.
@settings(max_examples=12, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(-2, 2)), min_size=1, max_size=4))
def test_rows_paths_agree_kappa256_tile_edges(parts):
    sizes = [max(1, 4096 * k + d) for k, d in parts]
    _check_paths(256, 32, False, sizes)


def _check_paths(w, seed_bytes, per_row, sizes):
    rng = Rng(b"tiles")
    k0, k1 = rng.blocks(w, seed_bytes), rng.blocks(w, seed_bytes)
    s = rng.bits(w)
    ks = np.where(s[:, None] == 1, k1, k0)
    # IKNP's repetition code (one row for every column) or KKRT's codeword columns
    codes = [rng.array((w if per_row else 1, (c + 7) // 8)) for c in sizes]

    def receiver(fused):
        def run(ch):
            core, out = MatrixReceiver(k0, k1), []
            for c, code in zip(sizes, codes):
                t = np.empty((c, w // 8), np.uint8)
                if fused:
                    core.send_chunk_rows(ch, c, code, t)
                else:
                    transpose_rows(core.send_chunk(ch, c, code), c, t)
                out.append(t)
            return out
        return run

    def sender(fused):
        def run(ch):
            core, out = MatrixSender(ks, s), []
            for c in sizes:
                q = np.empty((c, w // 8), np.uint8)
                if fused:
                    core.recv_chunk_rows(ch, c, "U", q)
                else:
                    transpose_rows(core.recv_chunk(ch, c, "U"), c, q)
                out.append(q)
            return out
        return run

    plain = run_pair(receiver(False), sender(False), timeout=60)
    fused = run_pair(receiver(True), sender(True), timeout=60)
    mixed = run_pair(receiver(True), sender(False), timeout=60)  # the wire is the same too
    smask = np.packbits(s, bitorder="little")
    for i in range(len(sizes)):
        for got in (fused, mixed):
            np.testing.assert_array_equal(got[0][i], plain[0][i])
            np.testing.assert_array_equal(got[1][i], plain[1][i])
        if per_row:  # row j of the code matrix: the transposed codeword columns
            code_rows = np.empty(((sizes[i] + 7) // 8 * 8, w // 8), np.uint8)
            transpose_rows(codes[i], (sizes[i] + 7) // 8 * 8, code_rows)
            want = plain[0][i] ^ (code_rows[:sizes[i]] & smask[None, :])
        else:
            bits = np.unpackbits(codes[i], bitorder="little", count=sizes[i]).astype(bool)
            want = plain[0][i] ^ np.where(bits[:, None], smask[None, :], 0).astype(np.uint8)
        np.testing.assert_array_equal(plain[1][i], want)


@pytest.mark.parametrize("crow", [0, 1])
def test_vaes_tiles_match_aesni_tiles(crow):
    """Both tile kernels run here when the CPU has VAES: same U and rows, byte for byte."""
    from pqmpc.ot.ext import matrix_kernels as mk
    from pqmpc.primitives.aes_kernels import round_keys_many
    from pqmpc.primitives.cpu import HAVE_AESNI, HAVE_VAES

    if not (HAVE_AESNI and HAVE_VAES):
        pytest.skip("needs AES-NI and VAES")
    w, nblk, start = 128, 3 * mk.TILE_BLOCKS, (1 << 40) - 17  # the counter carries across word bytes
    rng = Rng(b"vaes-tiles")
    rk0 = round_keys_many(rng.blocks(w, 16))
    rk1 = round_keys_many(rng.blocks(w, 16))
    k = 2  # two chunks in one call, as IKNP groups them
    code = rng.array((w if crow else 1, k * nblk * 16)).view(np.uint64).reshape(-1, k * nblk, 2)
    outs = tiles_agree(mk, (mk.receiver_tiles, mk.receiver_tiles_vaes), (mk.sender_tiles, mk.sender_tiles_vaes),
                       rk0, rk1, start, code, crow, w, nblk, k, rng)
    # chunk by chunk (counter and code offsets per chunk) gives the same as the group
    for c in range(k):
        u1 = np.zeros((1, w, nblk, 2), np.uint64)
        rows1 = np.zeros((128 * nblk, w // 8), np.uint8)
        mk.receiver_tiles_vaes(rk0, rk1, start + c * nblk, np.ascontiguousarray(code[:, c * nblk:(c + 1) * nblk]),
                               crow, u1, rows1, np.zeros((w, 16 * mk.TILE_BLOCKS), np.uint8), True)
        np.testing.assert_array_equal(u1[0], outs[0][0][c])
        np.testing.assert_array_equal(rows1, outs[0][1][c * 128 * nblk:(c + 1) * 128 * nblk])


def tiles_agree(mk, receivers, senders, rk0, rk1, start, code, crow, w, nblk, k, rng):
    """Both receiver kernels give the same U and rows, and both sender kernels the same rows from
    that U (a random Δ mask); returns the first receiver kernel's ``[(u, rows)]``."""
    outs = []
    for kern in receivers:
        u = np.zeros((k, w, nblk, 2), np.uint64)
        rows = np.zeros((128 * k * nblk, w // 8), np.uint8)
        kern(rk0, rk1, start, code, crow, u, rows, np.zeros((w, 16 * mk.TILE_BLOCKS), np.uint8), crow == 1)
        outs.append((u, rows))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
    amask = np.where(rng.bits(w) == 1, np.uint64(2**64 - 1), np.uint64(0)).astype(np.uint64)
    got = []
    for kern in senders:
        rows = np.zeros((128 * k * nblk, w // 8), np.uint8)
        kern(rk1, start, outs[0][0], amask, rows, np.zeros((w, 16 * mk.TILE_BLOCKS), np.uint8), crow == 0)
        got.append(rows)
    np.testing.assert_array_equal(got[0], got[1])
    assert got[0].any()
    return outs


@pytest.mark.parametrize("seed_bytes", [16, 32])
@pytest.mark.parametrize("crow", [0, 1])
def test_zmm_tiles_match_ymm_tiles(seed_bytes, crow):
    """The zmm (AVX-512) tile kernels give the ymm ones' U and rows, AES-128 and AES-256 streams."""
    from pqmpc.ot.ext import matrix_kernels as mk
    from pqmpc.primitives.aes_kernels import round_keys_many

    if not mk.ZMM_TILES:
        pytest.skip("needs AVX-512 VAES")
    w, nblk, start = 128 * (seed_bytes // 16), 2 * mk.TILE_BLOCKS, (1 << 40) - 17
    rng = Rng(b"zmm-tiles")
    rk0, rk1 = round_keys_many(rng.blocks(w, seed_bytes)), round_keys_many(rng.blocks(w, seed_bytes))
    k = 2
    code = rng.array((w if crow else 1, k * nblk * 16)).view(np.uint64).reshape(-1, k * nblk, 2)
    tiles_agree(mk, (mk.receiver_tiles_vaes, mk.receiver_tiles_zmm), (mk.sender_tiles_vaes, mk.sender_tiles_zmm),
                rk0, rk1, start, code, crow, w, nblk, k, rng)


@pytest.mark.parametrize("skip", [0, 5, 300])
def test_zmm_sender_tiles_with_check_sum(skip):
    """The KOS sender's fused kernel writes sender_tiles_zmm's rows and adds exactly the polynomial
    check's Σ χ_j·q_j over them (χ continuing a stream that already consumed ``skip`` rows, so the
    running power is not 1) into its accumulator, across two chunks in one call and on top of what
    the accumulator held; the running power ends where :func:`gf_poly.accumulate` leaves it."""
    from pqmpc.ot.ext import matrix_kernels as mk
    from pqmpc.primitives import gf_poly
    from pqmpc.primitives.aes_kernels import round_keys_many

    if not mk.ZMM_TILES:
        pytest.skip("needs AVX-512 VAES")
    w, nblk, k, start = 128, 2 * mk.TILE_BLOCKS, 2, (1 << 40) - 17
    rng = Rng(b"zmm-check-tiles-%d" % skip)
    rk = round_keys_many(rng.blocks(w, 16))
    ptab = gf_poly.power_table(rng.array(16))
    u = rng.array((k, w, nblk * 16)).view(np.uint64).reshape(k, w, nblk, 2)
    amask = np.where(rng.bits(w) == 1, np.uint64(2**64 - 1), np.uint64(0)).astype(np.uint64)
    want = np.zeros((128 * k * nblk, 16), np.uint8)
    mk.sender_tiles_zmm(rk, start, u, amask, want, np.zeros((w, 16 * mk.TILE_BLOCKS), np.uint8), False)
    power = gf_poly.unit(16)
    gf_poly.powers_at(ptab, power, skip)
    ref_power = power.copy()
    rows = np.zeros_like(want)
    prior = rng.array(32).view(np.uint64).copy()
    acc = prior.copy()
    mk.sender_tiles_zmm_check(rk, start, u, amask, rows, np.zeros((w, 16 * mk.TILE_BLOCKS), np.uint8),
                              ptab, power, rows.view(np.uint64), acc)
    np.testing.assert_array_equal(rows, want)
    ref = np.zeros(32, np.uint8)
    gf_poly.accumulate(ptab, ref_power, want, ref, backend="fallback")
    np.testing.assert_array_equal(acc[:2].view(np.uint8), ref[:16] ^ prior[:2].view(np.uint8))
    np.testing.assert_array_equal(acc[2:], prior[2:])
    np.testing.assert_array_equal(power, ref_power)
    assert (acc != prior).any()


@pytest.mark.parametrize("w", [128, 256])
@pytest.mark.parametrize("shift", [0, 16, 32, 48])
def test_streamed_rows_at_every_alignment(w, shift):
    """Rows streamed out (``stream``: at κ = 128 with GFNI straight from registers in whole lines,
    the head and tail rows that share a line with the neighbours stored plainly) equal the rows
    transposed in place, for outputs at every 16-byte offset from a line, and nothing outside
    ``rows`` is written; receiver and sender kernels, every variant this CPU runs."""
    from pqmpc.ot.ext import matrix_kernels as mk
    from pqmpc.primitives.aes_kernels import round_keys_many
    from pqmpc.primitives.cpu import HAVE_VAES

    seed_bytes = 16 if w == 128 else 32
    nblk, k, start = 2 * mk.TILE_BLOCKS, 2, (1 << 40) - 17
    rng = Rng(b"stream-rows-%d-%d" % (w, shift))
    rk0, rk1 = round_keys_many(rng.blocks(w, seed_bytes)), round_keys_many(rng.blocks(w, seed_bytes))
    code = rng.array((1, k * nblk * 16)).view(np.uint64).reshape(1, k * nblk, 2)
    amask = np.where(rng.bits(w) == 1, np.uint64(2**64 - 1), np.uint64(0)).astype(np.uint64)
    pairs = []
    if w == 128:
        pairs.append((mk.receiver_tiles, mk.sender_tiles))
    if HAVE_VAES:
        pairs.append((mk.receiver_tiles_vaes, mk.sender_tiles_vaes))
    if mk.ZMM_TILES:
        pairs.append((mk.receiver_tiles_zmm, mk.sender_tiles_zmm))
    if not pairs:
        pytest.skip("no tile kernel for this width here")
    n, rb = 128 * k * nblk, w // 8
    for rec, snd in pairs:
        def tile():
            return np.zeros((w, 16 * mk.TILE_BLOCKS), np.uint8)

        u = np.zeros((k, w, nblk, 2), np.uint64)
        want = np.zeros((n, rb), np.uint8)
        rec(rk0, rk1, start, code, 0, u, want, tile(), False)
        swant = np.zeros((n, rb), np.uint8)
        snd(rk1, start, u, amask, swant, tile(), False)
        for kern, args, ref in ((rec, (rk0, rk1, start, code, 0, np.zeros_like(u)), want),
                                (snd, (rk1, start, u, amask), swant)):
            buf = np.zeros(n * rb + 128, np.uint8)
            off = (-buf.ctypes.data) % 64 + shift
            rows = buf[off:off + n * rb].reshape(n, rb)
            kern(*args, rows, tile(), True)
            np.testing.assert_array_equal(rows, ref)
            assert not buf[:off].any() and not buf[off + n * rb:].any()
        assert want.any() and swant.any()
