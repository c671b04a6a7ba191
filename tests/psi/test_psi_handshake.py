"""Parameters that change message sizes must be caught by the handshake, on both sides."""

import pytest

from pqmpc.errors import HandshakeError
from pqmpc.net import run_pair
from pqmpc.psi import psi_receiver, psi_sender


def test_chunk_mismatch_is_a_handshake_error_on_both_sides():
    seen = []

    def side(f, chunk):
        def run(ch):
            try:
                return f(ch, ["a", "b"], chunk=chunk, protocol="kkrt")
            except HandshakeError as exc:
                seen.append(str(exc))
                raise
        return run

    with pytest.raises(HandshakeError, match="chunk_bins"):
        run_pair(side(psi_sender, 1024), side(psi_receiver, 2048))
    assert len(seen) == 2


def test_a_version_1_peer_is_refused():
    # Version 1 had 32-bit cuckoo lanes and per-hash-function step 7: talking to it would miss
    # matches silently, so the handshake must fail instead.
    from pqmpc.net import handshake
    from pqmpc.psi import kkrt_psi

    params = kkrt_psi.session_params(128, kkrt_psi.default_base_ot(128), False)

    def old_peer(ch):
        handshake(ch, kkrt_psi.PROTOCOL, 1, params, role="sender", peer_role="receiver")

    with pytest.raises(HandshakeError, match="version"):
        run_pair(old_peer, lambda ch: psi_receiver(ch, ["a"], protocol="kkrt"))


def _both_sides_refuse(sender_kw, receiver_kw, match):
    seen = []

    def side(f, kw):
        def run(ch):
            try:
                return f(ch, ["a", "b"], **kw)
            except HandshakeError as exc:
                seen.append(str(exc))
                raise
        return run

    with pytest.raises(HandshakeError, match=match):
        run_pair(side(psi_sender, sender_kw), side(psi_receiver, receiver_kw))
    assert len(seen) == 2


@pytest.mark.parametrize("named", ["sender", "receiver"])
def test_protocol_mismatch_is_a_handshake_error_on_both_sides(named):
    # One side names kkrt, the other takes the default (rr22).
    kkrt = {"protocol": "kkrt"}
    _both_sides_refuse(kkrt if named == "sender" else {}, kkrt if named == "receiver" else {}, "protocol")


def test_mode_mismatch_is_a_handshake_error_on_both_sides():
    _both_sides_refuse({"malicious": True}, {}, "mode")


def test_default_protocol_is_rr22_with_and_without_payloads():
    from pqmpc.psi import DEFAULT_PROTOCOL, PAYLOAD_PROTOCOL, resolve_protocol

    assert DEFAULT_PROTOCOL == "rr22" and PAYLOAD_PROTOCOL == "rr22"
    assert resolve_protocol(None, {}) == "rr22" and resolve_protocol(None, {"payload": ["x"]}) == "rr22"
    assert resolve_protocol(None, {"peer_payload": True}) == "rr22" and resolve_protocol("kkrt", {}) == "kkrt"
    # A default-protocol peer talking to an explicit rr22 peer: the same session.
    s, r = run_pair(lambda ch: psi_sender(ch, ["a", "b"], reveal_to_sender=True),
                    lambda ch: psi_receiver(ch, ["b", "c"], reveal_to_sender=True, protocol="rr22"))
    assert s.tolist() == [1] and r.tolist() == [0]
    # Payload runs with no protocol named agree on rr22.
    pj = run_pair(lambda ch: psi_sender(ch, ["a", "b"], payload=["pa", "pb"]),
                  lambda ch: psi_receiver(ch, ["b", "c"], peer_payload=True))[1]
    assert pj.rows.tolist() == [0] and bytes(pj.data[pj.offsets[pj.payload_index[0]]:pj.offsets[pj.payload_index[0] + 1]]) == b"pb"
    # A payload side and a plain side do not agree (the payload parameters differ).
    _both_sides_refuse({"payload": ["pa", "pb"]}, {}, "payload")
