"""Batched related-key OPRF from 1-out-of-N OT extension (KKRT, CCS 2016).

Kolesnikov, Kumaresan, Rosulek and Trieu, "Efficient Batched Oblivious PRF
with Applications to Private Set Intersection" (CCS 2016). The receiver holds
one input word ``x_j`` per bin ``j < m``; afterwards it knows ``F_j(x_j)`` and
the sender can evaluate ``F_j(y)`` for any ``(j, y)`` it likes, while the
receiver learns nothing about the sender's evaluations and the sender nothing
about the ``x_j``.

Construction (IKNP's extension, on the shared matrix core of
:mod:`pqmpc.ot.ext.matrix`, with a pseudorandom code ``C`` of width
``w = 4κ`` bits instead of a repetition code; libOTe keeps it with its OT
extensions too):

1. base OT, roles reversed: the OPRF *sender* is base-OT receiver with random
   choice bits ``s ∈ {0,1}^w``; the OPRF receiver, base-OT sender, gets seed
   pairs ``(k_i^0, k_i^1)`` and the sender ``k_i^{s_i}``;
2. the receiver expands ``T^b_i = G(k_i^b) ∈ {0,1}^m`` (AES-CTR, the multi-key
   PRG run without the GIL) and sends
   the columns ``u_i = T^0_i ⊕ T^1_i ⊕ C_i`` where row ``j`` of ``C`` is
   ``C(x_j)``; the sender forms ``Q_i = G(k_i^{s_i}) ⊕ s_i·u_i``, so that row
   ``j`` is ``q_j = t_j ⊕ (s ∧ C(x_j))`` with ``t_j`` row ``j`` of ``T^0``;
3. ``F_j(y) = H(j, q_j ⊕ (s ∧ C(y)))``; the receiver's output is
   ``H(j, t_j)``, equal exactly when ``C(y) = C(x_j)``.

Instantiation: ``C(y)`` is ``w/128`` blocks ``AES_{K_b}(y) ⊕ y`` under public
keys ``K_b`` agreed by coin tossing after the inputs are fixed (a
pseudorandom code: two distinct inputs differ in ``≈ w/2`` bits, and fewer
than κ with probability about ``2^-97`` for ``w = 512``, far below ``2^-40``
even after a union bound over all ``3·n·m`` pairs that matter);
``H(j, v) = ⊕_b TCCR(v_b, (j·w/128 + b, TAG_KKRT))``, the tweakable
correlation-robust hash of Guo–Katz–Wang–Yu over fixed-key AES (tagged so
that no other protocol's tweak meets KKRT's under the shared fixed key), applied per 128-bit block and
XORed, as libOTe's KKRT does with an untweaked CR hash. Work is done in
chunks of bins so that the PRG output, the transposes and the hashing stay in
cache and memory stays bounded (the wire carries ``w`` bits per bin).

Security: semi-honest sender and receiver (the protocol of the paper, which
does not protect against a malicious party). Assumptions: the base OT
(ML-KEM by default — lattice-based, post-quantum), AES as a PRG and as a
random permutation for TCCR. Nothing here rests on a classical public-key
assumption; the symmetric parts keep κ-bit security against classical
attackers and ~κ/2 against Grover-style quantum search, which the κ = 256
mode (w = 1024, ML-KEM-1024 base OTs) covers. Python cannot promise constant
time; the kernels have no secret-dependent branches or table lookups when
AES-NI is available (the portable AES fallback uses tables).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ...errors import ParameterError
from ...net import Channel
from ...params import SecurityLevel, resolve_level
from ...primitives.aes import openssl_ecb
from ...primitives.aes_kernels import HAVE_AESNI, aes128_encrypt, aes128_load_keys, fixed_key_schedule, round_keys
from ...primitives.buffers import out_or_empty
from ...primitives.hashing import TAG_KKRT, tccr
from .cot import transpose_nogil
from .matrix import MatrixReceiver, MatrixSender

#: Bins per chunk: 2^15 rows × 512 bits = 2 MB per matrix, which stays in L2/L3.
DEFAULT_CHUNK = 1 << 15
#: The sender evaluates its queries grouped by runs of this many bins, so that
#: the rows it reads at random (256 KB for w = 512) stay in L2: ~3x faster
#: than random access over a whole chunk.
SUB_CHUNK = 1 << 12
#: A bucket index over the bins is kept within 8 entries per query plus this many; past
#: that (far more bins than queries) the sender sorts its queries instead.
BUCKET_INDEX_SLACK = 1 << 16

#: Word 1 of every TCCR tweak here: KKRT's own tweak space under the shared fixed key.
_TAG = np.uint64(TAG_KKRT)


def width_blocks(kappa: int | None = None, *, level: SecurityLevel | None = None) -> int:
    """Code width in 128-bit blocks: 4 (512 bits) for κ=128, 8 (1024 bits) for κ=256.

    ``level`` (a :class:`~pqmpc.params.SecurityLevel`) may replace ``kappa``."""
    try:
        level = resolve_level(kappa, level)
    except ParameterError as e:
        raise ParameterError(f"KKRT supports kappa 128 or 256: {e}") from None
    return 4 * level.kappa // 128


def code_round_keys(keys: np.ndarray) -> np.ndarray:
    """``(nb, 11, 2)`` uint64 AES-128 schedules of the ``(nb, 16)`` code keys."""
    return np.ascontiguousarray(np.stack([round_keys(bytes(k)) for k in keys]))


# --------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _tccr_xor(pk, v, nb, tweak0, tag):
    """⊕_b TCCR(v_b, (tweak0 + b, tag)) over the nb blocks of row v (uint64 pairs)."""
    a0 = np.uint64(0)
    a1 = np.uint64(0)
    for b in range(nb):
        px = aes128_encrypt(pk, (v[2 * b], v[2 * b + 1]))
        y = aes128_encrypt(pk, (px[0] ^ np.uint64(tweak0 + b), px[1] ^ tag))
        a0 ^= y[0] ^ px[0]
        a1 ^= y[1] ^ px[1]
    return a0, a1


@njit(cache=True, nogil=True)
def _codewords_kernel(code_rk, words, idx, out):
    """out[r] = C(words[idx[r]]) as nb blocks: AES_{K_b}(w) ⊕ w for each code key K_b."""
    nb = code_rk.shape[0]
    for b in range(nb):
        ks = aes128_load_keys(code_rk[b])
        for r in range(idx.shape[0]):
            i = idx[r]
            w0 = words[i, 0]
            w1 = words[i, 1]
            c = aes128_encrypt(ks, (w0, w1))
            out[r, 2 * b] = c[0] ^ w0
            out[r, 2 * b + 1] = c[1] ^ w1


@njit(cache=True, nogil=True)
def receiver_hash_kernel(pi_rk, rows, start, count, out, tag):
    """``out[start + r] = H(start + r, rows[r])`` for ``r < count`` (uint64 pairs; ``pi_rk`` the
    fixed-key schedule, ``tag`` word 1 of the tweaks: ``TAG_KKRT`` in the protocol)."""
    pk = aes128_load_keys(pi_rk)
    nb = rows.shape[1] // 2
    t = np.uint64(tag)
    for r in range(count):
        a0, a1 = _tccr_xor(pk, rows[r], nb, (start + r) * nb, t)
        out[start + r, 0] = a0
        out[start + r, 1] = a1


@njit(cache=True, nogil=True)
def _sender_eval_kernel(pi_rk, code_rk, rows, start, lo, hi, words, bins, smask, out):
    """For every query i in [lo, hi): out[i] = H(bin, q_bin ⊕ (s ∧ C(word_i)))."""
    pk = aes128_load_keys(pi_rk)
    nb = code_rk.shape[0]
    v = np.empty(2 * nb, dtype=np.uint64)
    for i in range(lo, hi):
        local = bins[i] - start
        w0 = words[i, 0]
        w1 = words[i, 1]
        for b in range(nb):
            ks = aes128_load_keys(code_rk[b])
            c = aes128_encrypt(ks, (w0, w1))
            v[2 * b] = rows[local, 2 * b] ^ ((c[0] ^ w0) & smask[2 * b])
            v[2 * b + 1] = rows[local, 2 * b + 1] ^ ((c[1] ^ w1) & smask[2 * b + 1])
        a0, a1 = _tccr_xor(pk, v, nb, bins[i] * nb, _TAG)
        out[i, 0] = a0
        out[i, 1] = a1


@njit(cache=True, nogil=True)
def _sender_eval4_kernel(pi_rk, code_rk, rows, start, lo, hi, words, bins, smask, out):
    """``_sender_eval_kernel`` written out for w = 512: four independent AES chains per step."""
    pk = aes128_load_keys(pi_rk)
    k0 = aes128_load_keys(code_rk[0])
    k1 = aes128_load_keys(code_rk[1])
    k2 = aes128_load_keys(code_rk[2])
    k3 = aes128_load_keys(code_rk[3])
    s0, s1, s2, s3 = smask[0], smask[1], smask[2], smask[3]
    s4, s5, s6, s7 = smask[4], smask[5], smask[6], smask[7]
    one = np.uint64(1)
    for i in range(lo, hi):
        j = bins[i]
        r = j - start
        w = (words[i, 0], words[i, 1])
        c0 = aes128_encrypt(k0, w)
        c1 = aes128_encrypt(k1, w)
        c2 = aes128_encrypt(k2, w)
        c3 = aes128_encrypt(k3, w)
        p0 = aes128_encrypt(pk, (rows[r, 0] ^ ((c0[0] ^ w[0]) & s0), rows[r, 1] ^ ((c0[1] ^ w[1]) & s1)))
        p1 = aes128_encrypt(pk, (rows[r, 2] ^ ((c1[0] ^ w[0]) & s2), rows[r, 3] ^ ((c1[1] ^ w[1]) & s3)))
        p2 = aes128_encrypt(pk, (rows[r, 4] ^ ((c2[0] ^ w[0]) & s4), rows[r, 5] ^ ((c2[1] ^ w[1]) & s5)))
        p3 = aes128_encrypt(pk, (rows[r, 6] ^ ((c3[0] ^ w[0]) & s6), rows[r, 7] ^ ((c3[1] ^ w[1]) & s7)))
        tw = np.uint64(j * 4)
        y0 = aes128_encrypt(pk, (p0[0] ^ tw, p0[1] ^ _TAG))
        y1 = aes128_encrypt(pk, (p1[0] ^ (tw + one), p1[1] ^ _TAG))
        y2 = aes128_encrypt(pk, (p2[0] ^ (tw + one + one), p2[1] ^ _TAG))
        y3 = aes128_encrypt(pk, (p3[0] ^ (tw + one + one + one), p3[1] ^ _TAG))
        out[i, 0] = y0[0] ^ p0[0] ^ y1[0] ^ p1[0] ^ y2[0] ^ p2[0] ^ y3[0] ^ p3[0]
        out[i, 1] = y0[1] ^ p0[1] ^ y1[1] ^ p1[1] ^ y2[1] ^ p2[1] ^ y3[1] ^ p3[1]


@njit(cache=True, nogil=True)
def _bucket_kernel(bins, chunk, nchunks):
    counts = np.zeros(nchunks + 1, dtype=np.int64)
    for i in range(bins.shape[0]):
        counts[bins[i] // chunk + 1] += 1
    for c in range(nchunks):
        counts[c + 1] += counts[c]
    fill = counts[:-1].copy()
    order = np.empty(bins.shape[0], dtype=np.int64)
    for i in range(bins.shape[0]):
        c = bins[i] // chunk
        order[fill[c]] = i
        fill[c] += 1
    return order, counts


# --------------------------------------------------------------------------
# Without AES-NI: the same bytes through bulk OpenSSL
# --------------------------------------------------------------------------
# The kernels above would then run the table AES (not constant time) on the items'
# code words and the OPRF rows, both secret; these batch every row of a chunk instead.


def _codewords_np(code_rk, words) -> np.ndarray:
    """``(n, 2·nb)`` uint64: C(w) = AES_{K_b}(w) ⊕ w per code key for the ``(n, 2)`` uint64 words."""
    nb = code_rk.shape[0]
    wb = np.ascontiguousarray(words).view(np.uint8).reshape(-1, 16)
    out = np.empty((wb.shape[0], nb, 16), dtype=np.uint8)
    for b in range(nb):  # nb ≤ 8 keys, each one bulk call over all rows
        # Round key 0 of an AES-128 schedule is the key itself.
        np.bitwise_xor(openssl_ecb(code_rk[b, 0].tobytes(), wb), wb, out=out[:, b])
    return out.view(np.uint64).reshape(wb.shape[0], 2 * nb)


def _hash_rows_np(rows, tweak0) -> np.ndarray:
    """``(n, 2)`` uint64: ⊕_b TCCR(row_r block b, (tweak0[r] + b, TAG_KKRT)) for ``(n, 2·nb)`` rows."""
    n, nb = rows.shape[0], rows.shape[1] // 2
    tw = (np.asarray(tweak0, dtype=np.uint64)[:, None] + np.arange(nb, dtype=np.uint64)).ravel()
    h = tccr(np.ascontiguousarray(rows).view(np.uint8).reshape(n * nb, 16), tw, backend="fallback", tag=TAG_KKRT)
    return np.bitwise_xor.reduce(h.view(np.uint64).reshape(n, nb, 2), axis=1)


def _sender_eval_np(code_rk, rows, start, lo, hi, words, bins, smask, out) -> None:
    """``_sender_eval_kernel`` over queries ``[lo, hi)`` with bulk OpenSSL."""
    nb = code_rk.shape[0]
    jb = bins[lo:hi]
    v = _codewords_np(code_rk, words[lo:hi])
    v &= smask
    v ^= rows[jb - start]
    out[lo:hi] = _hash_rows_np(v, jb.astype(np.uint64) * np.uint64(nb))


# --------------------------------------------------------------------------
# Protocol
# --------------------------------------------------------------------------


def _padded(m: int) -> int:
    return (m + 127) // 128 * 128


def _chunks(m: int, chunk: int):
    mp = _padded(m)
    for start in range(0, mp, chunk):
        yield start, min(chunk, mp - start)


def _check_chunk(chunk) -> None:
    if not isinstance(chunk, (int, np.integer)) or chunk % 128 or chunk <= 0:
        raise ParameterError("chunk must be a positive multiple of 128")


def _flat(buf: np.ndarray, shape: tuple) -> np.ndarray:
    """A C-contiguous ``shape`` view of the front of a flat scratch buffer."""
    return buf[:shape[0] * shape[1]].reshape(shape)


def oprf_receive(ch: Channel, words: np.ndarray, code_rk: np.ndarray, base_ot, rng, chunk: int = DEFAULT_CHUNK,
                 progress=None, *, out=None) -> np.ndarray:
    """Receiver: one input word per bin (``(m, 16)`` uint8); returns ``(m, 16)`` outputs ``F_j(x_j)``
    (written into ``out``, a C-contiguous ``(m, 16)`` uint8 array, if given)."""
    _check_chunk(chunk)
    m = words.shape[0]
    out = out_or_empty(out, (m, 16))
    nb = code_rk.shape[0]
    w = 128 * nb
    k0, k1 = base_ot.send_random(ch, w, rng.fork("kkrt/base-ot"))
    core = MatrixReceiver(np.ascontiguousarray(k0), np.ascontiguousarray(k1))
    wq = np.ascontiguousarray(words).view(np.uint64)
    outq = out.view(np.uint64)
    pi_rk = fixed_key_schedule()
    code = np.zeros((chunk, 2 * nb), dtype=np.uint64)
    code_cols = np.empty(w * chunk // 8, dtype=np.uint8)
    rows_buf = np.empty(w * chunk // 8, dtype=np.uint8)
    for start, c in _chunks(m, chunk):
        real = max(0, min(c, m - start))
        code[real:c] = 0  # padding rows beyond m carry no input
        if real and HAVE_AESNI:
            _codewords_kernel(code_rk, wq, np.arange(start, start + real, dtype=np.int64), code[:real])
        elif real:
            code[:real] = _codewords_np(code_rk, wq[start:start + real])
        cols = _flat(code_cols, (w, c // 8))
        transpose_nogil(code[:c].view(np.uint8), cols)
        rows = _flat(rows_buf, (c, w // 8))
        core.send_chunk_rows(ch, c, cols, rows)
        if real and HAVE_AESNI:
            receiver_hash_kernel(pi_rk, rows.view(np.uint64), start, real, outq, TAG_KKRT)
        elif real:
            outq[start:start + real] = _hash_rows_np(rows.view(np.uint64)[:real],
                                                     np.arange(start, start + real, dtype=np.uint64) * np.uint64(nb))
        if progress is not None:
            progress(start + c, _padded(m))
    return out


def oprf_send(ch: Channel, m: int, words: np.ndarray, bins: np.ndarray, code_rk: np.ndarray, base_ot, rng,
              chunk: int = DEFAULT_CHUNK, progress=None, *, out=None) -> np.ndarray:
    """Sender: evaluate ``F_{bins[i]}(words[i])`` for every query; returns ``(k, 16)``
    (written into ``out``, a C-contiguous ``(k, 16)`` uint8 array, if given)."""
    _check_chunk(chunk)
    k = words.shape[0]
    out = out_or_empty(out, (k, 16))
    if k and (bins.min() < 0 or bins.max() >= m):
        raise ParameterError("query bins out of range")
    nb = code_rk.shape[0]
    w = 128 * nb
    s = rng.fork("kkrt/choices").bits(w)
    ks = base_ot.receive_random(ch, s, rng.fork("kkrt/base-ot"))
    core = MatrixSender(np.ascontiguousarray(ks), s)
    smask = np.packbits(s, bitorder="little").view(np.uint64).copy()
    wq = np.ascontiguousarray(words).view(np.uint64)
    bins = np.ascontiguousarray(bins, dtype=np.int64)
    outq = out.view(np.uint64)
    pi_rk = fixed_key_schedule()
    sub = math.gcd(chunk, SUB_CHUNK)
    nbuckets = (_padded(m) + sub - 1) // sub
    if nbuckets <= 8 * k + BUCKET_INDEX_SLACK:
        order, starts = _bucket_kernel(bins, sub, nbuckets)

        def run(start, c):
            return starts[start // sub], starts[(start + c + sub - 1) // sub]
    else:
        # m comes from the peer's announced set size: a bucket index sized by it would
        # be an allocation the peer merely announced. Few queries over many bins: sort them.
        order = np.argsort(bins, kind="stable")
        sorted_bins = bins[order]

        def run(start, c):
            lo, hi = np.searchsorted(sorted_bins, (start, start + c))
            return int(lo), int(hi)
    # Queries laid out by bin run: the kernel then reads words and bins and writes
    # outputs sequentially (random access there cost 3x the AES work).
    wq = np.take(wq, order, axis=0)
    bins = np.take(bins, order)
    out_sorted = np.empty((k, 2), dtype=np.uint64)
    evaluate = _sender_eval4_kernel if nb == 4 else _sender_eval_kernel
    rows_buf = np.empty(w * chunk // 8, dtype=np.uint8)
    for start, c in _chunks(m, chunk):
        rows = _flat(rows_buf, (c, w // 8))
        core.recv_chunk_rows(ch, c, f"KKRT OPRF step 2 (correction matrix, bins {start}..{start + c})", rows)
        lo, hi = run(start, c)
        if hi > lo and not HAVE_AESNI:
            _sender_eval_np(code_rk, rows.view(np.uint64), start, lo, hi, wq, bins, smask, out_sorted)
        elif hi > lo:
            evaluate(pi_rk, code_rk, rows.view(np.uint64), start, lo, hi, wq, bins, smask, out_sorted)
        if progress is not None:
            progress(start + c, _padded(m))
    outq[order] = out_sorted
    return out


__all__ = ["DEFAULT_CHUNK", "width_blocks", "code_round_keys", "fixed_key_schedule", "receiver_hash_kernel",
           "oprf_receive", "oprf_send"]
