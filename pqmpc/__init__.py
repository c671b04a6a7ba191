"""pqmpc: post-quantum secure two-party computation from Python.

Layers (each imports only from those below it): ``net`` and ``primitives``;
``lattice``; ``ot.base`` (ML-KEM and Saber OT); ``ot.ext`` (IKNP, Ferret);
``gc`` (garbled circuits); ``twopc`` and ``psi`` (applications); ``cli``.
Heavy submodules load on first use so that ``import pqmpc`` stays fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import (
    ChannelClosed,
    ChannelError,
    ChannelTimeout,
    CircuitError,
    HandshakeError,
    InputError,
    ParameterError,
    PqmpcError,
    ProtocolError,
)

_SUBMODULES = {"net", "primitives", "lattice", "ot", "gc", "twopc", "psi", "params"}


def __getattr__(name):
    # Rng loads numpy and OpenSSL: on first use, so that the command line's first step
    # (installing its Ctrl-C handling) comes before any heavy import.
    if name == "Rng":
        from .rng import Rng

        return Rng
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'pqmpc' has no attribute {name!r}")


__all__ = ["Rng", "PqmpcError", "ProtocolError", "HandshakeError", "ChannelError", "ChannelClosed",
           "ChannelTimeout", "ParameterError", "CircuitError", "InputError", "__version__"]
