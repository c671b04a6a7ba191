"""Old name of :mod:`pqmpc.primitives.transpose_kernels` (kept until ``ot/ext/cot.py`` imports the new one)."""

from .transpose_kernels import transpose_into

__all__ = ["transpose_into"]
