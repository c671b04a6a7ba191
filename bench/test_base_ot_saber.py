"""pytest-benchmark suite for SaberOT: 128 and 1024 random OTs per variant and construction.

Run with ``pytest bench/test_base_ot_saber.py --benchmark-enable``; compare with
``bench/test_base_ot.py`` (ML-KEM and X25519) in the same session for ratios.
"""

import numpy as np
import pytest

from pqmpc.net import MemoryChannel, run_pair
from pqmpc.ot.base.saber import SaberOT
from pqmpc.rng import Rng


@pytest.mark.parametrize("n", [128, 1024])
@pytest.mark.parametrize("construction", ["np", "mr"])
@pytest.mark.parametrize("variant", ["LightSaber", "Saber", "FireSaber"])
def test_saber_random_ot(benchmark, variant, construction, n):
    ot = SaberOT(variant, construction)
    choices = Rng(b"bench/choices").bits(n)
    stats = {}

    def batch():
        chans = MemoryChannel.pair()
        res = run_pair(lambda ch: ot.send_random(ch, n, Rng(b"s")),
                       lambda ch: ot.receive_random(ch, choices, Rng(b"r")), timeout=600, channels=chans)
        stats["wire"] = chans[0].stats.bytes_sent + chans[1].stats.bytes_sent
        return res

    (m0, m1), mb = benchmark(batch)
    assert np.array_equal(mb, np.where(choices[:, None] == 1, m1, m0))
    benchmark.extra_info["bytes_per_ot"] = stats["wire"] / n
    if construction == "np" and variant == "LightSaber":
        assert stats["wire"] / n <= 1600
