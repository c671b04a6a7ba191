"""pytest-benchmark suite for KyberOT: 128 and 1024 random OTs per variant and backend.

Run with ``pytest bench/test_base_ot_kyber.py --benchmark-enable``; the SimplestOT
(X25519) rows of the same session are the baseline for ratios.  ``pqmpc bench``
(suite ``base_ot``) reports the same figures with ratios computed in one run.
"""

import numpy as np
import pytest

from pqmpc.lattice import kem, mlkem
from pqmpc.net import MemoryChannel, run_pair
from pqmpc.ot.base.kyber import KyberOT
from pqmpc.rng import Rng

_AVAILABLE = {b["name"]: b["variants"] for b in kem.available_backends() if b["available"]}
CONFIGS = [(v, b) for v in mlkem.VARIANTS for b in ("reference", "openssl", "liboqs") if v in _AVAILABLE.get(b, ())]


def _batch(ot, n, stats):
    choices = Rng(b"bench/choices").bits(n)

    def go():
        chans = MemoryChannel.pair()
        res = run_pair(lambda ch: ot.send_random(ch, n, Rng(b"s")), lambda ch: ot.receive_random(ch, choices, Rng(b"r")),
                       timeout=600, channels=chans)
        stats["wire"] = chans[0].stats.bytes_sent + chans[1].stats.bytes_sent
        return res

    return choices, go


@pytest.mark.parametrize("n", [128, 1024])
@pytest.mark.parametrize("variant,backend", CONFIGS)
def test_kyber_random_ot(benchmark, variant, backend, n):
    ot = KyberOT(variant, backend=backend)
    stats = {}
    choices, go = _batch(ot, n, stats)
    (m0, m1), mb = benchmark(go)
    assert np.array_equal(mb, np.where(choices[:, None] == 1, m1, m0))
    benchmark.extra_info.update(bytes_per_ot=stats["wire"] / n, backend=ot.backend_name)
    payload = sum(ot.message_bytes(n)) / n
    assert stats["wire"] / n - payload < 2000 / n + 16  # only the handshake and frame headers on top


@pytest.mark.parametrize("n", [128, 1024])
def test_simplest_ot_baseline(benchmark, n):
    simplest = pytest.importorskip("pqmpc.ot.base.simplest")
    stats = {}
    choices, go = _batch(simplest.SimplestOT(), n, stats)
    (m0, m1), mb = benchmark(go)
    assert np.array_equal(mb, np.where(choices[:, None] == 1, m1, m0))
    benchmark.extra_info["bytes_per_ot"] = stats["wire"] / n
