"""Every OT extension in both modes over unlimited and shaped links, in one run (issue 15).

Rows: IKNP, KOS, SoftSpoken k = 2, 4, 8 (semi-honest and malicious), Ferret
(both modes) at κ = 128, and IKNP / KOS / SoftSpoken k = 4 at κ = 256, each
over a memory channel (both parties as threads: the compute-bound figure) and
over :class:`~pqmpc.net.shaped.ShapedChannel` links (``LAN1G``: 1 Gbit/s,
0.5 ms one way; optionally ``LAN10G``, ``WAN100M``), and optionally ``TCP``:
unshaped TCP over 127.0.0.1 (the kernel's copies, no bandwidth limit); plus PSI (RR22 in both
modes, KKRT semi-honest) over the same links via :func:`psi_on_link`.

Method: per link, one channel pair carries every protocol's session (base OTs
and a full-size warm-up call first, untimed); then ``reps`` rounds, each
running one random-OT call of ``n`` OTs per protocol in turn, so load swings
on a shared machine hit every protocol alike and ratios are same-run,
interleaved (A B A B). A call's time runs from when the later party enters it
to when the later party leaves it (both threads read one clock), so a party's wait
for the peer to finish the previous protocol is not charged to the next one;
``cpu_ms`` is the busier party's thread CPU time (the steadiest figure on a loaded machine).
``bits_per_ot``: all bytes both ways (frame headers included) over n.
``vs_iknp``: rate over IKNP's on the same link and κ; ``mal_overhead``:
malicious time over the same protocol's semi-honest time (median of the
per-round ratios, and CPU); ``vs_kappa128``: κ = 256 time over κ = 128 (κ = 256
sessions run in the same rounds as the κ = 128 ones).

``python -m pqmpc.bench.suites.ot_ext_links [--quick] [--links memory,LAN1G] [--n 20] [--reps 5]``
prints one JSON row per line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np

from ...net import MemoryChannel, TcpChannel, run_pair
from ...net.shaped import PRESETS, ShapedChannel
from ...rng import Rng

__all__ = ["protocols", "measure_link", "psi_on_link", "run", "summarise"]

#: (malicious name, semi-honest name) pairs whose ratio is the malicious overhead
PAIRS = {"KOS": "IKNP", "Ferret-mal": "Ferret",
         **{f"SoftSpoken-k{k}-mal": f"SoftSpoken-k{k}-sh" for k in (2, 4, 8)}}


def protocols(kappa: int = 128, only: tuple[str, ...] = ()) -> dict:
    """Factories of the extensions benchmarked at ``kappa`` (default base OTs: ML-KEM, post-quantum)."""
    from ...ot.ext.ferret import Ferret
    from ...ot.ext.iknp import IKNP
    from ...ot.ext.kos import KOS
    from ...ot.ext.softspoken import SoftSpoken

    out = {"IKNP": lambda: IKNP(kappa=kappa), "KOS": lambda: KOS(kappa=kappa)}
    for k in ((2, 4, 8) if kappa == 128 else (4,)):
        for sec, tag in (("semi-honest", "sh"), ("malicious", "mal")):
            out[f"SoftSpoken-k{k}-{tag}"] = lambda k=k, sec=sec: SoftSpoken(k=k, security=sec, kappa=kappa)
    if kappa == 128:
        out["Ferret"] = lambda: Ferret()
        out["Ferret-mal"] = lambda: Ferret(security="malicious")
    if only:
        out = {name: make for name, make in out.items() if name in only}
    return out


def _channels(link: str):
    if link == "memory":
        return MemoryChannel.pair(timeout=600)
    if link == "TCP":  # loopback TCP, no shaping: the kernel's copies without a network's limits
        return TcpChannel.loopback_pair(timeout=600)
    return ShapedChannel.pair(PRESETS[link], timeout=600)


def measure_link(link: str, makers: dict, n: int, reps: int) -> dict:
    """``{name: {"wall": [...], "cpu": [...], "bytes": per-call bytes both ways}}`` over one link."""
    ots = {name: make() for name, make in makers.items()}
    choices = Rng(b"bench/links/choices").bits(n)

    def party(role: str):
        def body(ch):
            rng = Rng(f"bench/links/{role}".encode())
            for name, ot in ots.items():  # warm-up: base OTs, kernels compiled, Ferret's first round, pages
                r = rng.fork(repr(name))
                if hasattr(ot, "setup"):
                    ot.setup(ch, role, r)
                ot.send_random(ch, n, rng=r) if role == "sender" else ot.receive_random(ch, choices, rng=r)
            # Results go into caller arrays reused across calls (the documented steady path): the
            # ratios then compare protocol work, not how the allocator hands out fresh result pages,
            # which depends on the call order and on the array sizes (glibc's 32 MiB mmap threshold).
            outs = {name: ((np.empty((n, ot.block_bytes), np.uint8), np.empty((n, ot.block_bytes), np.uint8))
                           if role == "sender" else np.empty((n, ot.block_bytes), np.uint8))
                    for name, ot in ots.items()}
            call = {name: ((lambda ot=ot, o=outs[name]: ot.send_random(ch, n, out=o)) if role == "sender"
                           else (lambda ot=ot, o=outs[name]: ot.receive_random(ch, choices, out=o)))
                    for name, ot in ots.items()}
            res = {name: {"span": [], "cpu": [], "sent": 0} for name in ots}
            names = list(call)
            for rep in range(reps):
                # The order rotates: the first call of a round gets memory its predecessors freed and
                # the allocator may have handed back (fresh pages), which must not always be one protocol's.
                for name in names[rep % len(names):] + names[:rep % len(names)]:
                    f = call[name]
                    before = ch.stats.snapshot()
                    t0, c0 = time.perf_counter(), time.thread_time()
                    f()
                    res[name]["span"].append((t0, time.perf_counter()))
                    res[name]["cpu"].append(time.thread_time() - c0)
                    res[name]["sent"] += ch.stats.since(before).bytes_sent
            return res
        return body

    s, r = run_pair(party("sender"), party("receiver"), channels=_channels(link), timeout=3600)
    # A call runs from the moment the later party enters it until the later party leaves it: a party
    # that left the previous call early (a receiver whose last chunks sit in the link's buffer) waits
    # at the start of the next one, and that wait belongs to the previous call, not to this one.
    return {name: {"wall": [max(a[1], b[1]) - max(a[0], b[0]) for a, b in zip(s[name]["span"], r[name]["span"])],
                   "cpu": [max(a, b) for a, b in zip(s[name]["cpu"], r[name]["cpu"])],
                   "bytes": (s[name]["sent"] + r[name]["sent"]) / reps} for name in ots}


def summarise(link: str, kappa: int, n: int, got: dict) -> list[dict]:
    rows = {}
    for name, g in got.items():
        wall, cpu = statistics.median(g["wall"]), statistics.median(g["cpu"])
        rows[name] = {"suite": "ot_ext_links", "name": f"{name}_k{kappa}_{link}", "protocol": name, "link": link,
                      "kappa": kappa, "n": n, "seconds_median": wall, "seconds_min": min(g["wall"]),
                      "mots": n / wall / 1e6, "best_mots": n / min(g["wall"]) / 1e6, "cpu_ms": 1e3 * cpu,
                      "cpu_ms_min": 1e3 * min(g["cpu"]),
                      "bits_per_ot": 8 * g["bytes"] / n, "repeat": len(g["wall"])}
    iknp = rows.get("IKNP")
    for name, row in rows.items():
        if iknp is not None:
            row["vs_iknp"] = iknp["seconds_median"] / row["seconds_median"]
            row["cpu_vs_iknp"] = row["cpu_ms"] / iknp["cpu_ms"]
        sh = rows.get(PAIRS.get(name, ""))
        if sh is not None:
            # per repetition, A and B of the same round: the pairwise ratio's median
            ratios = [a / b for a, b in zip(got[name]["wall"], got[PAIRS[name]]["wall"])]
            row["mal_overhead"] = statistics.median(ratios)
            row["mal_overhead_cpu"] = row["cpu_ms"] / sh["cpu_ms"]
    return list(rows.values())


def psi_on_link(link: str, n: int, protocol: str = "rr22", malicious: bool = False) -> dict:
    """One PSI of ``n`` items per side (half shared) over ``link`` (``"memory"``, ``"TCP"`` or a
    :data:`~pqmpc.net.shaped.PRESETS` name): seconds, bytes both ways, intersection size.
    For the PSI suite: the same items and protocol call as its thread runs, shaped."""
    from ...psi import run_protocol

    a = [b"item-%d" % i for i in range(n)]
    b = [b"item-%d" % i for i in range(n // 2, n // 2 + n)]
    t0 = time.perf_counter()
    rs, rr = run_pair(lambda ch: run_protocol(protocol, "sender", ch, a, malicious=malicious),
                      lambda ch: run_protocol(protocol, "receiver", ch, b, malicious=malicious),
                      channels=_channels(link), timeout=3600)
    seconds = time.perf_counter() - t0
    if rr.intersection != n - n // 2:
        raise AssertionError(f"PSI over {link} gave a wrong intersection size {rr.intersection}")
    return {"seconds": seconds, "bytes": rs.bytes_sent + rr.bytes_sent, "intersection": rr.intersection}


#: the PSI runs: RR22 in both modes, KKRT (semi-honest only by design)
PSI_RUNS = (("rr22", False), ("rr22", True), ("kkrt", False))


def _psi_rows(links, n: int) -> list[dict]:
    for protocol, mal in PSI_RUNS:  # untimed: kernels compiled and loaded before the first timed run
        psi_on_link("memory", 256, protocol, mal)
    out = []
    for link in links:
        for protocol, mal in PSI_RUNS:
            r = psi_on_link(link, n, protocol, mal)
            out.append({"suite": "ot_ext_links", "name": f"psi_{protocol}{'_mal' if mal else ''}_{link}",
                        "link": link, "n": n, "seconds": r["seconds"], "items_per_s": n / r["seconds"],
                        "bytes_per_item": r["bytes"] / n})
    return out


def run(quick: bool = False, links: tuple[str, ...] | None = None, log_n: int | None = None,
        reps: int | None = None, only: tuple[str, ...] = (), psi: bool = True) -> list[dict]:
    links = links or (("memory", "LAN1G") if quick else ("memory", "LAN1G", "WAN100M"))
    reps = reps or (3 if quick else 5)
    out = []
    for link in links:
        # WAN: 2^20 IKNP OTs are 1.3 s on the wire alone; a smaller n keeps the run short
        n = 1 << (log_n or (16 if quick else (18 if link == "WAN100M" else 20)))
        # κ = 128 and 256 in the same rounds, so their ratio is interleaved too
        makers = {(kappa, name): make for kappa in (128, 256) for name, make in protocols(kappa, only).items()}
        got = measure_link(link, makers, n, reps)
        by_kappa = {kappa: {r["protocol"]: r for r in summarise(
            link, kappa, n, {name: g for (kp, name), g in got.items() if kp == kappa})} for kappa in (128, 256)}
        for name, row in by_kappa[256].items():
            if name in by_kappa[128]:
                ratios = [a / b for a, b in zip(got[256, name]["wall"], got[128, name]["wall"])]
                row["vs_kappa128"] = statistics.median(ratios)
                row["cpu_vs_kappa128"] = row["cpu_ms"] / by_kappa[128][name]["cpu_ms"]
        for rows in by_kappa.values():
            out.extend(rows.values())
    if psi:
        out.extend(_psi_rows(links[:2], 1 << (12 if quick else 16)))
    return out


#: The protocols of issue 15's three goals (both κ): KOS over IKNP and SoftSpoken k = 4 malicious over
#: semi-honest (≤ 1.15), SoftSpoken k = 4 over IKNP on LAN1G (≥ 3), κ = 256 over κ = 128 (≤ 2.2).
GOAL_PROTOCOLS = ("IKNP", "KOS", "SoftSpoken-k4-sh", "SoftSpoken-k4-mal")


#: the goal run's links: unlimited (memory channel, unshaped loopback TCP) and the shaped 1 Gbit/s one
GOAL_LINKS = ("memory", "TCP", "LAN1G")


def goals(reps: int = 21, log_n: int = 20) -> list[dict]:
    """Issue 15's goal ratios from one interleaved run per link of :data:`GOAL_LINKS` (2^log_n random
    OTs per call): one row per ratio, with wall (median of per-round ratios) and CPU (ratio of the
    busier party's median thread CPU)."""
    rows = {(r["link"], r["kappa"], r["protocol"]): r
            for r in run(links=GOAL_LINKS, log_n=log_n, reps=reps, only=GOAL_PROTOCOLS, psi=False)}
    out = []
    for link in GOAL_LINKS:
        for kappa in (128, 256):
            for name in ("KOS", "SoftSpoken-k4-mal"):
                r = rows[link, kappa, name]
                out.append({"goal": "a: malicious / semi-honest <= 1.15", "link": link, "kappa": kappa,
                            "ratio": f"{name} / {PAIRS[name]}", "wall": r["mal_overhead"],
                            "cpu": r["mal_overhead_cpu"]})
    for link in GOAL_LINKS:
        for kappa in (128, 256):
            r = rows[link, kappa, "SoftSpoken-k4-sh"]
            out.append({"goal": f"b: SoftSpoken k=4 rate / IKNP rate >= {3 if link == 'LAN1G' else 1}",
                        "link": link, "kappa": kappa, "ratio": "SoftSpoken-k4-sh / IKNP", "wall": r["vs_iknp"],
                        "cpu": 1 / r["cpu_vs_iknp"]})
    for link in GOAL_LINKS:
        for name in GOAL_PROTOCOLS:
            r = rows[link, 256, name]
            out.append({"goal": "c: kappa 256 time / kappa 128 time <= 2.2", "link": link, "kappa": 256,
                        "ratio": f"{name} k256 / k128", "wall": r["vs_kappa128"], "cpu": r["cpu_vs_kappa128"]})
    return out


def _print_goals(reps: int, log_n: int) -> None:
    t0 = time.perf_counter()
    got = goals(reps, log_n)
    print(f"issue 15 goals: 2^{log_n} random OTs per call, {reps} interleaved rounds, same run "
          "(wall: median of per-round ratios; cpu: busier party's thread CPU; b's cpu column is IKNP cpu / SoftSpoken cpu)")
    print(f"{'goal':44} {'link':7} {'kappa':>5}  {'ratio':34} {'wall':>6} {'cpu':>6}")
    for g in got:
        print(f"{g['goal']:44} {g['link']:7} {g['kappa']:5}  {g['ratio']:34} {g['wall']:6.2f} {g['cpu']:6.2f}")
    print(f"({time.perf_counter() - t0:.0f} s)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--links", default=None, help="comma-separated: memory, TCP, " + ", ".join(PRESETS))
    ap.add_argument("--n", type=int, default=None, help="log2 of OTs per call")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--only", default="", help="comma-separated protocol names (e.g. IKNP,KOS)")
    ap.add_argument("--no-psi", action="store_true")
    ap.add_argument("--goals", action="store_true",
                    help="print issue 15's goal ratios only (memory, TCP and LAN1G; IKNP/KOS/SoftSpoken k=4, both κ)")
    args = ap.parse_args(argv)
    if args.goals:
        _print_goals(args.reps or 21, args.n or 20)
        return 0
    links = tuple(args.links.split(",")) if args.links else None
    only = tuple(x for x in args.only.split(",") if x)
    for row in run(args.quick, links, args.n, args.reps, only, psi=not args.no_psi):
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
