"""The OT interface ladder and the correlated-from-random adapter: the relation
on every index at every derived level, capabilities by isinstance, edge sizes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import ParameterError
from pqmpc.net import run_pair
from pqmpc.ot import OT, CorrelatedOT, RandomCorrelatedOT, RandomOT, as_correlated
from pqmpc.ot.adapters import CorrelatedFromRandom
from pqmpc.ot.base.simplest import SimplestOT
from pqmpc.ot.interfaces import check_delta
from pqmpc.rng import Rng


def test_old_names_are_the_ladder():
    from pqmpc.ot import api

    assert OT is RandomOT and api.OT is RandomOT
    assert issubclass(RandomCorrelatedOT, CorrelatedOT) and issubclass(CorrelatedOT, RandomOT)
    assert api.check_choices is not None and api.check_count is not None and api.check_messages is not None


def test_as_correlated_wraps_plain_ot_and_keeps_correlated_ones():
    base = SimplestOT()
    assert isinstance(base, RandomOT) and not isinstance(base, CorrelatedOT)
    cot = as_correlated(base)
    assert isinstance(cot, CorrelatedOT) and isinstance(cot, CorrelatedFromRandom)
    assert as_correlated(cot) is cot
    with pytest.raises(ParameterError):
        as_correlated(object())


@pytest.mark.parametrize("delta", [np.zeros(16, np.uint8), np.ones(15, np.uint8), np.ones((2, 8), np.uint8),
                                   np.ones(16, np.uint16), b"\x00" * 16])
def test_check_delta_refuses(delta):
    with pytest.raises(ParameterError):
        check_delta(delta, 16)


def check_cot(delta, q, t, choices, w):
    assert delta.shape == (w,) and q.shape == t.shape == (len(choices), w)
    want = q ^ (choices[:, None] * delta[None, :])
    assert np.flatnonzero((t != want).any(axis=1)).size == 0


def run_levels(sender_ot, receiver_ot, n, w, seed=1, change_delta=True):
    """Every derived level on one channel pair: correlated OT under a chosen Δ
    (on the fresh channel, and a different one later when ``change_delta``),
    under the session's Δ, random-choice correlated, random OT, chosen-message OT."""
    rng = Rng(seed.to_bytes(4, "little"))
    choices = [rng.bits(n) for _ in range(4)]
    msgs = rng.blocks(n, w), rng.blocks(n, w)
    fixed, other = rng.blocks(2, w)
    fixed[0] |= 1
    other[0] |= 1

    def snd(ch):
        s = Rng(b"s")
        return (sender_ot.send_correlated(ch, n, delta=fixed, rng=s),
                sender_ot.send_correlated(ch, n, delta=other if change_delta else None, rng=s),
                sender_ot.send_random_correlated(ch, n, rng=s), sender_ot.send_random(ch, n, rng=s),
                sender_ot.send(ch, *msgs, rng=s))

    def rcv(ch):
        r = Rng(b"r")
        return (receiver_ot.receive_correlated(ch, choices[0], rng=r),
                receiver_ot.receive_correlated(ch, choices[1], rng=r),
                receiver_ot.receive_random_correlated(ch, n, rng=r),
                receiver_ot.receive_random(ch, choices[2], rng=r),
                receiver_ot.receive(ch, choices[3], rng=r))

    (c1, c2, c3, (m0, m1), _), (t1, t2, (b3, t3), mb, got) = run_pair(snd, rcv, timeout=120)
    check_cot(*c1, t1, choices[0], w)
    check_cot(*c2, t2, choices[1], w)
    assert np.array_equal(c1[0], fixed)
    assert np.array_equal(c2[0], other if change_delta else fixed)
    check_cot(*c3, t3, b3, w)
    assert np.array_equal(mb, np.where(choices[2][:, None] == 1, m1, m0))
    if n:
        assert (m0 != m1).any(axis=1).all()
    assert np.array_equal(got, np.where(choices[3][:, None] == 1, msgs[1], msgs[0]))


@settings(max_examples=8, deadline=None)
@given(st.sampled_from([0, 1, 7, 128, 129, 300]))
def test_adapter_every_level(n):
    run_levels(as_correlated(SimplestOT()), as_correlated(SimplestOT()), n, 16)


def test_adapter_wide_blocks():
    run_levels(as_correlated(SimplestOT(32)), as_correlated(SimplestOT(32)), 77, 32)


def test_capabilities_by_isinstance():
    from pqmpc.ot import IKNP, Ferret, KyberOT, SaberOT, SimplestOT

    for base in (KyberOT(), SaberOT(), SimplestOT()):
        assert isinstance(base, RandomOT) and not isinstance(base, CorrelatedOT)
    assert isinstance(IKNP(), CorrelatedOT) and not isinstance(IKNP(), RandomCorrelatedOT)
    assert isinstance(Ferret("test-insecure"), RandomCorrelatedOT)
    iknp = IKNP()
    assert as_correlated(iknp) is iknp


def _iknp(kappa):
    from pqmpc.ot import IKNP

    return IKNP(SimplestOT(kappa // 8), kappa, chunk=256)


def _ferret():
    from pqmpc.ot import Ferret

    return Ferret("test-insecure", base=SimplestOT())


@settings(max_examples=10, deadline=None)
@given(st.sampled_from([0, 1, 127, 128, 129, 300, 1000]), st.sampled_from([128, 256]))
def test_iknp_every_level(n, kappa):
    run_levels(_iknp(kappa), _iknp(kappa), n, kappa // 8)


@settings(max_examples=8, deadline=None)
@given(st.sampled_from([0, 1, 127, 129, 5000]))
def test_ferret_every_level(n):
    run_levels(_ferret(), _ferret(), n, 16, change_delta=False)  # Ferret's Δ is fixed per session


def test_one_security_level_object():
    from pqmpc.ot import IKNP, Ferret
    from pqmpc.params import LEVEL_128, LEVEL_256, resolve_level

    assert IKNP(level=LEVEL_256).kappa == 256 and IKNP(level=LEVEL_256).block_bytes == 32
    assert IKNP(kappa=256, level=LEVEL_256).level is LEVEL_256
    assert IKNP().level is LEVEL_128 and IKNP(kappa=128).level is LEVEL_128
    assert IKNP(level=LEVEL_256).base.block_bytes == 32  # the default base OT follows the level
    with pytest.raises(ParameterError):
        IKNP(kappa=128, level=LEVEL_256)
    with pytest.raises(ParameterError):
        resolve_level(None, "kappa256")
    assert Ferret("test-insecure", level=LEVEL_128).level is LEVEL_128
    with pytest.raises(ParameterError):
        Ferret("test-insecure", level=LEVEL_256)
    with pytest.raises(ParameterError):  # a 32-byte base cannot bootstrap 16-byte Ferret
        Ferret("test-insecure", base=IKNP(level=LEVEL_256))
