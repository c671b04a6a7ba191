"""Oblivious transfer: post-quantum base OTs and OT extensions.

Every class is a :class:`RandomOT` (``send_random/receive_random/send/receive``);
extensions are :class:`CorrelatedOT` or :class:`RandomCorrelatedOT` (see
:mod:`pqmpc.ot.interfaces`); :func:`as_correlated` turns any OT into a
correlated one. See docs/api.md for the relation each call satisfies.
"""

from ..util.lazy import lazy_exports

_EXPORTS = {
    "OT": ".interfaces",
    "RandomOT": ".interfaces",
    "CorrelatedOT": ".interfaces",
    "RandomCorrelatedOT": ".interfaces",
    "as_correlated": ".adapters",
    "KyberOT": ".base.kyber",
    "SaberOT": ".base.saber",
    "SimplestOT": ".base.simplest",
    "IKNP": ".ext.iknp",
    "KOS": ".ext.kos",
    "SoftSpoken": ".ext.softspoken",
    "Ferret": ".ext.ferret",
    "FerretParams": ".ext.ferret_params",
    # the KKRT batched OPRF (1-out-of-N OT extension): pqmpc.ot.kkrt.oprf_send / oprf_receive
    "kkrt": ".ext.kkrt",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
