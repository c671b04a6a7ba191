"""Ending a command-line run on Ctrl-C (SIGINT) or SIGTERM at any moment, cleanly.

Raising ``KeyboardInterrupt`` wherever the main thread happens to be is not safe here:
inside numba's dispatcher (while it loads cached kernels) it was swallowed (the run went
on and exited 0), turned into ``SystemError: CPUDispatcher(...) returned a result with an
exception set``, or crashed the process. So :func:`run_interruptible` runs the work in a
worker thread while the main thread only waits. On a signal the main thread runs the
registered stop actions (stop child processes), removes every file the run registered
(temporary files and outputs it wrote), prints one line and ends the process with
``os._exit(128 + signal)`` -- 130 for Ctrl-C -- without an interpreter shutdown that would
wait for, or tear down, a thread inside a numba kernel. The network connection closes with
the process, so the peer stops at its next receive with "peer closed the connection".

Only the command line uses this; in a library call (or off the main thread) nothing
changes: the registries are sets that :func:`abort` alone reads.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Held while a registered file changes state (created, renamed), and by abort() until the
# process ends: the worker cannot create a file that abort() would miss.
_lock = threading.RLock()
_paths: set[str] = set()
_stops: dict[int, object] = {}


def remove_on_interrupt(path: str) -> None:
    """Remove ``path`` if the run is interrupted (call with the lock held around its creation)."""
    with _lock:
        _paths.add(os.path.abspath(path))


def keep_on_interrupt(path: str) -> None:
    with _lock:
        _paths.discard(os.path.abspath(path))


def file_lock():
    """Hold while creating or renaming a file registered with :func:`remove_on_interrupt`."""
    return _lock


@contextlib.contextmanager
def on_interrupt(stop):
    """Call ``stop()`` from the main thread if the run is interrupted inside the block."""
    key = id(stop)
    with _lock:
        _stops[key] = stop
    try:
        yield
    finally:
        with _lock:
            _stops.pop(key, None)


def abort(signum: int) -> None:
    """Stop, remove this run's files, say so in one line, end the process. Never returns."""
    _lock.acquire()  # never released: the process ends holding it
    for stop in list(_stops.values()):
        with contextlib.suppress(Exception):
            stop()
    for path in sorted(_paths):
        with contextlib.suppress(OSError):
            os.unlink(path)
    name = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    with contextlib.suppress(OSError):
        os.write(2, f"\npqmpc: {name}; no output written\n".encode())
    os._exit(128 + signum)


def run_interruptible(fn, *args, final: bool = False):
    """``fn(*args)`` in a worker thread; the main thread waits and handles SIGINT/SIGTERM.

    Returns what ``fn`` returns and re-raises what it raises. With ``final`` (the process
    ends right after) SIGINT/SIGTERM stay blocked once ``fn`` has returned: the run is
    complete, and a late Ctrl-C can neither undo it nor raise during interpreter shutdown.
    """
    if threading.current_thread() is not threading.main_thread():
        return fn(*args)
    got: list[int] = []
    wake = threading.Event()

    def handler(signum, frame):
        got.append(signum)
        wake.set()

    previous = {s: signal.signal(s, handler) for s in _SIGNALS}
    result: dict = {}

    def work():
        try:
            result["value"] = fn(*args)
        except BaseException as exc:  # handed to the main thread as is
            result["exc"] = exc
        finally:
            wake.set()

    try:
        worker = threading.Thread(target=work, name="pqmpc-run", daemon=True)
        worker.start()
        while not wake.wait(0.5) and not got:
            pass
        if got:
            abort(got[0])
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        if got:  # arrived between the two checks
            abort(got[0])
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    if not final:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    if "exc" in result:
        raise result["exc"]
    return result.get("value")
