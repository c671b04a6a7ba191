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
                return f(ch, ["a", "b"], chunk=chunk)
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
        run_pair(old_peer, lambda ch: psi_receiver(ch, ["a"]))
