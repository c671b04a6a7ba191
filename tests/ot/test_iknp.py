"""IKNP OT extension: every call of the OT API, κ = 128 and 256, on every index;
sessions that extend again and again; caller-chosen Δ; malformed messages."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import HandshakeError, ParameterError, ProtocolError
from pqmpc.net import MemoryChannel, run_pair
from pqmpc.ot.base.simplest import SimplestOT
from pqmpc.ot.ext import cot
from pqmpc.ot.ext.iknp import IKNP
from pqmpc.rng import Rng

KAPPAS = [128, 256]


def make(kappa, chunk=cot.CHUNK):
    # SimplestOT keeps the base-OT setup cheap and deterministic; KyberOT has its own test below.
    return IKNP(SimplestOT(kappa // 8), kappa, chunk=chunk)


def both(f_send, f_recv):
    return run_pair(f_send, f_recv, timeout=120)


def check_rot(m0, m1, mb, choices, w):
    n = len(choices)
    assert m0.shape == m1.shape == mb.shape == (n, w) and mb.dtype == np.uint8
    want = np.where(choices[:, None] == 1, m1, m0)
    bad = np.flatnonzero((mb != want).any(axis=1))
    assert bad.size == 0, f"random OT relation fails at {bad[:10]}"
    assert (m0 != m1).any(axis=1).all()


def check_cot(delta, q, t, choices, w):
    n = len(choices)
    assert delta.shape == (w,) and q.shape == t.shape == (n, w)
    want = q ^ (choices[:, None].astype(np.uint8) * delta[None, :])
    bad = np.flatnonzero((t != want).any(axis=1))
    assert bad.size == 0, f"correlated OT relation fails at {bad[:10]}"


@settings(max_examples=10, deadline=None)
@given(n=st.sampled_from([0, 1, 2, 7, 8, 127, 128, 129, 255, 1000]), kappa=st.sampled_from(KAPPAS),
       seed=st.binary(min_size=1, max_size=6), chunk=st.sampled_from([128, 256, cot.CHUNK]))
def test_every_call_on_every_index(n, kappa, seed, chunk):
    """All four calls in one session, including chunks smaller than n."""
    ot = make(kappa, chunk)
    w = kappa // 8
    rng = Rng(seed)
    c1, c2, c3 = rng.bits(n), rng.bits(n), rng.bits(n)
    m_a, m_b = rng.blocks(n, w), rng.blocks(n, w)

    def sender(ch):
        r = ot.send_random(ch, n, Rng(seed + b"s"))
        c = ot.send_correlated(ch, n)
        rc = ot.send_random_correlated(ch, n)
        ot.send(ch, m_a, m_b)
        return r, c, rc

    def receiver(ch):
        r = ot.receive_random(ch, c1, Rng(seed + b"r"))
        c = ot.receive_correlated(ch, c2)
        rc = ot.receive_random_correlated(ch, n, Rng(seed + b"rc"))
        chosen = ot.receive(ch, c3)
        return r, c, rc, chosen

    (r, c, rc), (rr, cr, (rc_choices, rct), chosen) = both(sender, receiver)
    check_rot(*r, rr, c1, w)
    check_cot(*c, cr, c2, w)
    check_cot(*rc, rct, rc_choices, w)
    assert np.array_equal(chosen, np.where(c3[:, None] == 1, m_b, m_a))


@pytest.mark.parametrize("kappa", KAPPAS)
def test_large_batch_spanning_chunks(kappa):
    n = 100_000  # two 2^16 chunks, the last one not a multiple of 8
    ot = make(kappa)
    choices = Rng(b"big").bits(n)
    (m0, m1), mb = both(lambda ch: ot.send_random(ch, n), lambda ch: ot.receive_random(ch, choices))
    check_rot(m0, m1, mb, choices, kappa // 8)
    assert np.unique(m0, axis=0).shape[0] == n


@pytest.mark.parametrize("kappa", KAPPAS)
def test_repeated_extends_never_repeat(kappa):
    """One base-OT setup, many extends: PRG streams and tweaks continue."""
    ot = make(kappa)
    w = kappa // 8
    sizes = [1, 129, 1000, 0, 64, 5000]
    choices = [Rng(b"rep%d" % i).bits(n) for i, n in enumerate(sizes)]

    def sender(ch):
        ot.setup(ch, "sender", Rng(b"s"))
        out = [ot.send_correlated(ch, n) for n in sizes]
        out += [ot.send_random(ch, n) for n in sizes]
        return out, ot.session(ch, "sender").calls

    def receiver(ch):
        ot.setup(ch, "receiver", Rng(b"r"))
        out = [ot.receive_correlated(ch, c) for c in choices]
        out += [ot.receive_random(ch, c) for c in choices]
        return out

    (souts, calls), routs = both(sender, receiver)
    assert calls == 2 * len(sizes)
    k = len(sizes)
    deltas = {bytes(d) for d, _ in souts[:k]}
    assert len(deltas) == 1  # one session, one Δ
    for (d, q), t, c in zip(souts[:k], routs[:k], choices):
        check_cot(d, q, t, c, w)
    for (m0, m1), mb, c in zip(souts[k:], routs[k:], choices):
        check_rot(m0, m1, mb, c, w)
    qs = np.concatenate([q for _, q in souts[:k]] + [m for pair in souts[k:] for m in pair])
    assert np.unique(qs, axis=0).shape[0] == qs.shape[0], "a q or message repeats across calls"


@pytest.mark.parametrize("kappa", KAPPAS)
def test_caller_delta_at_setup_and_after(kappa):
    w = kappa // 8
    rng = Rng(b"delta")
    d1 = rng.blocks(1, w)[0]
    d1[0] |= 1  # garbling wants lsb(Δ) = 1
    d2 = rng.blocks(1, w)[0]
    n = 3000
    c1, c2, c3 = rng.bits(n), rng.bits(n), rng.bits(n)
    ot = make(kappa)

    def sender(ch):
        a = ot.send_correlated(ch, n, delta=d1)          # fresh channel: Δ of the session
        b = ot.send_correlated(ch, n, delta=d2)          # different Δ: corrected, 1 block per OT
        before = ch.stats.bytes_sent
        c = ot.send_correlated(ch, n, delta=d1.tobytes())  # the session's Δ again: no correction
        return a, b, c, ch.stats.bytes_sent - before

    def receiver(ch):
        return ot.receive_correlated(ch, c1), ot.receive_correlated(ch, c2), ot.receive_correlated(ch, c3)

    (a, b, c, sent), (ta, tb, tc) = both(sender, receiver)
    assert np.array_equal(a[0], d1) and np.array_equal(b[0], d2) and np.array_equal(c[0], d1)
    check_cot(*a, ta, c1, w)
    check_cot(*b, tb, c2, w)
    check_cot(*c, tc, c3, w)
    assert sent < 200  # only the call header went from sender to receiver


@pytest.mark.parametrize("kappa", KAPPAS)
def test_wire_size_is_kappa_bits_per_ot(kappa):
    n = 1 << 16
    ot = make(kappa)
    stats = {}

    def receiver(ch):
        ot.setup(ch, "receiver")
        before = ch.stats.bytes_sent
        ot.receive_random(ch, np.zeros(n, np.uint8))
        stats["r"] = ch.stats.bytes_sent - before

    both(lambda ch: ot.send_random(ch, n), receiver)
    assert n * kappa // 8 <= stats["r"] <= n * kappa // 8 + 200


def test_choice_bits_and_delta_look_uniform():
    ot = make(128)
    n = 20000
    (delta, q), (choices, t) = both(lambda ch: ot.send_random_correlated(ch, n),
                                    lambda ch: ot.receive_random_correlated(ch, n))
    check_cot(delta, q, t, choices, 16)
    assert 0.47 < choices.mean() < 0.53
    qbits = np.unpackbits(q, axis=1)
    assert np.all(np.abs(qbits.mean(axis=0) - 0.5) < 0.03)
    deltas = []
    for i in range(40):
        d, _ = both(lambda ch: ot.send_correlated(ch, 1), lambda ch: ot.receive_correlated(ch, np.ones(1, np.uint8)))[0]
        deltas.append(d)
    bits = np.unpackbits(np.array(deltas), axis=1)
    assert 0.4 < bits.mean() < 0.6 and len({bytes(d) for d in deltas}) == 40


def test_default_base_is_kyber_and_works():
    for kappa, variant in ((128, "ML-KEM-768"), (256, "ML-KEM-1024")):
        ot = IKNP(kappa=kappa)
        assert ot.base.name == "KyberOT" and ot.base.variant == variant and ot.base.block_bytes == kappa // 8
        assert ot.post_quantum
        choices = Rng(b"k").bits(300)
        (m0, m1), mb = both(lambda ch: ot.send_random(ch, 300), lambda ch: ot.receive_random(ch, choices))
        check_rot(m0, m1, mb, choices, kappa // 8)
    assert not make(128).post_quantum


def test_narrow_base_ot_is_repeated_for_wide_seeds():
    ot = IKNP(SimplestOT(16), 256)  # 16-byte base outputs, 32-byte AES-256 seeds
    choices = Rng(b"w").bits(500)
    (m0, m1), mb = both(lambda ch: ot.send_random(ch, 500), lambda ch: ot.receive_random(ch, choices))
    check_rot(m0, m1, mb, choices, 32)


# ---------------------------------------------------------------- errors
def test_mismatched_calls_fail_on_both_sides():
    ot = make(128)
    errors = []

    def side(f):
        def g(ch):
            try:
                f(ch)
            except HandshakeError as exc:
                errors.append(str(exc))
                raise
        return g

    with pytest.raises(HandshakeError, match="n: ours"):
        run_pair(side(lambda ch: ot.send_random(ch, 10)), side(lambda ch: ot.receive_random(ch, np.ones(11, np.uint8))),
                 timeout=60)
    with pytest.raises(HandshakeError, match="op"):
        run_pair(lambda ch: ot.send_random(ch, 10), lambda ch: ot.receive_correlated(ch, np.ones(10, np.uint8)),
                 timeout=60)
    with pytest.raises(HandshakeError, match="kappa"):
        run_pair(lambda ch: make(128).send_random(ch, 10), lambda ch: make(256).receive_random(ch, np.ones(10, np.uint8)),
                 timeout=60)


def _receiver_then(bad_bulk):
    """A receiver that follows the protocol up to the bulk message, then misbehaves."""
    ot = make(128)

    def receiver(ch):
        sess = ot.setup(ch, "receiver")
        ot._header(ch, sess, "random", 1000)
        bad_bulk(ch)
        ch.recv()  # wait; the sender's error closes the channel

    return ot, receiver


@pytest.mark.parametrize("payload", [bytes(100), bytes(128 * 125 + 1), b""])
def test_malformed_matrix_is_a_protocol_error(payload):
    ot, receiver = _receiver_then(lambda ch: ch.send(payload))
    with pytest.raises(ProtocolError, match="receiver matrix U"):
        run_pair(lambda ch: ot.send_random(ch, 1000), receiver, timeout=60)


def test_malformed_corrections_are_a_protocol_error():
    ot = make(128)

    def sender(ch):
        sess = ot.setup(ch, "sender")
        ot._header(ch, sess, "correlated", 100, "fixed")
        ch.recv()
        ch.send(bytes(17))
        ch.recv()

    with pytest.raises(ProtocolError, match="corrections"):
        run_pair(sender, lambda ch: ot.receive_correlated(ch, np.ones(100, np.uint8)), timeout=60)


def test_dropped_peer_is_a_clear_error():
    from pqmpc.errors import ChannelClosed

    ot = make(128)

    def receiver(ch):
        ot.setup(ch, "receiver")
        ch.close()

    with pytest.raises(ChannelClosed):
        run_pair(lambda ch: ot.send_random(ch, 100), receiver, timeout=60)


def test_bad_parameters():
    with pytest.raises(ParameterError):
        IKNP(kappa=192)
    with pytest.raises(ParameterError):
        IKNP(base="KyberOT")
    with pytest.raises(ParameterError):
        IKNP(chunk=100)
    ot = make(128)
    ch, _ = MemoryChannel.pair()
    with pytest.raises(ParameterError):
        ot.send_correlated(ch, 5, delta=np.zeros(15, np.uint8))
    with pytest.raises(ParameterError):
        ot.setup(ch, "observer")
    with pytest.raises(ParameterError):
        ot.setup(ch, "receiver", delta=np.zeros(16, np.uint8))
    with pytest.raises(ParameterError):
        ot.receive_random(ch, np.array([0, 1, 2]))


@pytest.mark.parametrize("kappa", KAPPAS)
@pytest.mark.parametrize("bad", ["zero", "zero-bytes", "2x8", "uint16", "short"])
def test_refuses_a_zero_or_malformed_delta(kappa, bad):
    """Δ = 0 makes t = q for every choice bit (the receiver learns both messages);
    a Δ of the wrong shape was reshaped silently. Refused before any message,
    on a fresh channel (at setup) and on a running session, like Ferret does."""
    w = kappa // 8
    delta = {"zero": np.zeros(w, np.uint8), "zero-bytes": bytes(w), "2x8": np.ones((2, w // 2), np.uint8),
             "uint16": np.ones(w, np.uint16), "short": np.ones(w - 1, np.uint8)}[bad]
    ot = make(kappa)
    fresh, _ = MemoryChannel.pair(timeout=5)
    with pytest.raises(ParameterError):
        ot.send_correlated(fresh, 5, delta=delta)
    with pytest.raises(ParameterError):
        ot.setup(fresh, "sender", delta=delta)
    assert ot.session(fresh, "sender") is None
    ch0, ch1 = MemoryChannel.pair()
    run_pair(lambda ch: ot.setup(ch, "sender"), lambda ch: ot.setup(ch, "receiver"), channels=(ch0, ch1))
    with pytest.raises(ParameterError):
        ot.send_correlated(ch0, 5, delta=delta)
    assert ot.session(ch0, "sender") is not None


def test_lazy_export():
    import pqmpc.ot

    assert pqmpc.ot.IKNP is IKNP


def test_a_failed_call_drops_the_session_but_a_bad_argument_does_not():
    ot, receiver = _receiver_then(lambda ch: ch.send(bytes(7)))
    chans = MemoryChannel.pair()
    with pytest.raises(ProtocolError):
        run_pair(lambda ch: (ot.setup(ch, "sender"), ot.send_random(ch, 1000)), receiver, timeout=60, channels=chans)
    assert ot.session(chans[0], "sender") is None
    ch0, ch1 = MemoryChannel.pair()
    ot2 = make(128)
    run_pair(lambda ch: ot2.setup(ch, "sender"), lambda ch: ot2.setup(ch, "receiver"), channels=(ch0, ch1))
    with pytest.raises(ParameterError):
        ot2.send_correlated(ch0, 5, delta=np.zeros(3, np.uint8))
    assert ot2.session(ch0, "sender") is not None


def test_bulk_traffic_both_ways_over_tcp_does_not_deadlock():
    """Corrections and chosen-message masks (sender → receiver) are sent only
    after all of U arrived; interleaving them could fill both TCP buffers."""
    from tests.helpers import tcp_pair

    n = 300_000
    a, c = tcp_pair(timeout=60)
    rng = Rng(b"tcp-bulk")
    c1, c2 = rng.bits(n), rng.bits(n)
    d2 = rng.blocks(1)[0]
    x0, x1 = rng.blocks(n), rng.blocks(n)
    ot = make(128)

    def sender(ch):
        first = ot.send_correlated(ch, n)
        second = ot.send_correlated(ch, n, delta=d2)
        ot.send(ch, x0, x1)
        return first, second

    def receiver(ch):
        return ot.receive_correlated(ch, c1), ot.receive_correlated(ch, c2), ot.receive(ch, c1)

    (first, second), (t1, t2, chosen) = run_pair(sender, receiver, timeout=120, channels=(a, c))
    check_cot(*first, t1, c1, 16)
    check_cot(*second, t2, c2, 16)
    assert np.array_equal(chosen, np.where(c1[:, None] == 1, x1, x0))
