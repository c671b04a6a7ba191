"""Garbling throughput (AND gates per second) next to raw AES-ECB from the same run.

Circuits: (a) a wide random circuit of about 10^6 AND gates (window of 2^16 recent
wires, so levels hold thousands of independent ANDs), (b) the builder-made AES-128
(6,400 ANDs, AND-depth 60), (c) a deep chain of 64-bit ripple-carry additions
(rotated between additions so the AND-depth grows by ~63 per addition: the narrow
worst case). Each figure carries ``ratio_to_aes_ecb`` = AND/s divided by AES
blocks/s; half-gates with the GKWY hash costs 8 AES calls per garbled AND and 4 per
evaluated AND, so 0.125 / 0.25 would be the AES-bound ceiling. The kappa = 256 rows
use 32-byte labels and the AES-256 wide hash (one key schedule and two 14-round
encryptions per hash), 64 bytes per AND. The three-halves rows (Rosulek–Roy) cost
12 AES calls per garbled AND and 6 per evaluated AND for 197 bits per AND. The
``_reused`` rows garble AES-128 many times under one Δ into one table buffer: the
steady state of a batched Yao run, with the per-call set-up that one-shot rows hide.
"""

from __future__ import annotations

import numpy as np

from ...gc.aes128 import aes128_circuit
from ...gc.build import CircuitBuilder
from ...gc.evaluate import Evaluator, evaluate_garbled
from ...gc.garble import Delta, Garbler, garble
from ...gc.halfgates import resolve_backend
from ...gc.random_circuit import random_circuit
from ...rng import Rng
from ..timing import aes_ecb_baseline, measure, rate


def adder_chain(n_adds: int, width: int = 64):
    b = CircuitBuilder()
    x, y = b.input(width), b.input(width)
    acc = x
    for _ in range(n_adds):
        s = acc + y
        # rotate so the next carry chain starts at the deepest bit: depth grows ~width per add
        acc = b.concat(s[width - 1:], s[:width - 1])
    b.output(acc)
    return b.build()


def _circuits(quick: bool):
    yield "wide_random", random_circuit([1024, 1024], 220_000 if quick else 2_200_000, 128, seed=1,
                                        p_and=0.5, p_unary=0.05, window=1 << 16)
    yield "aes128_builder", aes128_circuit()
    yield "adder64_chain", adder_chain(64 if quick else 512)


def run(quick: bool = False) -> list[dict]:
    rep = 3 if quick else 7
    base = aes_ecb_baseline(1 << 20, rep)
    out = [base]
    aes_rate = base["blocks_per_s"]
    rng = Rng(b"bench/gc")
    # (backend, kappa, scheme): half-gates at κ = 128 on both backends and in the 256-bit
    # "doubled key" mode; three-halves (κ = 128 only) for its speed/size trade-off
    variants = [("auto", 128, "halfgates"), ("auto", 256, "halfgates"), ("auto", 128, "threehalves")] if quick \
        else [("auto", 128, "halfgates"), ("levels", 128, "halfgates"), ("auto", 256, "halfgates"),
              ("auto", 128, "threehalves"), ("levels", 128, "threehalves")]
    for name, c in _circuits(quick):
        _ = c.schedule  # one-time per circuit, not part of garbling
        ins = [rng.bits(n) for n in c.input_sizes]
        want = c.evaluate(ins)
        for backend, kappa, scheme in variants:
            state = {}

            def do_garble():
                state["g"], state["e"] = garble(c, rng=rng, backend=backend, kappa=kappa, scheme=scheme)

            def do_eval():
                state["out"] = evaluate_garbled(state["g"], state["labels"], backend=backend)

            g_res = rate(measure(do_garble, rep), c.and_count, "and_per_s")
            state["labels"] = state["e"].encode(ins)
            e_res = rate(measure(do_eval, rep), c.and_count, "and_per_s")
            got = state["g"].decode(state["out"])
            if not all(np.array_equal(a, b) for a, b in zip(got, want)):
                raise AssertionError(f"garbled {name} disagrees with plain evaluation")
            be = resolve_backend(backend) if kappa == 128 else "wide"
            common = dict(circuit=name, backend=be, kappa=kappa, scheme=scheme, and_gates=c.and_count,
                          gates=c.n_gates, and_depth=c.depth,
                          bytes_per_and=state["g"].table_bytes / max(c.and_count, 1))
            suffix = "" if scheme == "halfgates" else f"_{scheme}"
            for what, res in (("garble", g_res), ("evaluate", e_res)):
                res.update(name=f"gc_{what}_{name}_{be}_k{kappa}{suffix}", **common,
                           ratio_to_aes_ecb=res["and_per_s"] / aes_rate)
                out.append(res)
    out.extend(many_instances(aes_rate, quick))
    phases = kernel_phases(reps=100 if quick else 400)
    if phases:
        out.append({"name": "gc_phases_aes128_builder", **phases})
    return out


def many_instances(aes_rate: float, quick: bool = False, count: int | None = None) -> list[dict]:
    """Steady state: AES-128 garbled ``count`` times under one Δ into one reused table buffer
    (the shape of a batched Yao run, and of emp-tool's garbling test), then evaluated
    likewise; AND/s over the whole loop, per-call set-up included."""
    c = aes128_circuit()
    _ = c.schedule
    count = count or (100 if quick else 1000)
    rng = Rng(b"bench/gc/many")
    zero = rng.blocks(c.n_inputs, 16)
    tables = np.empty((count, c.and_count, 32), np.uint8)
    outs = np.empty((c.n_outputs, 16), np.uint8)
    d = Delta(rng=rng)
    base = {}

    def do_garble():
        for i in range(count):
            g = Garbler(c, delta=d, input_labels=zero)
            g.garble_into(tables[i])
        base["tb"], base["g"] = g.tweak_base - count + 1, g

    def do_eval():
        for i in range(count):
            ev = Evaluator(c, zero, tweak_base=base["tb"] + i)
            ev.feed(tables[i])
            ev.finish(flat=True, out=outs)

    g_res = rate(measure(do_garble, 3 if quick else 5), c.and_count * count, "and_per_s")
    e_res = rate(measure(do_eval, 3 if quick else 5), c.and_count * count, "and_per_s")
    # the last instance on all-zero inputs: each output label is its zero-label ⊕ value·Δ
    want = np.concatenate(c.evaluate([np.zeros(n, np.uint8) for n in c.input_sizes]))
    if not np.array_equal(outs, base["g"].output_zero_labels(flat=True) ^ (want[:, None] * d.value)):
        raise AssertionError("garbled AES-128 (reused buffers) disagrees with plain evaluation")
    res = []
    for what, r in (("garble", g_res), ("evaluate", e_res)):
        r.update(name=f"gc_{what}_aes128_x{count}_reused", circuit="aes128_builder", instances=count,
                 and_gates=c.and_count * count, kappa=128, scheme="halfgates", backend=resolve_backend("auto"),
                 ratio_to_aes_ecb=r["and_per_s"] / aes_rate)
        res.append(r)
    return res


def kernel_phases(circuit=None, reps: int = 400) -> dict:
    """Where garbling time goes on one circuit (default: AES-128), in µs, minimum of ``reps``
    calls (a minimum is robust to other jobs on a shared machine): the κ = 128 walk the CPU
    runs, the same walk with every AND turned into a free gate (the free-gate share; the rest
    is AND hashing and table writes), and the public API around it (``Garbler`` +
    ``garble_into`` into one reused buffer; ``Evaluator`` + ``feed`` + ``finish(out=)``)."""
    import time

    from ...gc import halfgates as hg

    c = circuit if circuit is not None else aes128_circuit()
    s = c.schedule
    walk = hg.fused_walk() if hg.HAVE_AESNI else None
    if walk is None:
        return {}
    rng = Rng(b"bench/gc/phases")
    rk = hg.round_keys()
    lab = hg.new_label_table(c.n_wires)
    lab[:c.n_inputs] = rng.blocks(c.n_inputs, 16).view(np.uint64).reshape(-1, 2)
    tab = np.empty((c.and_count, 4), np.uint64)
    d0, d1, hi = np.uint64(0x9E3779B97F4A7C15), np.uint64(0x1234), np.uint64(5)
    free = s.gates.copy()
    free[free[:, 3] & 3 == 2, 3] = 0

    def best(f):
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
        return min(ts) * 1e6

    zero = rng.blocks(c.n_inputs, 16)
    buf = np.empty((c.and_count, 32), np.uint8)
    outs = np.empty((c.n_outputs, 16), np.uint8)
    d = Delta(rng=rng)

    def api_eval():
        ev = Evaluator(c, zero)
        ev.feed(buf)
        ev.finish(flat=True, out=outs)

    return {"walk": walk.__name__, "and_gates": c.and_count, "free_gates": c.n_gates - c.and_count,
            "garble_us": best(lambda: walk.garble_range(rk, s.gates, 0, s.n_gates, 0, hi, lab, d0, d1, tab)),
            "garble_free_gates_us": best(lambda: walk.garble_range(rk, free, 0, s.n_gates, 0, hi, lab, d0, d1,
                                                                   tab)),
            "evaluate_us": best(lambda: walk.evaluate_range(rk, s.gates, 0, s.n_gates, 0, hi, lab, tab)),
            "evaluate_free_gates_us": best(lambda: walk.evaluate_range(rk, free, 0, s.n_gates, 0, hi, lab, tab)),
            "api_garble_us": best(lambda: Garbler(c, delta=d, input_labels=zero).garble_into(buf)),
            "api_evaluate_us": best(api_eval)}
