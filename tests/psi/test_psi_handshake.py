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
