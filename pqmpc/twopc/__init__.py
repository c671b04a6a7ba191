"""Yao two-party computation and ready-made functions."""

from ..util.lazy import lazy_exports

_EXPORTS = {
    "yao_garbler": ".yao",
    "yao_evaluator": ".yao",
    "functions": ".functions",
    "run_circuit": ".functions",
    "prepare": ".yao_prepare",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
