"""SimplestOT (classical X25519 MRR OT): relation on every index, uniform-looking
receiver keys, the POPF, malformed and low-order messages."""

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import HandshakeError, ParameterError, ProtocolError
from pqmpc.net import MemoryChannel, run_pair
from pqmpc.ot.base import simplest
from pqmpc.ot.base import x25519_uniform as xu
from pqmpc.ot.base.simplest import SimplestOT
from pqmpc.rng import Rng
from tests.helpers import RecordingChannel


def run_random(ot, choices, s_seed=b"s", r_seed=b"r", channels=None):
    n = len(choices)
    return run_pair(lambda ch: ot.send_random(ch, n, Rng(s_seed)),
                    lambda ch: ot.receive_random(ch, choices, Rng(r_seed)), timeout=60, channels=channels)


def check_relation(m0, m1, mb, choices, width=16):
    n = len(choices)
    assert m0.shape == m1.shape == mb.shape == (n, width)
    want = np.where(choices[:, None] == 1, m1, m0)
    bad = np.flatnonzero((mb != want).any(axis=1))
    assert bad.size == 0, f"OT relation fails at {bad[:10]}"
    assert (m0 != m1).any(axis=1).all()


@settings(max_examples=8, deadline=None)
@given(n=st.sampled_from([0, 1, 2, 7, 127, 128, 129]), seed=st.binary(min_size=1, max_size=8),
       width=st.sampled_from([16, 32]))
def test_random_ot_relation(n, seed, width):
    choices = Rng(seed).bits(n)
    (m0, m1), mb = run_random(SimplestOT(width), choices, seed + b"s", seed + b"r")
    check_relation(m0, m1, mb, choices, width)


def test_chosen_message_ot():
    rng = Rng(b"chosen")
    n = 200
    m0, m1, choices = rng.blocks(n), rng.blocks(n), rng.bits(n)
    ot = SimplestOT()
    _, got = run_pair(lambda ch: ot.send(ch, m0, m1, Rng(b"a")), lambda ch: ot.receive(ch, choices, Rng(b"b")))
    assert np.array_equal(got, np.where(choices[:, None] == 1, m1, m0))


def test_deterministic_under_seeds_and_wire_sizes():
    choices = Rng(b"c").bits(50)
    ot = SimplestOT()
    chans = [RecordingChannel.pair() for _ in range(2)]
    out = [run_random(ot, choices, channels=c) for c in chans]
    assert np.array_equal(out[0][1], out[1][1]) and np.array_equal(out[0][0][0], out[1][0][0])
    assert chans[0][0].sent[1:] == chans[1][0].sent[1:] and chans[0][1].sent[1:] == chans[1][1].sent[1:]
    assert len(chans[0][0].sent[1]) == simplest.SENDER_BYTES          # sender: B ‖ B'
    assert len(chans[0][1].sent[1]) == 50 * simplest.ENCODING_BYTES    # receiver: (s, T) per OT


def test_all_choices_zero_and_one():
    for bit in (0, 1):
        choices = np.full(64, bit, dtype=np.uint8)
        (m0, m1), mb = run_random(SimplestOT(), choices)
        check_relation(m0, m1, mb, choices)


# ---------------------------------------------------------------- uniform keys
def test_torsion_tables_have_the_claimed_orders():
    tab = xu.tables()
    for name, pts, cof, order in (("curve", tab["curve"], 8, xu.L), ("twist", tab["twist"], 4, xu.L_TWIST)):
        assert len(pts) == cof and pts[0] is None
        x1 = pts[1][0]
        assert xu.ladder(cof, x1)[1] == 0 and xu.ladder(cof // 2, x1)[1] != 0, name
        assert xu.is_square(xu.rhs(x1)) == (name == "curve")
    g = tab["twist_generator"]
    assert not xu.is_square(xu.rhs(g))
    assert xu.ladder(xu.L_TWIST, g)[1] == 0 and xu.ladder(1, g)[1] != 0
    assert xu.ORDER_CURVE + xu.ORDER_TWIST == 2 * xu.P + 2 and xu.ORDER_TWIST % 4 == 0
    assert is_probable_prime(xu.L_TWIST) and is_probable_prime(xu.L)
    assert not is_probable_prime(xu.L_TWIST * 3)


def is_probable_prime(n: int, rounds: int = 40) -> bool:
    """Miller-Rabin with fixed pseudo-random bases (error < 4^-40 for composites)."""
    if n < 4:
        return n in (2, 3)
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    bases = np.random.default_rng(1).integers(2, 1 << 62, size=rounds)
    for a in (int(b) % (n - 3) + 2 for b in bases):
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def test_torsion_never_changes_the_shared_secret_and_keys_look_uniform():
    n = 400
    rng = Rng(b"uniform")
    keys, twist, pub = xu.uniform_keys(rng.array((n, 32)), rng.array(n))
    b = X25519PrivateKey.from_private_bytes(rng.bytes(32))
    b_curve, b_twist = b.public_key(), X25519PublicKey.from_public_bytes(b.exchange(xu.twist_generator_key()))
    for i in range(n):
        assert b.exchange(X25519PublicKey.from_public_bytes(pub[i].tobytes())) == \
            keys[i].exchange(b_twist if twist[i] else b_curve)
    xs = [int.from_bytes(pub[i].tobytes(), "little") & ((1 << 255) - 1) for i in range(n)]
    on_curve = np.array([xu.is_square(xu.rhs(x)) for x in xs])
    assert np.array_equal(on_curve, ~twist)
    # Uniform strings: half on the curve, bit 255 set half the time, and only
    # ~1/8 (curve) / ~1/4 (twist) in the prime-order subgroup — a plain X25519
    # key would be there every time.
    assert 0.4 < on_curve.mean() < 0.6 and 0.4 < (pub[:, 31] >> 7).mean() < 0.6
    prime_c = np.mean([xu.ladder(xu.L, x)[1] == 0 for x, t in zip(xs, twist) if not t])
    prime_t = np.mean([xu.ladder(xu.L_TWIST, x)[1] == 0 for x, t in zip(xs, twist) if t])
    assert prime_c < 0.3 and prime_t < 0.45


def test_popf_decodes_to_the_programmed_value_only_under_the_choice():
    rng = Rng(b"popf")
    n = 100
    idx = np.arange(n, dtype=np.uint64)
    choices, vals, r = rng.bits(n), rng.blocks(n, 32), rng.blocks(n, 32)
    enc = simplest.popf_program(idx, choices, vals, r)
    assert np.array_equal(simplest.popf_eval(idx, choices, enc), vals)
    other = simplest.popf_eval(idx, 1 - choices, enc)
    assert (other != vals).any(axis=1).all()


# ---------------------------------------------------------------- malformed
def _sender_with(bad_receiver):
    return lambda: run_pair(lambda ch: SimplestOT().send_random(ch, 4, Rng(b"s")), bad_receiver, timeout=20)


def test_truncated_receiver_message_is_a_protocol_error():
    def bad(ch):
        simplest.SimplestOT()._handshake(ch, 4, "receiver", "sender")
        ch.send(bytes(4 * simplest.ENCODING_BYTES - 1))
        ch.recv()

    with pytest.raises(ProtocolError, match="step 1"):
        _sender_with(bad)()


def test_low_order_receiver_key_is_rejected():
    # Program the POPF so that branch 0 decodes to the u = 0 point (low order).
    def bad(ch):
        SimplestOT()._handshake(ch, 4, "receiver", "sender")
        idx = np.arange(4, dtype=np.uint64)
        enc = simplest.popf_program(idx, np.zeros(4, np.uint8), np.zeros((4, 32), np.uint8), np.ones((4, 32), np.uint8))
        ch.send(enc)
        ch.recv()

    with pytest.raises(ProtocolError, match="low-order"):
        _sender_with(bad)()


@pytest.mark.parametrize("bad_key, match", [(bytes(32), "low-order"), (b"\xff" * 32, "canonical")])
def test_bad_sender_keys_are_rejected(bad_key, match):
    def bad(ch):
        SimplestOT()._handshake(ch, 4, "sender", "receiver")
        ch.recv()
        ch.send(bad_key + bad_key)

    with pytest.raises(ProtocolError, match=match):
        run_pair(bad, lambda ch: SimplestOT().receive_random(ch, np.ones(4, np.uint8), Rng(b"r")), timeout=20)


def test_short_sender_message_is_a_protocol_error():
    def bad(ch):
        SimplestOT()._handshake(ch, 4, "sender", "receiver")
        ch.recv()
        ch.send(bytes(10))

    with pytest.raises(ProtocolError, match="step 2"):
        run_pair(bad, lambda ch: SimplestOT().receive_random(ch, np.ones(4, np.uint8)), timeout=20)


def test_mismatched_sizes_or_widths_fail_the_handshake():
    with pytest.raises(HandshakeError):
        run_pair(lambda ch: SimplestOT().send_random(ch, 5), lambda ch: SimplestOT().receive_random(ch, np.ones(4, np.uint8)),
                 timeout=20)
    with pytest.raises(HandshakeError):
        run_pair(lambda ch: SimplestOT(32).send_random(ch, 4), lambda ch: SimplestOT().receive_random(ch, np.ones(4, np.uint8)),
                 timeout=20)


def test_bad_parameters():
    with pytest.raises(ParameterError):
        SimplestOT(24)
    ch0, _ = MemoryChannel.pair()
    with pytest.raises(ParameterError):
        SimplestOT().receive_random(ch0, np.array([0, 2]))
    with pytest.raises(ParameterError):
        SimplestOT().send_random(ch0, -1)


def test_lazy_export():
    import pqmpc.ot

    assert pqmpc.ot.SimplestOT is SimplestOT
    assert SimplestOT.post_quantum is False


def test_batched_square_roots_match_python():
    rng = Rng(b"sqrt")
    vals = [0, 1, 4, xu.P - 1]
    raw = rng.array((300, 32))
    vals += [int.from_bytes(r.tobytes(), "little") % xu.P for r in raw]
    squares = [v for v in vals if xu.is_square(v)]
    roots = xu.sqrt_batch(squares)
    assert all(r * r % xu.P == v % xu.P for r, v in zip(roots, squares))
    assert all(r == xu.sqrt(v) or r == (-xu.sqrt(v)) % xu.P for r, v in zip(roots, squares))
    non = next(v for v in vals if not xu.is_square(v))
    with pytest.raises(ValueError):
        xu.sqrt_batch([non])


def test_names_and_security_level():
    from pqmpc.ot.base.simplest import MRR20X25519OT
    from pqmpc.ot.interfaces import CorrelatedOT, RandomOT
    from pqmpc.params import LEVEL_128, LEVEL_256

    # A base OT is a random OT, and only that: callers test capabilities with isinstance.
    assert isinstance(SimplestOT(), RandomOT) and not isinstance(SimplestOT(), CorrelatedOT)

    assert SimplestOT is MRR20X25519OT
    assert SimplestOT().block_bytes == 16 and SimplestOT(32).block_bytes == 32
    assert SimplestOT(level=LEVEL_128).block_bytes == 16 and SimplestOT(level=LEVEL_256).block_bytes == 32
    with pytest.raises(ParameterError, match="contradicts"):
        SimplestOT(16, level=LEVEL_256)
    with pytest.raises(ParameterError, match="SecurityLevel"):
        SimplestOT(level="kappa256")
