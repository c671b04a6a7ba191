"""Malicious Ferret: relation in both modes, the consistency check against a cheating sender,
the actively secure bootstrap against a cheating receiver, base and handshake rules."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pqmpc import Rng
from pqmpc.errors import CheatingDetected, HandshakeError, ParameterError
from pqmpc.net import run_pair
from pqmpc.ot.base.kyber import KyberOT
from pqmpc.ot.base.saber import SaberOT
from pqmpc.ot.ext import ferret_fused
from pqmpc.ot.ext.check import pad_rows
from pqmpc.ot.ext.ferret import Ferret, reserved_cots
from pqmpc.ot.ext.ferret_params import FERRET_TEST
from pqmpc.ot.ext.iknp import IKNP
from pqmpc.ot.ext.kos import KOS
from pqmpc.primitives import gf128
from tests.ot.mal_helpers import TamperingChannel

SMALL = FERRET_TEST
H = SMALL.log_bin_size


def run(sizes, security="malicious", arm=None, who="sender", warmup=1):
    """One session: ``warmup`` outputs first (setup and round 0's reserve group), then ``arm``
    tampers the frames ``who`` sends, then ``sizes``. Each side returns its outputs or its error."""
    chans = TamperingChannel.pair(timeout=120)

    def side(role):
        def body(ch):
            f = Ferret(SMALL, base=KyberOT(), security=security)
            try:
                if role == "sender":
                    f.send_random_correlated(ch, warmup, rng=Rng(b"s"))
                else:
                    f.receive_random_correlated(ch, warmup, rng=Rng(b"r"))
                if arm is not None and who == role:
                    ch.arm(arm)
                call = f.send_random_correlated if role == "sender" else f.receive_random_correlated
                return [call(ch, n, rng=Rng(role.encode())) for n in sizes]
            except Exception as exc:  # the test inspects which side failed and how
                ch.close()
                return exc
        return body

    return run_pair(side("sender"), side("receiver"), channels=chans, timeout=120)


def relation_holds(sent, received):
    return all(np.array_equal(t, q ^ (b[:, None] * d)) for (d, q), (b, t) in zip(sent, received))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from([0, 1, 127, 128, 129]), st.integers(0, 9000)), min_size=1, max_size=4),
       st.sampled_from(["semi-honest", "malicious"]))
def test_relation_on_every_index_in_both_modes(sizes, security):
    sent, received = run(sizes, security)
    for (d, q), (b, t), n in zip(sent, received, sizes):
        assert q.shape == t.shape == (n, 16) and b.shape == (n,)
    assert relation_holds(sent, received)


def test_many_rounds_malicious_with_odd_calls():
    sizes = [3, 2 * SMALL.bin_size, 5000, 1, 9000, 128 * 7 + 5]
    sent, received = run(sizes)
    assert relation_holds(sent, received)
    assert sum(sizes) > 4 * SMALL.usable  # several rounds


def flip_first(min_len, byte=-1):
    def tamper(i, frame):
        if len(frame) >= min_len and not tamper.done:
            frame[byte] ^= 0x04
            tamper.done = True
        return frame
    tamper.done = False
    return tamper


def test_cheating_sender_correction_is_caught_by_the_receiver():
    # The first large sender frame after the warm-up is the next bin group's SPCOT corrections.
    sent, received = run([3000], arm=flip_first(16 * H * 2))
    assert isinstance(received, CheatingDetected) and "single-point COTs" in str(received)


def test_same_tampering_in_semi_honest_mode_goes_unnoticed_and_breaks_the_relation():
    sent, received = run([3000], security="semi-honest", arm=flip_first(16 * H * 2))
    assert not isinstance(received, Exception) and not isinstance(sent, Exception)
    assert not relation_holds(sent, received)


def test_cheating_sender_hash_is_caught():
    def tamper(i, frame):
        if len(frame) == 32:
            frame[5] ^= 1
        return frame
    sent, received = run([3000], arm=tamper)
    assert isinstance(received, CheatingDetected)


def test_failed_session_stays_failed():
    chans = TamperingChannel.pair(timeout=120)
    tamper = flip_first(16 * H * 2)

    def snd(ch):
        f = Ferret(SMALL, base=KyberOT(), security="malicious")
        f.send_random_correlated(ch, 1, rng=Rng(b"s"))
        ch.arm(tamper)
        f.send_random_correlated(ch, 3000)

    def rcv(ch):
        f = Ferret(SMALL, base=KyberOT(), security="malicious")
        f.receive_random_correlated(ch, 1, rng=Rng(b"r"))
        with pytest.raises(CheatingDetected):
            f.receive_random_correlated(ch, 3000)
        with pytest.raises(CheatingDetected, match="failed its consistency check"):
            f.receive_random_correlated(ch, 10)
    run_pair(snd, rcv, channels=chans, timeout=120)


def test_cheating_receiver_in_the_bootstrap_is_caught_by_the_sender():
    # The receiver's KOS matrix U of the bootstrap (M base COTs plus KOS's padding) with one bit
    # flipped in column 0: lsb(Δ) = 1, so the KOS check must notice.
    m = reserved_cots(SMALL, "malicious")
    u_len = 128 * ((m + pad_rows(128) + 7) // 8)

    def tamper(i, frame):
        if len(frame) == u_len:
            frame[3] ^= 0x10
            tamper.hits += 1
        return frame
    tamper.hits = 0

    chans = TamperingChannel.pair(timeout=120)
    chans[1].arm(tamper)

    def side(role):
        def body(ch):
            f = Ferret(SMALL, base=KyberOT(), security="malicious")
            try:
                call = f.send_random_correlated if role == "sender" else f.receive_random_correlated
                return call(ch, 10, rng=Rng(role.encode()))
            except Exception as exc:
                ch.close()
                return exc
        return body

    sent, received = run_pair(side("sender"), side("receiver"), channels=chans, timeout=120)
    assert tamper.hits == 1
    assert isinstance(sent, CheatingDetected)


def test_semi_honest_bootstraps_are_refused_in_malicious_mode():
    with pytest.raises(ParameterError, match="semi-honest only"):
        Ferret(SMALL, base=IKNP(KyberOT()), security="malicious")
    with pytest.raises(ParameterError, match="semi-honest only"):
        Ferret(SMALL, base=SaberOT(construction="np"), security="malicious")
    with pytest.raises(ParameterError, match="security"):
        Ferret(SMALL, security="covert")
    assert Ferret(SMALL, base=KOS(KyberOT()), security="malicious").base_name == "KOS"
    # A base OT becomes the base of a KOS bootstrap (never correlated one OT at a time).
    assert isinstance(Ferret(SMALL, base=KyberOT(), security="malicious").base, KOS)
    assert Ferret(SMALL, security="malicious").base_name == "KOS"


def test_security_mode_is_part_of_the_handshake():
    def side(security, role):
        def body(ch):
            f = Ferret(SMALL, base=KyberOT(), security=security)
            try:
                call = f.send_random_correlated if role == "sender" else f.receive_random_correlated
                return call(ch, 10, rng=Rng(role.encode()))
            except Exception as exc:
                ch.close()
                return exc
        return body

    sent, received = run_pair(side("malicious", "sender"), side("semi-honest", "receiver"), timeout=60)
    assert isinstance(sent, HandshakeError) and isinstance(received, HandshakeError)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 17, 8192, 8193])
def test_wide_dot_matches_the_reduced_dot(n):
    rng = np.random.default_rng(n)
    a = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    b = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    ref = np.bitwise_xor.reduce(gf128.gf128_mul(a, b, backend="fallback"), axis=0) if n else np.zeros(16, np.uint8)
    assert np.array_equal(gf128.gf128_dot_wide(a, b), ref)
    for backend in ("fallback", "aesni") if gf128.HAVE_PCLMUL else ("fallback",):
        assert np.array_equal(gf128.gf128_dot_wide(a, b, backend=backend), ref)


class Recording(TamperingChannel):
    """Hashes every frame this end sends, in order (the handshakes carry the package version: skipped)."""

    def _send_message(self, payload):
        data = bytes(payload)
        if not data.startswith(b'{"'):
            self.transcript.update(len(data).to_bytes(4, "little") + data)
        super()._send_message(payload)


def recorded_run(sizes):
    import hashlib

    chans = Recording.pair(timeout=120)
    for end in chans:
        end.transcript = hashlib.sha256()

    def side(role):
        def body(ch):
            f = Ferret(SMALL, base=KyberOT(backend="reference"), security="malicious")
            call = f.send_random_correlated if role == "sender" else f.receive_random_correlated
            return [call(ch, n, rng=Rng(role.encode())) for n in sizes]
        return body

    sent, received = run_pair(side("sender"), side("receiver"), channels=chans, timeout=120)
    return sent, received, [end.transcript.hexdigest() for end in chans]


@pytest.mark.skipif(not ferret_fused.AVAILABLE, reason="the fused path needs AES-NI")
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from([0, 1, 128, 129, 512, 1000]), st.integers(0, 6000)), min_size=1, max_size=4),
       st.sampled_from([1 << 8, 1 << 9, 1 << 10]))
def test_fused_checked_groups_match_the_unfused_path_byte_for_byte(sizes, chunk):
    # Small groups (2-8 bins), so calls span several checked groups, split them and cross rounds:
    # the pipelined sender (its hash sent after the next group's trees) and the receiver's
    # provisional encoding must give the old path's outputs and messages exactly.
    import pqmpc.ot.ext.ferret as ferret_mod

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ferret_mod, "CHUNK_OUTPUTS", chunk)
        fused = recorded_run(sizes)
        mp.setattr(ferret_fused, "AVAILABLE", False)
        plain = recorded_run(sizes)
    assert fused[2] == plain[2]
    for a, b in zip(fused[0] + fused[1], plain[0] + plain[1]):
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert relation_holds(fused[0], fused[1])


def test_a_failed_check_leaves_no_provisional_output_in_the_callers_arrays():
    # The receiver encodes a group before the sender's hash arrives; when the check fails, what the
    # caller passed as out= / choices_out= must hold no output (zeroed), not the unchecked ones.
    chans = TamperingChannel.pair(timeout=120)
    n = 3000
    arrays = {"sender": np.full((n, 16), 0xAB, np.uint8),
              "receiver": (np.full((n, 16), 0xAB, np.uint8), np.full(n, 7, np.uint8))}

    def side(role):
        def body(ch):
            f = Ferret(SMALL, base=KyberOT(), security="malicious")
            try:
                if role == "sender":
                    f.send_random_correlated(ch, 1, rng=Rng(b"s"))
                    ch.arm(flip_first(16 * H * 2))
                    return f.send_random_correlated(ch, n, out=arrays["sender"])
                f.receive_random_correlated(ch, 1, rng=Rng(b"r"))
                out, choices = arrays["receiver"]
                return f.receive_random_correlated(ch, n, out=out, choices_out=choices)
            except Exception as exc:
                ch.close()
                return exc
        return body

    sent, received = run_pair(side("sender"), side("receiver"), channels=chans, timeout=120)
    assert isinstance(received, CheatingDetected)
    out, choices = arrays["receiver"]
    assert not out.any() and not choices.any()
    if isinstance(sent, Exception):
        assert not arrays["sender"].any()
