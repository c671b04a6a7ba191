"""Lazy re-exports: ``pqmpc.ot.KyberOT`` imports its module on first use.

Keeps ``import pqmpc`` fast (numba and the lattice code load only when a
protocol is used) and lets each layer list its public names in one table.
"""

from __future__ import annotations

import importlib


def lazy_exports(package: str, table: dict[str, str]):
    """Return ``(__getattr__, __dir__)`` for a package exporting ``name -> module``."""

    def __getattr__(name):
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        mod = importlib.import_module(module, package)
        # An entry may name a submodule itself (``twopc.functions``).
        if module.rsplit(".", 1)[-1] == name and not hasattr(mod, name):
            return mod
        return getattr(mod, name)

    def __dir__():
        return sorted(table)

    return __getattr__, __dir__
