"""Garbled circuits: circuit IR, Bristol Fashion, builder, half-gates garbling."""

from .._lazy import lazy_exports

_EXPORTS = {
    "Circuit": ".circuit",
    "garble": ".garble",
    "evaluate_garbled": ".evaluate",
    "CircuitBuilder": ".build",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
