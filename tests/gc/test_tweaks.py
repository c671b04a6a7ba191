"""Two garblings under one Δ never share a hash tweak (issue 12 item 4).

With the AND tweak counter starting at 0 for every garbling, garbling one circuit
twice under the same Δ — the second time with the labels of input ``b`` swapped,
as happens when zero-labels are reused — gives ``TG₁ ⊕ TG₂ = Δ`` on the first AND
gate: the evaluator, who sees both tables, learns Δ and with it every label.
"""

import numpy as np
import pytest

from pqmpc.errors import ParameterError
from pqmpc.gc.build import CircuitBuilder
from pqmpc.gc.evaluate import Evaluator, evaluate_garbled
from pqmpc.gc.garble import Garbler, garble
from pqmpc.gc.tweaks import MAX_TWEAK_BASE, Delta, tweak_high
from pqmpc.rng import Rng


def one_and():
    b = CircuitBuilder()
    x, y = b.input(1), b.input(1)
    b.output(x & y)
    return b.build()


def fresh(kappa, n=1):
    w = kappa // 8
    rng = Rng()  # OS-seeded: every run of the test uses a Δ never seen before
    d = rng.blocks(1, w)[0]
    d[0] |= 1
    return d, [rng.blocks(1, w) for _ in range(n)]


@pytest.mark.parametrize("kappa", [128, 256])
def test_two_garblings_under_one_delta_do_not_reveal_delta(kappa):
    w = kappa // 8
    c = one_and()
    delta, (a0, b0) = fresh(kappa, 2)
    g1, _ = garble(c, delta=delta, input_labels=[a0, b0], kappa=kappa)
    g2, _ = garble(c, delta=delta, input_labels=[a0, b0 ^ delta], kappa=kappa)
    tg1, tg2 = g1.tables[0, :w], g2.tables[0, :w]
    assert not np.array_equal(tg1 ^ tg2, delta)
    assert g1.tweak_base != g2.tweak_base
    # both still evaluate correctly: the garbling id travels with the tables
    for g, b_zero in ((g1, b0), (g2, b0 ^ delta)):
        for xv in (0, 1):
            for yv in (0, 1):
                labels = [a0 ^ (xv * delta), b_zero ^ (yv * delta)]
                assert g.decode(evaluate_garbled(g, labels))[0][0] == xv & yv


def test_explicit_reuse_of_a_tweak_base_is_refused():
    c = one_and()
    delta, (a0, b0) = fresh(128, 2)
    g1, _ = garble(c, delta=delta, input_labels=[a0, b0], tweak_base=5)
    assert g1.tweak_base == 5
    with pytest.raises(ParameterError, match="already used under this Δ"):
        garble(c, delta=delta.tobytes(), input_labels=[a0, b0], tweak_base=5)
    with pytest.raises(ParameterError, match="already used"):
        Garbler(c, delta=delta, tweak_base=5)
    # the next free id follows the highest spent one
    assert garble(c, delta=delta)[0].tweak_base == 6
    assert garble(c, delta=delta, tweak_base=2)[0].tweak_base == 2
    with pytest.raises(ParameterError):
        garble(c, delta=delta, tweak_base=MAX_TWEAK_BASE + 1)
    with pytest.raises(ParameterError):
        garble(c, delta=delta, tweak_base=-1)


def test_delta_of_a_fresh_garbling_is_tracked_while_its_encoder_lives():
    c = one_and()
    g1, enc = garble(c)  # fresh Δ drawn inside
    assert g1.tweak_base == 0
    with pytest.raises(ParameterError, match="already used"):
        garble(c, delta=enc.delta, tweak_base=0)
    assert garble(c, delta=enc.delta)[0].tweak_base == 1


def test_delta_objects_share_one_record_per_value():
    d, _ = fresh(256)
    a, b = Delta(d), Delta(d.tobytes(), kappa=256)
    assert a is b and a.kappa == 256 and np.array_equal(a.value, d)
    assert a.reserve(count=3) == 0
    assert b.reserve() == 3
    with pytest.raises(ParameterError):
        a.reserve(2)
    with pytest.raises(ParameterError):
        a.reserve(1, count=5)  # overlaps 1..3
    assert a.reserve(10, count=2) == 10 and a.reserve() == 12
    with pytest.raises(ParameterError, match="kappa"):
        Garbler(one_and(), delta=a, kappa=128)
    with pytest.raises(ParameterError, match="least significant bit"):
        Delta(np.zeros(16, np.uint8))


def test_consecutive_ids_stay_one_record():
    d = Delta(kappa=128, rng=Rng())
    for _ in range(1000):
        d.reserve()
    assert d._used == [[0, 1000]]


def test_streamed_garbling_with_a_base_needs_the_base_to_evaluate():
    c = one_and()
    d = Delta(rng=Rng())
    d.reserve(count=7)
    g = Garbler(c, delta=d, rng=Rng(b"stream"))
    assert g.tweak_base == 7
    chunks = list(g.stream(chunk_ands=1))
    ins = [np.array([1], np.uint8), np.array([1], np.uint8)]
    labels = g.encoder.encode(ins)
    ev = Evaluator(c, labels, tweak_base=g.tweak_base)
    for ch in chunks:
        ev.feed(ch)
    out = ev.finish()
    assert (out[0][:, 0] & 1) ^ g.decoding == 1
    wrong = Evaluator(c, labels, tweak_base=0)
    wrong.feed(chunks[0])
    assert not np.array_equal(wrong.finish()[0], out[0])


def test_tweak_layout():
    from pqmpc.primitives.hashing import TAG_GC

    assert tweak_high(0) == TAG_GC
    assert tweak_high(3) == TAG_GC | (3 << 32)
    assert tweak_high(MAX_TWEAK_BASE) < 1 << 63  # bit 127 is the κ = 256 half selector
    with pytest.raises(ParameterError):
        tweak_high(MAX_TWEAK_BASE + 1)


def test_garble_into_a_caller_buffer_matches_finish():
    from pqmpc.gc.random_circuit import random_circuit

    c = random_circuit([40, 40], 900, 20, seed=11, p_and=0.5)
    d = Delta(rng=Rng(b"buf"))
    whole = Garbler(c, delta=d, rng=Rng(b"labels"), tweak_base=0).finish()
    g = Garbler(c, delta=Delta(rng=Rng(b"buf")), rng=Rng(b"labels"), tweak_base=0)
    buf = np.zeros((c.and_count + 5, 32), np.uint8)
    pos = 0
    while not g.done:
        pos += g.garble_into(buf[pos:pos + 7])
    assert pos == c.and_count
    assert np.array_equal(buf[:pos], whole.tables) and not buf[pos:].any()
    assert np.array_equal(g.decoding, whole.decoding)
    with pytest.raises(ParameterError):
        g.garble_into(buf)
    with pytest.raises(ParameterError):
        Garbler(c).garble_into(np.zeros((4, 31), np.uint8))
