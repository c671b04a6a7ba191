"""The one-run OT-extension suite over memory and shaped links (``pqmpc bench ot_ext``): a small
run of every row, checked for what the figures must be whatever the machine's speed (wire bytes
per OT, the ratios present). ``python -m pqmpc.bench.suites.ot_ext_links`` gives the real figures."""

from pqmpc.bench.suites import ot_ext_links as suite


def test_every_protocol_both_modes_over_memory_and_lan1g():
    rows = suite.run(links=("memory", "LAN1G"), log_n=12, reps=1, psi=False)
    by = {(r["link"], r["kappa"], r["protocol"]): r for r in rows}
    for link in ("memory", "LAN1G"):
        for name in suite.protocols(128):
            assert (link, 128, name) in by
        for name in suite.protocols(256):
            assert "vs_kappa128" in by[(link, 256, name)]
        # wire per OT: κ/k bits plus the per-call headers (and, malicious, the padding rows)
        for k in (2, 4, 8):
            assert 128 / k <= by[(link, 128, f"SoftSpoken-k{k}-sh")]["bits_per_ot"] < 128 / k + 1
            assert "mal_overhead" in by[(link, 128, f"SoftSpoken-k{k}-mal")]
        assert 128 <= by[(link, 128, "IKNP")]["bits_per_ot"] < 129
        assert 256 <= by[(link, 256, "IKNP")]["bits_per_ot"] < 257
        # Ferret: ~1.2 bits/OT at scale; at 2^12 per call its headers still weigh, but far below IKNP
        assert by[(link, 128, "Ferret")]["bits_per_ot"] < by[(link, 128, "SoftSpoken-k8-sh")]["bits_per_ot"]


def test_psi_over_a_shaped_link():
    r = suite.psi_on_link("LAN1G", 300, "rr22", True)
    assert r["intersection"] == 150 and r["bytes"] > 0


def test_unshaped_loopback_tcp_link():
    rows = suite.run(links=("TCP",), log_n=12, reps=1, only=("IKNP", "SoftSpoken-k4-sh"), psi=False)
    by = {(r["kappa"], r["protocol"]): r for r in rows}
    assert 128 <= by[128, "IKNP"]["bits_per_ot"] < 129 and 32 <= by[128, "SoftSpoken-k4-sh"]["bits_per_ot"] < 33
    assert "vs_iknp" in by[256, "SoftSpoken-k4-sh"]
