"""pytest-benchmark suite for Ferret (silent random correlated OT).

Run with ``pytest bench/test_ferret.py --benchmark-enable``. Each round is one
call for a whole Ferret round's usable outputs in an established session
(setup and IKNP bootstrap outside the timing), both parties as threads over a
memory channel; raw AES-ECB is measured in the same session for the ratio
(``extra_info``). ``pqmpc bench ot_ext`` adds two processes over TCP.
"""

import queue
import threading

import numpy as np
import pytest

from pqmpc.bench.timing import aes_ecb_baseline
from pqmpc.net import MemoryChannel
from pqmpc.ot.ext.ferret import Ferret
from pqmpc.ot.ext.ferret_params import FERRET_B11, FERRET_B13
from pqmpc.rng import Rng


@pytest.mark.parametrize("params", [FERRET_B11, FERRET_B13], ids=lambda p: p.name)
def test_ferret_round(benchmark, params):
    ch_s, ch_r = MemoryChannel.pair(timeout=600)
    jobs, done = queue.SimpleQueue(), queue.SimpleQueue()
    last = {}

    def receiver():
        f = Ferret(params)
        f.receive_random_correlated(ch_r, 1, rng=Rng(b"bench/ferret/r"))
        done.put(True)
        while jobs.get():
            last["r"] = f.receive_random_correlated(ch_r, params.usable)
            done.put(True)

    th = threading.Thread(target=receiver, daemon=True)
    th.start()
    f = Ferret(params)
    f.send_random_correlated(ch_s, 1, rng=Rng(b"bench/ferret/s"))
    done.get(timeout=600)

    def one_round():
        jobs.put(True)
        last["s"] = f.send_random_correlated(ch_s, params.usable)
        done.get(timeout=600)

    aes = aes_ecb_baseline(1 << 20, 3)["blocks_per_s"]
    benchmark.pedantic(one_round, rounds=3, warmup_rounds=1)
    jobs.put(False)
    (delta, q), (b, t) = last["s"], last["r"]
    assert np.array_equal(t[::1009], q[::1009] ^ (b[::1009, None] * delta))
    rate = params.usable / benchmark.stats.stats.median
    benchmark.extra_info.update(cot_per_s=rate, aes_ecb_blocks_per_s=aes, ratio_to_aes_ecb=rate / aes,
                                bits_per_cot=params.bits_per_cot)
