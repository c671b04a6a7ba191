"""Do before a peer connects what the first Yao run of a process would otherwise do after.

A fresh process pays, on its first protocol call, for loading every numba kernel it
touches from the on-disk cache (numba's own start-up, ~0.4 s here, then a few ms per
kernel), for the circuit's AND-depth schedule and for first-touch memory. None of it
depends on the peer, so a party can pay it while it waits: a listener before
``accept``, a command line before it connects. :func:`prepare` runs one tiny Yao
session (a single AND gate) between two threads of this process over an in-memory
channel, with the same OT kind, security level, garbling scheme and backend as the
real run, and computes the schedule of ``circuit``. Every kernel of both roles is then
loaded, and the real session starts at steady-state speed.

The warm-up session uses fresh throwaway randomness and a private channel; it shares
no state (keys, Δ, OT sessions) with later runs.
"""

from __future__ import annotations

import time

import numpy as np

from pqmpc.gc import Circuit, CircuitBuilder
from pqmpc.net import MemoryChannel, run_pair
from pqmpc.rng import Rng

from .yao import yao_evaluator, yao_garbler
from .yao_setup import check_common

__all__ = ["prepare"]

_DONE: set[tuple] = set()


def _one_and() -> Circuit:
    b = CircuitBuilder()
    x, y = b.input(1), b.input(1)
    b.output(x & y)
    return b.build()


def prepare(circuit: Circuit | None = None, *, ot="iknp", kappa: int = 128, scheme: str = "halfgates",
            backend: str = "auto", timeout: float = 120.0) -> dict:
    """Load what a Yao run with these settings needs; returns ``{"seconds": ..., "warmed": bool}``.

    ``circuit``: also build its schedule (deep circuits take a few ms per 10^5 gates).
    ``ot``, ``kappa``, ``scheme``, ``backend``: as for :func:`pqmpc.twopc.yao_garbler`;
    an OT object is used as given. The warm-up session runs once per process and
    setting; later calls only build schedules.
    """
    t0 = time.perf_counter()
    tiny = _one_and()
    check_common(tiny, "both", 1, ot, kappa)
    if circuit is not None:
        check_common(circuit, "both", 1, ot, kappa)
        _ = circuit.schedule
    key = (ot if isinstance(ot, str) else id(ot), kappa, scheme, backend)
    warmed = key not in _DONE
    if warmed:
        kw = dict(ot=ot, kappa=kappa, scheme=scheme, backend=backend)
        g, e = run_pair(lambda ch: yao_garbler(ch, tiny, [np.ones(1, np.uint8)], Rng(), **kw),
                        lambda ch: yao_evaluator(ch, tiny, [np.ones(1, np.uint8)], Rng(), **kw),
                        timeout=timeout, channels=MemoryChannel.pair(timeout=timeout))
        if int(g[0][0]) != 1 or int(e[0][0]) != 1:
            raise RuntimeError("internal: the warm-up session computed a wrong AND")
        _DONE.add(key)
    return {"seconds": time.perf_counter() - t0, "warmed": warmed}
