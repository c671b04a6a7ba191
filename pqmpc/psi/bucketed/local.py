"""The local engine: N bucket sessions at once in forked worker processes, one secure connection each.

Worker processes are forked (Linux, macOS), so each inherits the run context,
the listening socket (the listening side's workers all ``accept()`` on the one
port, the kernel hands each the next connection) and the numba kernels already
loaded. A worker reports each finished bucket to the parent, which alone writes
the manifest. A worker dies with its parent (``PR_SET_PDEATHSIG`` on Linux), so
a killed run leaves no worker writing into the run directory behind it. With one
worker the sessions run in the calling process.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import pickle
import queue
import signal
import sys

from ...errors import PqmpcError, ProtocolError
from ...util import interrupt
from .sessions import dial_loop, listen_loop

__all__ = ["run_local"]


def run_local(ctx, dials: bool, open_channel, workers: int, on_result, control=None) -> None:
    """Run every bucket of ``ctx.todo``; ``on_result(b, sha, stats)`` in this process after each.
    (``control``, the control connection, is not needed here: workers dial or accept on their own.)"""
    todo = sorted(ctx.todo)
    n = min(workers, len(todo))
    if n <= 0:
        return
    if n == 1:
        it = iter(todo)
        if dials:
            dial_loop(ctx, open_channel, lambda: next(it, None), on_result)
        else:
            listen_loop(ctx, open_channel, on_result)
        return
    _warm(ctx)
    mp = multiprocessing.get_context("fork")
    results = mp.Queue()
    jobs = mp.Queue()
    if dials:
        for b in todo:
            jobs.put(b)
        for _ in range(n):
            jobs.put(None)
    procs = [mp.Process(target=_worker, args=(ctx, dials, open_channel, jobs, results), daemon=True,
                        name=f"pqmpc-bucket-worker-{i}") for i in range(n)]

    def stop():
        for p in procs:
            if p.pid is not None and p.is_alive():
                p.kill()

    with interrupt.on_interrupt(stop):
        # Objects the collector never touches again are not copied into every worker page by page
        # when the children run a collection (copy-on-write faults cost on these VMs).
        gc.collect()
        gc.freeze()
        try:
            for p in procs:
                p.start()
            exited = 0
            while exited < n:
                msg = _next(results, procs)
                if msg[0] == "done":
                    on_result(*msg[1:])
                elif msg[0] == "exit":
                    exited += 1
                else:
                    raise msg[1]
        finally:
            gc.unfreeze()
            stop()
            for p in procs:
                if p.pid is not None:
                    p.join(5)


def _warm(ctx) -> None:
    """Load the protocol's compiled kernels once, here, so that the forked workers inherit them instead
    of each loading them again from the numba cache (about a second per process, more under load)."""
    from ...net import run_pair
    from ..protocols import run_protocol

    kw = {k: v for k, v in ctx.psi_kw.items() if k in ("kappa",)}
    items = ["pqmpc-warm-up-1", "pqmpc-warm-up-2"]
    with contextlib.suppress(PqmpcError):
        run_pair(lambda ch: run_protocol(ctx.protocol, "sender", ch, items, malicious=ctx.malicious,
                                         reveal_to_sender=ctx.reveal_to_sender, **kw),
                 lambda ch: run_protocol(ctx.protocol, "receiver", ch, items, malicious=ctx.malicious,
                                         reveal_to_sender=ctx.reveal_to_sender, **kw), timeout=120)


def _next(results, procs):
    """The next worker message; a worker that died without one becomes an error message."""
    while True:
        try:
            return results.get(timeout=0.2)
        except queue.Empty:
            pass
        dead = [p for p in procs if p.exitcode not in (None, 0)]
        if dead:
            # Its error message may still be on its way through the queue's pipe.
            with contextlib.suppress(queue.Empty):
                return results.get(timeout=1.0)
            return ("error", PqmpcError(f"bucket worker {dead[0].name} ended (exit code {dead[0].exitcode})"))


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def _worker(ctx, dials, open_channel, jobs, results) -> None:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; Ctrl-C reaches the whole group

    def report(b, sha, stats):
        results.put(("done", b, sha, stats))

    try:
        if dials:
            dial_loop(ctx, open_channel, jobs.get, report)
        else:
            listen_loop(ctx, open_channel, report)
        results.put(("exit",))
    except BaseException as exc:  # everything goes to the parent, which raises it
        try:
            pickle.dumps(exc)
        except Exception:
            exc = ProtocolError(f"{type(exc).__name__}: {exc}")
        results.put(("error", exc))
        results.close()
        results.join_thread()
        sys.exit(1)
