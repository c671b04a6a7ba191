"""Oblivious transfer: post-quantum base OTs and OT extensions.

Every class offers ``send_random/receive_random/send/receive``; extensions
add correlated OT. See docs/api.md for the relation each call satisfies.
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "OT": ".api",
    "KyberOT": ".base.kyber",
    "SaberOT": ".base.saber",
    "SimplestOT": ".base.simplest",
    "IKNP": ".ext.iknp",
    "Ferret": ".ext.ferret",
    "FerretParams": ".ext.ferret_params",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
