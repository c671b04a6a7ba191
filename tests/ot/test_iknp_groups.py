"""IKNP groups whole chunks per kernel call (up to iknp.GROUP_BYTES of U); over TCP the sender reads a group's
messages straight into scratch. Outputs must equal the chunk-by-chunk path byte for byte."""

import threading

import numpy as np
import pytest

from pqmpc.net import MemoryChannel, TcpChannel, TcpListener, run_pair
from pqmpc.ot import IKNP
from pqmpc.ot.base import SimplestOT
from pqmpc.ot.ext import iknp as iknp_mod
from pqmpc.rng import Rng


def tcp_channels():
    with TcpListener("127.0.0.1", 0) as lst:
        box = {}
        t = threading.Thread(target=lambda: box.setdefault("c", TcpChannel.connect("127.0.0.1", lst.port, timeout=60)))
        t.start()
        a = lst.accept(timeout=60)
        t.join()
    return a, box["c"]


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
    for channels in (tcp_channels(), MemoryChannel.pair(timeout=60)):
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
