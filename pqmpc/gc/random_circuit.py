"""Random circuits for property tests and throughput benchmarks.

Gate ``g`` writes wire ``n_inputs + g`` and reads wires drawn uniformly from a
window of the most recent wires, so ``window`` sets the shape: a window as large
as the circuit gives wide, shallow circuits (many AND gates per level), a small
window gives deep, narrow ones. All op kinds appear (XOR, AND, INV, EQW, EQ), so
garbling tests cover every gate type. Generation is vectorised (no per-gate Python).
"""

from __future__ import annotations

import numpy as np

from pqmpc.errors import ParameterError
from pqmpc.gc.circuit import Circuit
from pqmpc.gc.kernels import OP_AND, OP_EQ, OP_EQW, OP_INV, OP_XOR


def random_circuit(input_sizes, n_gates: int, n_outputs: int, seed: int = 0,
                   p_and: float = 0.5, p_unary: float = 0.1, window: int | None = None,
                   n_output_groups: int = 1) -> Circuit:
    """A random valid circuit; the outputs are the last ``n_outputs`` gates' wires."""
    input_sizes = [int(s) for s in input_sizes]
    n_in = sum(input_sizes)
    if n_in < 1 or n_gates < n_outputs or n_outputs < 1:
        raise ParameterError("need >= 1 input, >= 1 output and n_gates >= n_outputs")
    rng = np.random.default_rng(seed)
    g = np.arange(n_gates, dtype=np.int64)
    avail = n_in + g  # wires set before gate g
    lo = np.zeros_like(avail) if window is None else np.maximum(avail - window, 0)
    span = avail - lo
    in0 = lo + (rng.random(n_gates) * span).astype(np.int64)
    in1 = lo + (rng.random(n_gates) * span).astype(np.int64)
    u = rng.random(n_gates)
    op = np.where(u < p_and, OP_AND, OP_XOR).astype(np.uint8)
    unary = rng.random(n_gates) < p_unary
    kind = rng.integers(0, 8, n_gates)
    op[unary] = np.where(kind[unary] < 6, OP_INV, np.where(kind[unary] < 7, OP_EQW, OP_EQ))
    in1[unary] = -1
    eq = op == OP_EQ
    in0[eq] = rng.integers(0, 2, int(eq.sum()))
    out = n_in + g
    k = max(1, min(n_output_groups, n_outputs))
    sizes = [n_outputs // k + (1 if j < n_outputs % k else 0) for j in range(k)]
    return Circuit(n_in + n_gates, input_sizes, sizes, op, in0, in1, out)
