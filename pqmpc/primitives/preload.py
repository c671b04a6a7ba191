"""Load a protocol's numba kernels before its first message, by explicit signature.

numba loads a cached kernel the first time it is called. In a two-party protocol
that puts every load on the critical path, one after the other: the receiver
loads its key-generation kernels while the sender waits, then the sender loads
its encapsulation kernels while the receiver waits, and so on (about 16 kernels
for IKNP over ML-KEM base OTs). Loading them all at the start of a session, on
both sides at once, takes the same CPU time but overlaps the two parties.

A *spec* is ``(dispatcher, argument types)``, the exact types the protocol calls
the kernel with (C-contiguous arrays, ``int64`` scalars, ...); :func:`preload`
loads each one from the cache (compiling it only if the cache is cold, as the
first call would). Listing a signature the code never calls wastes a load; a
call the list misses still works (numba loads it on the call, as before).
Modules list their specs next to their kernels and respect the same CPU-feature
choice as their callers, so no AES-NI kernel is ever loaded where it cannot run.

numba initialises its typing and lowering registries the first time any
dispatcher compiles or loads (about 0.1–0.35 s, mostly imports). A cache hit
does not use them: it needs the NRT runtime and the code generator only.
:func:`preload` therefore loads with a light initialisation while it holds
numba's compiler lock; a cache miss (or any later compilation) still runs the
full one, which numba does at the start of every compilation.
"""

from __future__ import annotations

from numba import types
from numba.core import registry
from numba.core.compiler_lock import global_compiler_lock

__all__ = ["arr", "preload", "I64", "U64", "BOOL"]

I64, U64, BOOL = types.int64, types.uint64, types.boolean


def arr(dtype: str, ndim: int, readonly: bool = False) -> types.Array:
    """The numba type of a C-contiguous ``ndim``-D array of ``dtype`` (a numpy dtype name)."""
    return types.Array(getattr(types, dtype), ndim, "C", readonly=readonly)


def _in_cache(disp, args, ctx) -> bool:
    """Whether numba's on-disk cache holds ``disp`` for ``args`` (peeks at its index)."""
    try:
        cache = disp._cache
        key = cache._index_key(args, ctx.codegen())
        return key in cache._cache_file._load_index()
    except Exception:  # another numba version, or no cache: take the ordinary path
        return False


class _SkipFirstRefresh:
    """Stands in for ``ctx.refresh`` while one cached kernel loads: the cache lookup's call
    is skipped; any further call (the compiler's, if the entry turns out unreadable and the
    kernel must be compiled after all) runs the real initialisation."""

    def __init__(self, real):
        self.real, self.calls = real, 0

    def __call__(self) -> None:
        self.calls += 1
        if self.calls > 1:
            self.real()


def preload(specs) -> int:
    """Load every ``(dispatcher, arg types)`` of ``specs`` not loaded yet; returns how many it loaded."""
    todo = [(d, tuple(a)) for d, a in specs if tuple(a) not in d.overloads]
    if not todo:
        return 0
    ctx = registry.cpu_target.target_context
    with global_compiler_lock:  # no other thread compiles (and refreshes) meanwhile
        try:
            from numba.core.runtime import nrt

            nrt.rtsys.initialize(ctx)  # the one part of the initialisation a cache hit needs
            light = "refresh" not in vars(ctx)
        except Exception:
            light = False
        for disp, args in todo:
            if args in disp.overloads:
                continue
            if light and _in_cache(disp, args, ctx):
                ctx.refresh = _SkipFirstRefresh(ctx.refresh)  # shadows the method on this instance only
                try:
                    disp.compile(args)
                finally:
                    del ctx.refresh
            else:  # a miss compiles, and compiling needs the full initialisation
                disp.compile(args)
    return len(todo)
