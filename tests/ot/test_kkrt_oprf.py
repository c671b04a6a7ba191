"""KKRT's batched OPRF on the shared extension core: F_j(y) equals the
receiver's output exactly when y = x_j, for every bin and edge sizes; and the
matrix core's row relation q_j = t_j ⊕ (s ∧ C_j) on its own."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import ParameterError, ProtocolError
from pqmpc.net import run_pair
from pqmpc.ot import kkrt
from pqmpc.ot.base.simplest import SimplestOT
from pqmpc.ot.ext.matrix import MatrixReceiver, MatrixSender, transpose_rows
from pqmpc.params import LEVEL_128, LEVEL_256
from pqmpc.rng import Rng


def run_oprf(m, kappa, chunk, seed=0):
    rng = Rng(b"kkrt" + bytes([seed]))
    nb = kkrt.width_blocks(kappa)
    words = rng.blocks(m)
    crk = kkrt.code_round_keys(rng.blocks(nb))
    k = 3 * m
    bins = rng.integers(max(k, 1), max(m, 1))[:k] if m else np.zeros(0, np.int64)
    qw = rng.blocks(k)
    same = rng.bits(k).astype(bool)
    qw[same] = words[bins[same]]
    base = SimplestOT(kappa // 8)
    r_out, s_out = run_pair(lambda ch: kkrt.oprf_receive(ch, words, crk, base, Rng(b"r"), chunk),
                            lambda ch: kkrt.oprf_send(ch, m, qw, bins, crk, base, Rng(b"s"), chunk), timeout=120)
    assert r_out.shape == (m, 16) and s_out.shape == (k, 16)
    eq = (r_out[bins] == s_out).all(axis=1)
    assert eq[same].all()
    assert not eq[~same].any()
    assert len({bytes(r) for r in r_out}) == m  # distinct bins give unrelated outputs


@settings(max_examples=10, deadline=None)
@given(st.sampled_from([0, 1, 7, 127, 128, 129, 300, 1000]), st.sampled_from([128, 256]),
       st.sampled_from([128, 256, 1 << 15]))
def test_oprf_relation_every_bin(m, kappa, chunk):
    run_oprf(m, kappa, chunk)


@pytest.mark.parametrize("m,chunk", [(300, 128), (1000, 256), (129, 1 << 15)])
def test_oprf_relation_when_queries_are_sorted_not_bucketed(monkeypatch, m, chunk):
    """Far more bins than queries (the receiver announces the bin count): the sender
    sorts its queries instead of building a bucket index sized by the bins."""
    from pqmpc.ot.ext import kkrt as kkrt_module

    monkeypatch.setattr(kkrt_module, "BUCKET_INDEX_SLACK", -(1 << 40))
    run_oprf(m, 128, chunk, seed=1)


def test_width_from_one_security_level():
    assert kkrt.width_blocks(128) == kkrt.width_blocks(level=LEVEL_128) == 4
    assert kkrt.width_blocks(256) == kkrt.width_blocks(level=LEVEL_256) == 8
    with pytest.raises(ParameterError):
        kkrt.width_blocks(192)
    with pytest.raises(ParameterError):
        kkrt.oprf_send(None, 1, np.zeros((1, 16), np.uint8), np.zeros(1, np.int64),
                       kkrt.code_round_keys(np.zeros((4, 16), np.uint8)), SimplestOT(), Rng(b"x"), chunk=100)


@pytest.mark.parametrize("width,seed_bytes", [(128, 16), (512, 16), (256, 32)])
@pytest.mark.parametrize("sizes", [[128, 8, 1], [1000, 3, 129, 0, 64]])
def test_matrix_core_row_relation(width, seed_bytes, sizes):
    rng = Rng(b"core")
    k0, k1 = rng.blocks(width, seed_bytes), rng.blocks(width, seed_bytes)
    s = rng.bits(width)
    ks = np.where(s[:, None] == 1, k1, k0)
    codes = [rng.array((c, width // 8)) for c in sizes]

    def receiver(ch):
        core = MatrixReceiver(k0, k1)
        out = []
        for c, code in zip(sizes, codes):
            cols = np.zeros((width, (c + 7) // 8), np.uint8)
            pad = np.zeros(((c + 7) // 8 * 8, width // 8), np.uint8)
            pad[:c] = code
            cols[:] = _cols(pad)
            t = np.empty((c, width // 8), np.uint8)
            transpose_rows(core.send_chunk(ch, c, cols), c, t)
            out.append(t)
        return out

    def sender(ch):
        core = MatrixSender(ks, s)
        out = []
        for c in sizes:
            q = np.empty((c, width // 8), np.uint8)
            transpose_rows(core.recv_chunk(ch, c, "test U"), c, q)
            out.append(q)
        return out

    ts, qs = run_pair(receiver, sender, timeout=60)
    smask = np.packbits(s, bitorder="little")
    for t, q, code in zip(ts, qs, codes):
        assert np.array_equal(q, t ^ (code & smask))


def _cols(rows):
    from pqmpc.primitives import transpose

    return transpose(rows)


def test_matrix_core_refuses_a_short_u():
    rng = Rng(b"short")
    core = MatrixSender(rng.blocks(128), rng.bits(128))

    def bad(ch):
        ch.send(np.zeros((128, 3), np.uint8))

    with pytest.raises(ProtocolError, match="test U"):
        run_pair(bad, lambda ch: core.recv_chunk(ch, 128, "test U"), timeout=30)


def test_oprf_hash_is_xor_of_tccr_tagged_kkrt():
    """H(j, v) = XOR_b TCCR(v_b, (j*nb + b, TAG_KKRT)): the library's TCCR under KKRT's own tag."""
    from pqmpc.primitives import hashing

    rows = Rng(b"h").blocks(64 * 4).reshape(64, 64)
    out = np.empty((64, 2), dtype=np.uint64)
    kkrt.receiver_hash_kernel(kkrt.fixed_key_schedule(), rows.view(np.uint64), 0, 64, out, hashing.TAG_KKRT)
    ref = hashing.tccr(rows.reshape(64 * 4, 16), np.arange(64 * 4, dtype=np.uint64), tag=hashing.TAG_KKRT)
    ref = ref.reshape(64, 4, 16)
    assert np.array_equal(out.view(np.uint8), ref[:, 0] ^ ref[:, 1] ^ ref[:, 2] ^ ref[:, 3])
