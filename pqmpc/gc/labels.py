"""Label shapes shared by the garbler, the evaluator and the protocols that feed them.

Labels are ``(n, label_bytes)`` uint8 rows: 16 bytes at κ = 128, 32 at κ = 256.
"""

from __future__ import annotations

import numpy as np

from pqmpc.errors import ParameterError

__all__ = ["LABEL_BYTES", "TABLE_BYTES", "label_bytes_for", "as_label_array",
           "split_input_labels"]

LABEL_BYTES = 16  # κ = 128; κ = 256 uses 32-byte labels
TABLE_BYTES = 32  # two ciphertexts per AND gate (64 bytes at κ = 256)


def label_bytes_for(kappa: int) -> int:
    """Bytes per label for security parameter ``kappa`` (128 or 256)."""
    if kappa not in (128, 256):
        raise ParameterError(f"kappa must be 128 or 256, not {kappa!r}")
    return kappa // 8


def as_label_array(x, n: int, what: str, width: int = LABEL_BYTES) -> np.ndarray:
    """``x`` as a C-contiguous ``(n, width)`` uint8 array, or ``ParameterError``."""
    a = np.asarray(x)
    if a.dtype != np.uint8 or a.shape != (n, width):
        raise ParameterError(f"{what} must be a ({n}, {width}) uint8 array, got {a.dtype} "
                             f"{a.shape}")
    return np.ascontiguousarray(a)


def split_input_labels(input_sizes, labels, what: str, width: int = LABEL_BYTES) -> np.ndarray:
    """All input labels as one ``(n_inputs, width)`` array.

    ``labels`` is one ``(n_j, width)`` array per input group, or already the whole
    ``(n_inputs, width)`` array.
    """
    input_sizes = tuple(input_sizes)
    if isinstance(labels, np.ndarray) and labels.ndim == 2:
        return as_label_array(labels, sum(input_sizes), what, width)
    labels = list(labels)
    if len(labels) != len(input_sizes):
        raise ParameterError(f"{what}: circuit has {len(input_sizes)} inputs, got {len(labels)}")
    parts = [as_label_array(x, n, f"{what}[{j}]", width)
             for j, (x, n) in enumerate(zip(labels, input_sizes))]
    if not parts:
        return np.zeros((0, width), dtype=np.uint8)
    return np.concatenate(parts, axis=0)
