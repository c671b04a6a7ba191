"""IKNP groups whole chunks per kernel call (up to iknp.GROUP_BYTES of U); over TCP the sender reads a group's
messages straight into scratch. Outputs must equal the chunk-by-chunk path byte for byte."""


import numpy as np
import pytest

from pqmpc.net import MemoryChannel, run_pair
from pqmpc.ot import IKNP
from pqmpc.ot.base import SimplestOT
from pqmpc.ot.ext import iknp as iknp_mod
from pqmpc.rng import Rng
from tests.helpers import tcp_pair


def run(channels, sizes, chunk):
    ot = IKNP(base=SimplestOT(), chunk=chunk)

    def sender(ch):
        rng = Rng(b"groups-sender")
        res = [ot.send_random_correlated(ch, n, rng) for n in sizes]
        res.append(ot.send_random(ch, sizes[0], rng))
        return res

    def receiver(ch):
        rng = Rng(b"groups-receiver")
        res = [ot.receive_random_correlated(ch, n, rng) for n in sizes]
        res.append(ot.receive_random(ch, Rng(b"groups-choices").bits(sizes[0]), rng))
        return res

    return run_pair(sender, receiver, timeout=120, channels=channels)


@pytest.mark.parametrize("group,stream", [(1, False), (3, False), (1, True), (3, True)])  # chunks per group
def test_groups_over_tcp_match_chunk_by_chunk(monkeypatch, group, stream):
    """Grouped chunks and non-temporal row stores (``stream``) change nothing in the outputs."""
    chunk = 4096
    sizes = [7 * chunk + 1000, 2 * chunk, 5 * chunk, 100]
    monkeypatch.setattr(iknp_mod, "GROUP_BYTES", chunk * 16)
    monkeypatch.setattr(iknp_mod, "STREAM_BYTES", 1 << 40)
    plain = run(MemoryChannel.pair(timeout=60), sizes, chunk)
    monkeypatch.setattr(iknp_mod, "GROUP_BYTES", group * chunk * 16)
    monkeypatch.setattr(iknp_mod, "STREAM_BYTES", 0 if stream else 1 << 40)
    for channels in (tcp_pair(timeout=60), MemoryChannel.pair(timeout=60)):
        got = run(channels, sizes, chunk)
        for side in (0, 1):
            for a, b in zip(plain[side][:-1], got[side][:-1]):
                for x, y in zip(a, b):
                    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
        np.testing.assert_array_equal(plain[0][-1][0], got[0][-1][0])
        np.testing.assert_array_equal(plain[0][-1][1], got[0][-1][1])
        np.testing.assert_array_equal(plain[1][-1], got[1][-1])
        for (delta, q), (b, t) in zip(got[0][:-1], got[1][:-1]):  # the COT relation on every index
            want = q ^ (np.asarray(b, np.uint8)[:, None] * np.asarray(delta, np.uint8)[None, :])
            np.testing.assert_array_equal(want, t)


@pytest.mark.parametrize("group", [1, 3])
def test_choices_drawn_per_group_match_the_generic_draw(monkeypatch, group):
    """IKNP draws the random choice bits group by group inside the extension; the bits, t and the
    rng state afterwards must equal the generic interface's one-shot draw, for sizes that are not
    multiples of 8, a chunk or a group, with a session set up by the call, and with ``choices_out``."""
    from pqmpc.ot.interfaces import CorrelatedOT

    chunk = 4096
    sizes = [0, 1, 13, 3 * chunk + 77, 5 * chunk]
    monkeypatch.setattr(iknp_mod, "GROUP_BYTES", group * chunk * 16)
    ot = IKNP(base=SimplestOT(), chunk=chunk)

    def sender(ch):
        rng = Rng(b"draw-sender")
        return [ot.send_random_correlated(ch, n, rng) for n in sizes]

    def receiver(generic):
        def side(ch):
            rng = Rng(b"draw-receiver")
            call = (lambda *a, **k: CorrelatedOT.receive_random_correlated(ot, *a, **k)) if generic else \
                ot.receive_random_correlated
            res = [call(ch, n, rng) for n in sizes[:-1]]
            b, t = np.full(sizes[-1], 7, np.uint8), np.empty((sizes[-1], 16), np.uint8)
            res.append(call(ch, sizes[-1], rng, out=t, choices_out=b))
            assert res[-1][0] is b and res[-1][1] is t
            res.append(rng.bytes(32))  # the stream continues where the one-shot draw left it
            return res
        return side

    (s1, r1), (s2, r2) = (run_pair(sender, receiver(g), timeout=120, channels=MemoryChannel.pair(timeout=60))
                          for g in (True, False))
    assert r1[-1] == r2[-1]
    for (d1, q1), (d2, q2), (b1, t1), (b2, t2) in zip(s1, s2, r1[:-1], r2[:-1]):
        np.testing.assert_array_equal(b1, b2)
        np.testing.assert_array_equal(t1, t2)
        # the COT relation on every index: t = q ⊕ b·Δ
        np.testing.assert_array_equal(t2, q2 ^ (b2[:, None] * d2[None, :]))
        assert set(np.unique(b2)) <= {0, 1}
