"""The batched OPRF: F_j(y) equals the receiver's output exactly when y = x_j."""

from __future__ import annotations

import numpy as np
import pytest

from pqmpc.errors import ProtocolError
from pqmpc.net import run_pair
from pqmpc.ot import KyberOT, kkrt
from pqmpc.primitives import transpose
from pqmpc.rng import Rng


@pytest.mark.parametrize("m,chunk,kappa", [(1, 128, 128), (129, 128, 128), (1000, 256, 128), (300, 128, 256)])
def test_oprf_relation(m, chunk, kappa):
    rng = Rng(b"oprf")
    nb = kkrt.width_blocks(kappa)
    words = rng.blocks(m)
    crk = kkrt.code_round_keys(rng.blocks(nb))
    k = 4 * m
    bins = rng.integers(k, m)
    qw = rng.blocks(k)
    same = rng.bits(k).astype(bool)
    qw[same] = words[bins[same]]
    base = KyberOT() if kappa == 128 else KyberOT("ML-KEM-1024", block_bytes=32)
    r_out, s_out = run_pair(lambda ch: kkrt.oprf_receive(ch, words, crk, base, Rng(b"r"), chunk),
                            lambda ch: kkrt.oprf_send(ch, m, qw, bins, crk, base, Rng(b"s"), chunk))
    eq = (r_out[bins] == s_out).all(axis=1)
    assert eq[same].all()
    assert not eq[~same].any()


def test_transposed_layout_matches_packed_bits():
    # Row j bit i of transpose(T) is column i bit j, which is how s is packed (little-endian bit order).
    rng = Rng(b"t")
    t = rng.array((512, 16))
    rows = transpose(t)
    bits_t = np.unpackbits(t, axis=1, bitorder="little")
    bits_rows = np.unpackbits(rows, axis=1, bitorder="little")
    assert np.array_equal(bits_t.T, bits_rows)


def test_wrong_correction_size_is_a_protocol_error():
    m = 256
    crk = kkrt.code_round_keys(Rng(b"k").blocks(4))

    def bad_receiver(ch):
        KyberOT().send_random(ch, 512, Rng(b"r"))
        ch.send(np.zeros((512, 3), dtype=np.uint8))

    with pytest.raises(ProtocolError, match="correction matrix"):
        run_pair(bad_receiver, lambda ch: kkrt.oprf_send(ch, m, np.zeros((1, 16), np.uint8), np.zeros(1, np.int64),
                                                         crk, KyberOT(), Rng(b"s"), 128))
