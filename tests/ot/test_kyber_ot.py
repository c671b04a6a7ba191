"""KyberOT: the OT relation on every index, all variants and backends, malformed peers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import HandshakeError, ParameterError, ProtocolError
from pqmpc.lattice import kem, mlkem
from pqmpc.net import MemoryChannel, run_pair
from pqmpc.ot.base import mr19
from pqmpc.ot.base.kyber import VERSION as KyberOT_VERSION
from pqmpc.ot.base.kyber import KyberOT
from pqmpc.primitives.keccak import shake256
from pqmpc.rng import Rng

SIZES = [0, 1, 2, 127, 128, 129]
BACKENDS = [b["name"] for b in kem.available_backends() if b["available"]]


def _run(ot, choices, seeds=(b"s", b"r")):
    n = choices.shape[0]
    return run_pair(lambda ch: ot.send_random(ch, n, Rng(seeds[0])),
                    lambda ch: ot.receive_random(ch, choices, Rng(seeds[1])), timeout=120)


def _check_relation(m0, m1, mb, choices, width):
    n = choices.shape[0]
    assert m0.shape == m1.shape == mb.shape == (n, width)
    assert m0.dtype == m1.dtype == mb.dtype == np.uint8
    assert np.array_equal(mb, np.where(choices[:, None] == 1, m1, m0))
    # The other message is unrelated (equal only with probability 2^-128 per index).
    assert not np.any(np.all(m0 == m1, axis=1))


@settings(max_examples=12, deadline=None)
@given(st.sampled_from(SIZES), st.sampled_from(mlkem.VARIANTS), st.binary(min_size=1, max_size=8))
def test_random_ot_relation(n, variant, seed):
    ot = KyberOT(variant, block_bytes=32 if variant == "ML-KEM-1024" and seed[0] & 1 else 16)
    choices = Rng(seed).bits(n)
    (m0, m1), mb = _run(ot, choices)
    _check_relation(m0, m1, mb, choices, ot.block_bytes)


@pytest.mark.parametrize("variant", mlkem.VARIANTS)
@pytest.mark.parametrize("n", SIZES)
def test_every_size_and_variant_reference(variant, n):
    choices = Rng(b"choices%d" % n).bits(n)
    (m0, m1), mb = _run(KyberOT(variant, backend="reference"), choices)
    _check_relation(m0, m1, mb, choices, 16)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("variant", ["ML-KEM-768", "ML-KEM-1024"])
def test_backends(backend, variant):
    ot = KyberOT(variant, backend=backend)
    assert ot.backend_name == backend
    choices = Rng(b"c").bits(129)
    choices[:3] = [0, 1, 1]
    (m0, m1), mb = _run(ot, choices)
    _check_relation(m0, m1, mb, choices, 16)


def test_mixed_backends_interoperate():
    # The wire format does not depend on who computes the KEM.
    if "openssl" not in BACKENDS:
        pytest.skip("no OpenSSL ML-KEM")
    n = 40
    choices = Rng(b"mix").bits(n)
    (m0, m1), mb = run_pair(lambda ch: KyberOT(backend="openssl").send_random(ch, n),
                            lambda ch: KyberOT(backend="reference").receive_random(ch, choices))
    _check_relation(m0, m1, mb, choices, 16)


def test_auto_backend_and_errors():
    assert KyberOT().backend_name in BACKENDS
    assert KyberOT("ML-KEM-512").backend_name == "reference"
    with pytest.raises(ParameterError, match="ML-KEM-1024"):
        KyberOT("ML-KEM-768", block_bytes=32)
    with pytest.raises(ParameterError):
        KyberOT("ML-KEM-1024", block_bytes=24)
    with pytest.raises(ParameterError, match="unknown"):
        KyberOT("Kyber-1")
    with pytest.raises(ParameterError):
        KyberOT("ML-KEM-512", backend="openssl")
    with pytest.raises(ParameterError, match="unknown KEM backend"):
        KyberOT(backend="gpu")
    if "liboqs" not in BACKENDS:
        with pytest.raises(ParameterError, match="liboqs"):
            KyberOT(backend="liboqs")


def test_for_level():
    from pqmpc.params import LEVEL_128, LEVEL_256

    assert (KyberOT.for_level(LEVEL_128).variant, KyberOT.for_level(LEVEL_128).block_bytes) == ("ML-KEM-768", 16)
    assert (KyberOT.for_level(LEVEL_256).variant, KyberOT.for_level(LEVEL_256).block_bytes) == ("ML-KEM-1024", 32)


def test_chosen_message_ot_256_bit_mode():
    ot = KyberOT("ML-KEM-1024", block_bytes=32)
    rng = Rng(b"msgs")
    n = 33
    m0, m1, choices = rng.blocks(n, 32), rng.blocks(n, 32), rng.bits(n)
    _, got = run_pair(lambda ch: ot.send(ch, m0, m1), lambda ch: ot.receive(ch, choices))
    assert np.array_equal(got, np.where(choices[:, None] == 1, m1, m0))


def test_deterministic_and_session_separated():
    ot = KyberOT("ML-KEM-768", backend="reference")
    choices = Rng(b"det").bits(20)
    a = _run(ot, choices)
    b = _run(ot, choices)
    assert np.array_equal(a[0][0], b[0][0]) and np.array_equal(a[1], b[1])
    c = _run(ot, choices, seeds=(b"s", b"other receiver"))
    assert not np.any(np.all(c[0][0] == a[0][0], axis=1))


@pytest.mark.parametrize("variant", mlkem.VARIANTS)
def test_wire_sizes(variant):
    p = mlkem.PARAMS[variant]
    ot = KyberOT(variant)
    n = 7
    choices = Rng(b"w").bits(n)
    ch0, ch1 = MemoryChannel.pair()
    run_pair(lambda ch: mr19.send_random(ot.group, ch, n, Rng(b"s"), b"ctx", 16, "t"),
             lambda ch: mr19.receive_random(ot.group, ch, choices, Rng(b"r"), b"ctx", 16, "t"), channels=(ch0, ch1))
    up, down = ot.message_bytes(n)
    assert (up, down) == (32 + 2 * n * 384 * p.k, 2 * n * p.ct_bytes)
    assert ch1.stats.bytes_sent == up + 4 and ch0.stats.bytes_sent == down + 4
    assert ch1.stats.messages_sent == ch0.stats.messages_sent == 1
    if variant == "ML-KEM-768":
        assert (up - 32 + down) / n == 4480


# ---------------------------------------------------------------- malformed peers


def _sender_against(receiver_fn, n=4, variant="ML-KEM-768"):
    ot = KyberOT(variant)
    return run_pair(lambda ch: ot.send_random(ch, n), lambda ch: receiver_fn(ot, ch), timeout=30)


def _honest_receiver_message(ot, n, choices):
    """Capture the bytes an honest receiver sends in step 1."""
    box = {}

    def sender(ch):
        ot._start(ch, n, "sender", "receiver")
        box["msg"] = bytearray(ch.recv())
        ch.close()

    try:
        run_pair(sender, lambda ch: ot.receive_random(ch, choices, Rng(b"r")), timeout=30)
    except Exception:
        pass
    return box["msg"]


@pytest.mark.parametrize("cut", [1, 100, 5000])
def test_sender_rejects_truncated_keys(cut):
    n = 4
    ot = KyberOT()
    msg = _honest_receiver_message(ot, n, np.zeros(n, np.uint8))

    def bad(ot, ch):
        ot._start(ch, n, "receiver", "sender")
        ch.send(bytes(msg[:-cut]))
        ch.recv()

    with pytest.raises(ProtocolError, match=r"KyberOT step 1 \(receiver keys\): expected"):
        _sender_against(bad, n)


@pytest.mark.parametrize("which", [0, 1, 2 * 4 - 1])
def test_sender_rejects_coefficient_at_least_q(which):
    n = 4
    ot = KyberOT()
    msg = _honest_receiver_message(ot, n, np.ones(n, np.uint8))
    # Set the first 12-bit value of key slot `which` to 0xFFF (>= q = 3329).
    off = 32 + which * 1152
    msg[off] = 0xFF
    msg[off + 1] |= 0x0F

    def bad(ot, ch):
        ot._start(ch, n, "receiver", "sender")
        ch.send(bytes(msg))
        ch.recv()

    with pytest.raises(ProtocolError, match="coefficient >= q"):
        _sender_against(bad, n)


@pytest.mark.parametrize("cut", [1, 1088])
def test_receiver_rejects_truncated_ciphertexts(cut):
    n = 3
    ot = KyberOT()

    def bad_sender(ch):
        ot._start(ch, n, "sender", "receiver")
        ch.recv()
        ch.send(bytes(2 * n * 1088 - cut))
        ch.recv()

    with pytest.raises(ProtocolError, match=r"KyberOT step 2 \(sender ciphertexts\): expected"):
        run_pair(bad_sender, lambda ch: ot.receive_random(ch, np.ones(n, np.uint8)), timeout=30)


@pytest.mark.parametrize("backend", BACKENDS)
def test_receiver_survives_garbage_ciphertexts(backend):
    # Right length, wrong content: ML-KEM's implicit rejection yields the pseudorandom
    # key J(z ‖ c), so the receiver gets an output that matches neither of the
    # messages an honest sender would have output in the same session.
    n = 5
    ot = KyberOT(backend=backend)
    choices = np.array([1, 0, 1, 1, 0], np.uint8)
    (m0, m1), honest = _run(ot, choices)
    garbage = Rng(b"junk").bytes(2 * n * 1088)

    def garbage_sender(ch):
        ot._start(ch, n, "sender", "receiver")
        ch.recv()
        ch.send(garbage)

    _, mb = run_pair(garbage_sender, lambda ch: ot.receive_random(ch, choices, Rng(b"r")), timeout=30)
    assert np.array_equal(honest, np.where(choices[:, None] == 1, m1, m0))
    assert mb.shape == (n, 16)
    assert not np.any(np.all(mb == m0, axis=1)) and not np.any(np.all(mb == m1, axis=1))
    # Exactly the implicit-rejection key of FIPS 203 (same z as the honest run: same
    # receiver randomness), put through the OT's KDF.
    rng = Rng(b"r")
    seed = rng.bytes(32)
    rng.blocks(n, 32)  # d
    z = rng.blocks(n, 32)
    ct = np.frombuffer(garbage, np.uint8).reshape(n, 2, 1088)[np.arange(n), choices]
    k_bar = shake256(np.concatenate([z, ct], axis=1), 32)
    sid = mr19.session_id(f"KyberOT/{KyberOT_VERSION}/ML-KEM-768/16".encode(), n, seed)
    assert np.array_equal(mb, mr19.kdf(sid, choices, k_bar, 16))


@pytest.mark.parametrize("change", ["variant", "n", "block", "role"])
def test_handshake_mismatch_fails_on_both_sides(change):
    a = KyberOT("ML-KEM-1024", block_bytes=32 if change == "block" else 16)
    b = KyberOT("ML-KEM-768" if change == "variant" else "ML-KEM-1024")
    n_send = 5 if change == "n" else 4
    choices = np.zeros(4, np.uint8)
    if change == "role":
        f0 = lambda ch: a.send_random(ch, 4)  # noqa: E731
        f1 = lambda ch: b.send_random(ch, 4)  # noqa: E731
    else:
        f0 = lambda ch: a.send_random(ch, n_send)  # noqa: E731
        f1 = lambda ch: b.receive_random(ch, choices)  # noqa: E731
    with pytest.raises(HandshakeError):
        run_pair(f0, f1, timeout=30)


def test_bad_arguments():
    ot = KyberOT()
    with pytest.raises(ParameterError):
        run_pair(lambda ch: ot.send_random(ch, -1), lambda ch: None)
    with pytest.raises(ParameterError):
        ot.receive_random(MemoryChannel.pair()[0], np.array([0, 2]))


def test_names_and_security_level():
    from pqmpc.ot.base.kyber import MR19MlkemOT
    from pqmpc.ot.interfaces import CorrelatedOT, RandomOT
    from pqmpc.params import LEVEL_128, LEVEL_256

    # A base OT is a random OT, and only that: callers test capabilities with isinstance.
    assert isinstance(KyberOT(), RandomOT) and not isinstance(KyberOT(), CorrelatedOT)

    assert KyberOT is MR19MlkemOT
    assert (KyberOT().variant, KyberOT().block_bytes) == ("ML-KEM-768", 16)
    assert (KyberOT("ML-KEM-1024").variant, KyberOT("ML-KEM-1024").block_bytes) == ("ML-KEM-1024", 16)
    for level in (LEVEL_128, LEVEL_256):
        ot = KyberOT(level=level)
        assert (ot.variant, ot.block_bytes) == (level.kem, level.block_bytes)
        assert repr(KyberOT.for_level(level)) == repr(ot)
    assert KyberOT("ML-KEM-1024", block_bytes=32, level=LEVEL_256).block_bytes == 32
    with pytest.raises(ParameterError, match="contradicts"):
        KyberOT("ML-KEM-768", level=LEVEL_256)
    with pytest.raises(ParameterError, match="contradicts"):
        KyberOT(block_bytes=16, level=LEVEL_256)
    with pytest.raises(ParameterError, match="SecurityLevel"):
        KyberOT(level=256)
    choices = Rng(b"lvl").bits(6)
    (m0, m1), mb = _run(KyberOT(level=LEVEL_256), choices)
    _check_relation(m0, m1, mb, choices, 32)
