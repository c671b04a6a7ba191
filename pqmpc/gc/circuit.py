"""Boolean circuit IR shared by the Bristol reader, the builder and the garbler.

A :class:`Circuit` is Bristol-shaped: wires ``0 .. n_inputs-1`` are the circuit
inputs (input group ``j`` takes the next ``input_sizes[j]`` wires), the last
``sum(output_sizes)`` wires are the outputs, and the gates are listed in a
topological order as four numpy arrays (``op``, ``in0``, ``in1``, ``out``). For an
``EQ`` gate ``in0`` holds the constant (0 or 1); unary gates have ``in1 == -1``.

Bit order: within a group, element ``i`` is wire ``start + i``, which carries bit
``i`` of the group's value (least significant first). :func:`int_to_bits` and
:func:`bits_to_int` convert with exactly that order.

Plain evaluation runs in a numba kernel over packed bits, 64 input sets per word,
so evaluating a batch costs one walk of the gate list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cached_property

import numpy as np

from pqmpc.errors import CircuitError, ParameterError
from pqmpc.gc import kernels as _k
from pqmpc.gc.kernels import OP_AND, OP_INV, OP_XOR
from pqmpc.gc.schedule import Schedule, and_depths, build_schedule

OP_NAMES = ("XOR", "AND", "INV", "EQ", "EQW")

_CHECK_MESSAGES = {
    _k.CHECK_OUT_OF_RANGE: "wire out of range",
    _k.CHECK_UNSET: "wire used before it is set",
    _k.CHECK_SET_TWICE: "wire set twice",
    _k.CHECK_BAD_CONSTANT: "EQ constant must be 0 or 1",
    _k.CHECK_BAD_OP: "unknown gate op code",
}


def circuit_error(message: str, line: int | None = None) -> CircuitError:
    return CircuitError(message, line)


def int_to_bits(value: int, n: int) -> np.ndarray:
    """``n`` bits of ``value`` (two's complement if negative), least significant first."""
    value = int(value) % (1 << n) if n else 0
    raw = value.to_bytes((n + 7) // 8, "little")
    return np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="little")[:n].copy()


def bits_to_int(bits, signed: bool = False) -> int:
    """Inverse of :func:`int_to_bits` for a 1-D 0/1 array."""
    bits = np.asarray(bits, dtype=np.uint8).reshape(-1)
    n = bits.size
    value = int.from_bytes(np.packbits(bits, bitorder="little").tobytes(), "little")
    if signed and n and bits[-1]:
        value -= 1 << n
    return value


def first_gate_error(n_wires: int, n_inputs: int, op, in0, in1, out) -> tuple[int, int]:
    """``(gate, code)`` of the first structural error in a gate list, ``(-1, CHECK_OK)`` if none.

    Gates must come in an order where every input wire is already set (a primary
    input or the output of an earlier gate) and no wire is written twice. Within a
    gate the checks run in this order: op code, EQ constant, operand range, output
    range, operands set, output not set before. Vectorised numpy (no kernel to load:
    building a circuit is on the path of a first 2PC call).
    """
    n = op.shape[0]
    if n == 0:
        return -1, _k.CHECK_OK
    idx = np.arange(n, dtype=np.int64)
    bad_op = op > _k.OP_EQW
    is_eq = op == _k.OP_EQ
    binary = (op == _k.OP_XOR) | (op == _k.OP_AND)
    bad_const = ~bad_op & is_eq & (in0 != 0) & (in0 != 1)
    a_rng = ~is_eq & ((in0 < 0) | (in0 >= n_wires))
    b_rng = binary & ((in1 < 0) | (in1 >= n_wires))
    o_rng = (out < 0) | (out >= n_wires)
    # the gate that first sets each wire (inputs at -1, never set: n)
    first_set = np.full(n_wires, n, dtype=np.int64)
    ok_o = ~o_rng
    first_set[:min(n_inputs, n_wires)] = -1
    np.minimum.at(first_set, out[ok_o], idx[ok_o])
    a = np.where(a_rng | is_eq, 0, in0)
    b = np.where(b_rng | ~binary, 0, in1)
    a_unset = ~is_eq & ~a_rng & (first_set[a] >= idx)
    b_unset = binary & ~b_rng & (first_set[b] >= idx)
    twice = ok_o & (first_set[np.where(ok_o, out, 0)] < idx)
    codes = (bad_op, bad_const, a_rng | b_rng, o_rng, a_unset | b_unset, twice)
    names = (_k.CHECK_BAD_OP, _k.CHECK_BAD_CONSTANT, _k.CHECK_OUT_OF_RANGE, _k.CHECK_OUT_OF_RANGE,
             _k.CHECK_UNSET, _k.CHECK_SET_TWICE)
    any_bad = np.zeros(n, dtype=bool)
    for c in codes:
        any_bad |= c
    if not any_bad.any():
        return -1, _k.CHECK_OK
    g = int(np.argmax(any_bad))
    for c, code in zip(codes, names):
        if c[g]:
            return g, code
    raise AssertionError("unreachable")


class Circuit:
    """A Boolean circuit in topological order; see the module docstring for layout."""

    def __init__(self, n_wires: int, input_sizes: Sequence[int], output_sizes: Sequence[int],
                 op, in0, in1, out, *, gate_lines=None):
        self.n_wires = int(n_wires)
        self.input_sizes = tuple(int(s) for s in input_sizes)
        self.output_sizes = tuple(int(s) for s in output_sizes)
        # private read-only copies: a circuit must not change under a running garbler,
        # and freezing the caller's own arrays would be a surprising side effect
        self.op = np.array(op, dtype=np.uint8, order="C")
        self.in0 = np.array(in0, dtype=np.int64, order="C")
        self.in1 = np.array(in1, dtype=np.int64, order="C")
        self.out = np.array(out, dtype=np.int64, order="C")
        for arr in (self.op, self.in0, self.in1, self.out):
            arr.flags.writeable = False
        self._validate(gate_lines)

    # -- construction -----------------------------------------------------------------

    def _validate(self, gate_lines) -> None:
        n = self.op.shape[0]
        if not (self.in0.shape == self.in1.shape == self.out.shape == (n,)):
            raise ParameterError("op, in0, in1 and out must be 1-D arrays of one length")
        if any(s < 0 for s in self.input_sizes + self.output_sizes):
            raise circuit_error("negative input or output size", 2)
        if self.n_inputs > self.n_wires:
            raise circuit_error(f"inputs need {self.n_inputs} wires but the circuit has "
                                f"{self.n_wires}", 2)
        if self.n_outputs > self.n_wires:
            raise circuit_error(f"outputs need {self.n_outputs} wires but the circuit has "
                                f"{self.n_wires}", 3)
        g, code = first_gate_error(self.n_wires, self.n_inputs, self.op, self.in0, self.in1, self.out)
        if code != _k.CHECK_OK:
            line = None if gate_lines is None else int(gate_lines[g])
            raise circuit_error(f"gate {g} ({self._gate_text(g)}): {_CHECK_MESSAGES[code]}",
                                line)
        first = self.n_wires - self.n_outputs
        is_set = np.zeros(self.n_wires, dtype=bool)
        is_set[:self.n_inputs] = True
        is_set[self.out] = True
        unset = np.flatnonzero(~is_set[first:])
        if unset.size:
            raise circuit_error(f"output wire {first + int(unset[0])} is never set",
                                3 if gate_lines is not None else None)

    def _gate_text(self, g: int) -> str:
        k = int(self.op[g])
        name = OP_NAMES[k] if k < len(OP_NAMES) else f"op{k}"
        if k in (OP_XOR, OP_AND):
            return f"2 1 {self.in0[g]} {self.in1[g]} {self.out[g]} {name}"
        return f"1 1 {self.in0[g]} {self.out[g]} {name}"

    # The IR does not depend on the file format: these two are thin conveniences that
    # import the format module on call; pqmpc.gc.bristol imports this module, never
    # the reverse at import time.
    @classmethod
    def from_bristol(cls, text_or_path) -> "Circuit":
        """Parse Bristol Fashion from text, bytes or a path (see :mod:`pqmpc.gc.bristol`)."""
        from pqmpc.gc.bristol import read_bristol
        return read_bristol(text_or_path)

    def to_bristol(self) -> str:
        """Canonical Bristol Fashion text (no MAND, no trailing spaces, final newline)."""
        from pqmpc.gc.bristol import write_bristol
        return write_bristol(self)

    # -- shape and counts ---------------------------------------------------------------

    @property
    def n_gates(self) -> int:
        return int(self.op.shape[0])

    @property
    def n_inputs(self) -> int:
        return sum(self.input_sizes)

    @property
    def n_outputs(self) -> int:
        return sum(self.output_sizes)

    @cached_property
    def _op_counts(self) -> np.ndarray:
        return np.bincount(self.op, minlength=5)

    @property
    def and_count(self) -> int:
        return int(self._op_counts[OP_AND])

    @property
    def xor_count(self) -> int:
        return int(self._op_counts[OP_XOR])

    @property
    def inv_count(self) -> int:
        return int(self._op_counts[OP_INV])

    @cached_property
    def gate_depths(self) -> np.ndarray:
        return and_depths(self.n_wires, self.op, self.in0, self.in1, self.out)

    @property
    def depth(self) -> int:
        """AND-depth: the longest chain of AND gates from an input to any wire."""
        return int(self.gate_depths.max()) if self.n_gates else 0

    def input_wires(self, j: int) -> np.ndarray:
        start = sum(self.input_sizes[:j])
        return np.arange(start, start + self.input_sizes[j], dtype=np.int64)

    def output_wires(self, j: int) -> np.ndarray:
        start = self.n_wires - self.n_outputs + sum(self.output_sizes[:j])
        return np.arange(start, start + self.output_sizes[j], dtype=np.int64)

    def counts(self) -> dict:
        return {"gates": self.n_gates, "wires": self.n_wires, "and": self.and_count,
                "xor": self.xor_count, "inv": self.inv_count, "depth": self.depth}

    def __repr__(self) -> str:
        return (f"Circuit(inputs={list(self.input_sizes)}, outputs={list(self.output_sizes)}, "
                f"gates={self.n_gates}, and={self.and_count}, depth={self.depth})")

    def __eq__(self, other) -> bool:
        if not isinstance(other, Circuit):
            return NotImplemented
        return (self.n_wires == other.n_wires and self.input_sizes == other.input_sizes
                and self.output_sizes == other.output_sizes
                and all(np.array_equal(getattr(self, a), getattr(other, a))
                        for a in ("op", "in0", "in1", "out")))

    __hash__ = None  # mutable-looking arrays: compare with ==, identify with digest()

    def digest(self) -> bytes:
        """SHA-256 of the canonical Bristol text: a stable name for handshakes."""
        return hashlib.sha256(self.to_bristol().encode("ascii")).digest()

    # -- schedule -------------------------------------------------------------------------

    @cached_property
    def schedule(self) -> Schedule:
        """The AND-depth schedule the garbling engine walks (:mod:`pqmpc.gc.schedule`)."""
        return build_schedule(self.n_wires, self.op, self.in0, self.in1, self.out,
                              self.gate_depths)

    # -- plain evaluation -----------------------------------------------------------------

    def evaluate(self, inputs) -> list[np.ndarray]:
        """Evaluate in the clear.

        ``inputs`` holds one 0/1 array per input group, each ``(n_i,)`` or, for many
        input sets at once, ``(batch, n_i)`` (all groups with the same batch). The
        result has one array per output group in the same form.
        """
        if len(inputs) != len(self.input_sizes):
            raise ParameterError(f"circuit has {len(self.input_sizes)} inputs, got {len(inputs)}")
        arrs = [np.asarray(x) for x in inputs]
        batched = bool(arrs) and arrs[0].ndim == 2
        batch = arrs[0].shape[0] if batched else 1
        rows = []
        for j, (x, n) in enumerate(zip(arrs, self.input_sizes)):
            want = (batch, n) if batched else (n,)
            if x.shape != want:
                raise ParameterError(f"input {j}: expected shape {want}, got {x.shape}")
            if x.size and (x.min() < 0 or x.max() > 1):
                raise ParameterError(f"input {j}: values must be 0 or 1")
            rows.append(x.reshape(batch, n).astype(np.uint8).T)
        words = max(1, (batch + 63) // 64)
        vals = np.zeros((self.n_wires, words * 8), dtype=np.uint8)
        if self.n_inputs:
            packed = np.packbits(np.concatenate(rows, axis=0), axis=1, bitorder="little")
            vals[:self.n_inputs, :packed.shape[1]] = packed
        v64 = vals.view(np.uint64)
        _k.eval_packed(self.op, self.in0, self.in1, self.out, v64)
        first = self.n_wires - self.n_outputs
        outbits = np.unpackbits(vals[first:], axis=1, bitorder="little")[:, :batch].T
        result, pos = [], 0
        for m in self.output_sizes:
            part = np.ascontiguousarray(outbits[:, pos:pos + m])
            result.append(part if batched else part[0].copy())
            pos += m
        return result
