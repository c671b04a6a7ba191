"""pytest-benchmark suite for IKNP OT extension (κ = 128 and 256).

Run with ``pytest bench/test_ot_ext.py --benchmark-enable``. Each round is one
extend call of an established session (base OTs done once, outside the
timing), both parties as threads over a memory channel; the AES-ECB row of
the same session is the baseline for ratios. ``pqmpc bench ot_ext`` reports
the same figures with the ratios computed, plus two processes over TCP.
"""

import queue
import threading

import numpy as np
import pytest

from pqmpc.bench.timing import aes_ecb_baseline
from pqmpc.net import MemoryChannel
from pqmpc.ot.ext.iknp import IKNP
from pqmpc.rng import Rng


class _Peer:
    """The receiver in a background thread, answering one extend call per request."""

    def __init__(self, ot, ch, n, op):
        self.jobs, self.done = queue.SimpleQueue(), queue.SimpleQueue()
        self.choices = Rng(b"bench/choices").bits(n)
        self.last = None

        def loop():
            ot.setup(ch, "receiver", Rng(b"bench/r"))
            while self.jobs.get():
                f = ot.receive_random if op == "random" else ot.receive_correlated
                self.last = None  # free the previous output first (see test_iknp_extend)
                self.last = f(ch, self.choices)
                self.done.put(True)

        self.thread = threading.Thread(target=loop, daemon=True)
        self.thread.start()

    def call(self):
        self.jobs.put(True)

    def wait(self):
        self.done.get(timeout=600)

    def stop(self):
        self.jobs.put(False)


@pytest.mark.parametrize("op", ["random", "correlated"])
@pytest.mark.parametrize("kappa", [128, 256])
@pytest.mark.parametrize("log_n", [20, 24])
def test_iknp_extend(benchmark, kappa, log_n, op):
    n = 1 << log_n
    ot = IKNP(kappa=kappa)
    ch_s, ch_r = MemoryChannel.pair(timeout=600)
    peer = _Peer(ot, ch_r, n, op)
    ot.setup(ch_s, "sender", Rng(b"bench/s"))
    res = {}

    def one():
        # Drop the previous outputs before the next call: at 2^24 OTs holding two
        # generations (up to 3 GiB) makes every call fault in fresh memory, which
        # on this VM costs more than the protocol itself.
        res.clear()
        peer.call()
        res["s"] = ot.send_random(ch_s, n) if op == "random" else ot.send_correlated(ch_s, n)
        peer.wait()

    benchmark.pedantic(one, rounds=3 if log_n == 24 else 5, warmup_rounds=1)
    peer.stop()
    benchmark.extra_info.update(kappa=kappa, n=n, op=op, bytes_per_ot=kappa / 8,
                                aes_ecb_blocks_per_s=aes_ecb_baseline(1 << 20, 3)["blocks_per_s"])
    c = peer.choices[:, None]
    if op == "random":
        m0, m1 = res["s"]
        assert np.array_equal(peer.last, np.where(c == 1, m1, m0))
    else:
        delta, q = res["s"]
        assert np.array_equal(peer.last, q ^ (c * delta[None, :]))


@pytest.mark.parametrize("kappa", [128, 256])
def test_iknp_setup(benchmark, kappa):
    """Base OTs (KyberOT, 128 or 256 of them) plus the IKNP handshake."""
    def one():
        ot = IKNP(kappa=kappa)
        ch_s, ch_r = MemoryChannel.pair(timeout=120)
        t = threading.Thread(target=ot.setup, args=(ch_r, "receiver"), daemon=True)
        t.start()
        ot.setup(ch_s, "sender")
        t.join()

    benchmark.pedantic(one, rounds=5, warmup_rounds=1)
