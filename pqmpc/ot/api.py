"""Old name of :mod:`pqmpc.ot.interfaces` (the OT interface ladder), kept so
existing imports work; new code imports from ``pqmpc.ot`` or ``pqmpc.ot.interfaces``."""

from .interfaces import (
    OT,
    CorrelatedOT,
    RandomCorrelatedOT,
    RandomOT,
    check_choices,
    check_count,
    check_delta,
    check_messages,
)

__all__ = ["OT", "RandomOT", "CorrelatedOT", "RandomCorrelatedOT",
           "check_choices", "check_count", "check_delta", "check_messages"]
