"""pytest-benchmark suite for KKRT and RR22 PSI, next to raw AES-ECB measured in the same session.

Run with ``pytest bench/test_psi.py --benchmark-enable`` (2^12 and 2^16 items
per side in two threads; ``-m slow`` adds 2^20 and the two-process loopback
runs). The full comparison with phases, 2^22 and the OpenMined peer is
``pqmpc bench psi`` (:mod:`pqmpc.bench.suites.psi`). ``extra_info`` holds bytes per direction, bits per item, the per-phase
seconds of the last round and ``aes_blocks_per_item``: the median per-item
time in units of raw AES-128-ECB block encryptions measured right before.
"""

import pytest

from pqmpc.bench.suites import psi as suite
from pqmpc.bench.timing import aes_ecb_baseline


def _record(benchmark, n, last):
    if benchmark.stats is None:   # --benchmark-disable (the project default): the run was a smoke test
        return
    base = aes_ecb_baseline(1 << 20, 5)["blocks_per_s"]
    med = benchmark.stats.stats.median
    benchmark.extra_info.update({
        "n": n, "seconds_median": med, "aes_blocks_per_item": med * base / n,
        "bytes_sender_to_receiver": last["sender"]["bytes_sent"],
        "bytes_receiver_to_sender": last["receiver"]["bytes_sent"],
        "bits_per_item": 8 * (last["sender"]["bytes_sent"] + last["receiver"]["bytes_sent"]) / n,
        "phases_sender": last["sender"]["phases"], "phases_receiver": last["receiver"]["phases"]})


@pytest.mark.parametrize("logn", [12, 16])
def test_kkrt_threads(benchmark, logn):
    n = 1 << logn
    suite.run_threads(1 << 10)  # warm caches
    last = {}
    benchmark.pedantic(lambda: last.update(suite.run_threads(n)), rounds=3, warmup_rounds=0)
    _record(benchmark, n, last)


@pytest.mark.parametrize("malicious", [False, True], ids=["semi-honest", "malicious"])
@pytest.mark.parametrize("logn", [12, 16])
def test_rr22_threads(benchmark, logn, malicious):
    n = 1 << logn
    suite.run_threads(1 << 10, protocol="rr22", malicious=malicious)  # warm caches
    last = {}
    benchmark.pedantic(lambda: last.update(suite.run_threads(n, protocol="rr22", malicious=malicious)),
                       rounds=3, warmup_rounds=0)
    _record(benchmark, n, last)


@pytest.mark.slow
@pytest.mark.parametrize("malicious", [False, True], ids=["semi-honest", "malicious"])
def test_rr22_threads_2_20(benchmark, malicious):
    n = 1 << 20
    suite.run_threads(1 << 10, protocol="rr22", malicious=malicious)
    last = {}
    benchmark.pedantic(lambda: last.update(suite.run_threads(n, protocol="rr22", malicious=malicious)),
                       rounds=3, warmup_rounds=0)
    _record(benchmark, n, last)


@pytest.mark.slow
def test_kkrt_threads_2_20(benchmark):
    n = 1 << 20
    suite.run_threads(1 << 10)
    last = {}
    benchmark.pedantic(lambda: last.update(suite.run_threads(n)), rounds=3, warmup_rounds=0)
    _record(benchmark, n, last)


@pytest.mark.slow
@pytest.mark.parametrize("logn", [16, 20])
def test_kkrt_two_processes(benchmark, logn):
    n = 1 << logn
    last = {}
    benchmark.pedantic(lambda: last.update(suite.run_processes(n)), rounds=3, warmup_rounds=0)
    _record(benchmark, n, last)
    benchmark.extra_info["protocol_seconds_slower_party"] = last["seconds"]


@pytest.mark.slow
def test_openmined_peer(benchmark):
    pytest.importorskip("private_set_intersection.python")
    n = 1 << 12
    benchmark.pedantic(lambda: suite.openmined(n), rounds=3, warmup_rounds=0)
    benchmark.extra_info.update({"n": n, "note": "classical ECDH-PSI, one process, for the same-run ratio"})
