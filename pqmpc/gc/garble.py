"""Garbling: free-XOR + half-gates, whole-circuit or streamed chunk by chunk.

Shape (Bellare–Hoang–Rogaway): ``garbled, encoder = garble(circuit)``;
``labels = encoder.encode(inputs)``; ``out = evaluate_garbled(garbled, labels)``;
``garbled.decode(out)`` returns the plain outputs. Each AND gate costs two
ciphertexts (32 bytes; 64 with ``kappa=256``); XOR, INV, EQW and EQ cost none. See
:mod:`pqmpc.gc.halfgates` for the exact equations and ``docs/garbling.md`` for
the streaming protocol.

Security: semi-honest (honest-but-curious) evaluator. The garbled circuit with one
label per input wire hides everything but the outputs, assuming the hash
``H(x, i) = π(π(x) ⊕ i) ⊕ π(x)`` over fixed-key AES is tweakable circular
correlation robust (proved in the ideal-permutation model, Guo–Katz–Wang–Yu 2020).
A malicious garbler is not defended against: it can garble another function.
Post-quantum: everything here is symmetric-key; Grover's algorithm at best
square-roots a search for Δ or a label (≈2^64 quantum work at κ = 128 for a single
target, ≈2^128 with ``kappa=256``, whose hash is AES-256 keyed by the label, argued
in the ideal-cipher model); the public-key parts of a 2PC run are the lattice OTs
elsewhere in pqmpc.
Python cannot promise constant time: label bits drive branches and numpy masks,
and timing of the garbler/evaluator processes is not hardened against co-located
attackers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from pqmpc.errors import ParameterError
from pqmpc.gc import halfgates as _hg
from pqmpc.gc.circuit import Circuit
from pqmpc.rng import Rng

LABEL_BYTES = 16  # κ = 128; κ = 256 uses 32-byte labels
TABLE_BYTES = 32  # two ciphertexts per AND gate (64 bytes at κ = 256)


def label_bytes_for(kappa: int) -> int:
    if kappa not in (128, 256):
        raise ParameterError(f"kappa must be 128 or 256, not {kappa!r}")
    return kappa // 8


def _as_label_array(x, n: int, what: str, width: int = LABEL_BYTES) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype != np.uint8 or a.shape != (n, width):
        raise ParameterError(f"{what} must be a ({n}, {width}) uint8 array, got {a.dtype} "
                             f"{a.shape}")
    return np.ascontiguousarray(a)


def _split_inputs(circuit: Circuit, labels, what: str,
                  width: int = LABEL_BYTES) -> np.ndarray:
    """Accept one ``(n_i, width)`` array per input group, or all ``(n_inputs, width)``."""
    if isinstance(labels, np.ndarray) and labels.ndim == 2:
        return _as_label_array(labels, circuit.n_inputs, what, width)
    labels = list(labels)
    if len(labels) != len(circuit.input_sizes):
        raise ParameterError(f"{what}: circuit has {len(circuit.input_sizes)} inputs, got "
                             f"{len(labels)}")
    parts = [_as_label_array(x, n, f"{what}[{j}]", width)
             for j, (x, n) in enumerate(zip(labels, circuit.input_sizes))]
    if not parts:
        return np.zeros((0, width), dtype=np.uint8)
    return np.concatenate(parts, axis=0)


class Encoder:
    """The garbler's secret input encoding: Δ and the zero-label of every input wire."""

    def __init__(self, input_sizes: Sequence[int], delta: np.ndarray, zero_labels: np.ndarray):
        self.input_sizes = tuple(input_sizes)
        self.delta = np.array(delta, dtype=np.uint8).reshape(-1)
        self.label_bytes = int(self.delta.shape[0])
        self._zero = np.ascontiguousarray(zero_labels, dtype=np.uint8)
        self._starts = np.concatenate([[0], np.cumsum(self.input_sizes)]).astype(int)

    def zero_labels(self, j: int) -> np.ndarray:
        """Zero-labels of input group ``j`` (``(n_j, 16)``)."""
        return self._zero[self._starts[j]:self._starts[j + 1]].copy()

    def one_labels(self, j: int) -> np.ndarray:
        return self.zero_labels(j) ^ self.delta

    def encode_input(self, j: int, bits) -> np.ndarray:
        """Labels of input group ``j`` for the 0/1 values ``bits``."""
        n = self.input_sizes[j]
        b = np.asarray(bits)
        if b.shape != (n,):
            raise ParameterError(f"input {j}: expected shape ({n},), got {b.shape}")
        if b.size and (b.min() < 0 or b.max() > 1):
            raise ParameterError(f"input {j}: values must be 0 or 1")
        return self.zero_labels(j) ^ (b.astype(np.uint8)[:, None] * self.delta)

    def encode(self, inputs) -> list[np.ndarray]:
        """One ``(n_i, 16)`` label array per circuit input, for the plain values ``inputs``."""
        if len(inputs) != len(self.input_sizes):
            raise ParameterError(f"circuit has {len(self.input_sizes)} inputs, got {len(inputs)}")
        return [self.encode_input(j, x) for j, x in enumerate(inputs)]


class GarbledCircuit:
    """What the evaluator receives: the AND tables and the output decoding bits.

    ``tables`` is ``(and_count, 2 * label_bytes)`` uint8 in schedule order (``TG ‖ TE``
    per AND: 32 bytes at κ = 128, 64 at κ = 256); ``decoding`` holds the permute bit
    (lsb of the zero-label) of every output wire.
    """

    def __init__(self, circuit: Circuit, tables: np.ndarray, decoding: np.ndarray,
                 label_bytes: int = LABEL_BYTES):
        self.circuit = circuit
        self.tables = tables
        self.decoding = decoding
        self.label_bytes = int(label_bytes)

    @property
    def kappa(self) -> int:
        return 8 * self.label_bytes

    @property
    def nbytes(self) -> int:
        return int(self.tables.nbytes)

    def decode(self, out_labels) -> list[np.ndarray]:
        """Plain outputs (``circuit.evaluate`` form) from the evaluator's output labels."""
        c = self.circuit
        if len(out_labels) != len(c.output_sizes):
            raise ParameterError(f"circuit has {len(c.output_sizes)} outputs, got "
                                 f"{len(out_labels)}")
        res, pos = [], 0
        for j, (lab, m) in enumerate(zip(out_labels, c.output_sizes)):
            lab = _as_label_array(lab, m, f"output labels[{j}]", self.label_bytes)
            res.append((lab[:, 0] & 1) ^ self.decoding[pos:pos + m])
            pos += m
        return res


class Garbler:
    """Garbles one circuit, all at once (:meth:`finish`) or in chunks (:meth:`stream`).

    ``delta`` (``kappa/8`` bytes, lsb of byte 0 must be 1) and ``input_labels`` (the
    zero-labels of the input wires, per group or as one ``(n_inputs, kappa/8)`` array)
    may come from correlated OT; anything not supplied is drawn from ``rng``.
    ``kappa=256`` selects 32-byte labels and the AES-256 wide hash
    (:mod:`pqmpc.gc.fused_wide`).
    """

    def __init__(self, circuit: Circuit, rng: Rng | None = None, delta=None, input_labels=None,
                 backend: str = "auto", kappa: int = 128):
        self.circuit = circuit
        self.backend = _hg.resolve_backend(backend)
        self.label_bytes = width = label_bytes_for(kappa)
        self._words = width // 8
        rng = Rng.ensure(rng)
        if delta is None:
            d = rng.blocks(1, width)[0]
            d[0] |= 1
        else:
            d = np.frombuffer(bytes(delta), dtype=np.uint8).copy() \
                if isinstance(delta, (bytes, bytearray)) else np.array(delta, dtype=np.uint8)
            if d.shape not in ((width,), (1, width)):
                raise ParameterError(f"delta must be {width} bytes for kappa = {kappa}")
            d = d.reshape(width)
            if not d[0] & 1:
                raise ParameterError("delta must have its least significant bit set "
                                     "(point-and-permute needs lsb(Δ) = 1)")
        if input_labels is None:
            zero = rng.blocks(circuit.n_inputs, width)
        else:
            zero = _split_inputs(circuit, input_labels, "input_labels", width).copy()
        self._delta64 = d.view(np.uint64).copy()
        self.encoder = Encoder(circuit.input_sizes, d, zero)
        self._sched = circuit.schedule
        self._and_pos = _hg.and_positions(self._sched)
        self._lab = _hg.take_labels(circuit.n_wires, self._words)
        self._lab[:circuit.n_inputs] = zero.view(np.uint64).reshape(-1, self._words)
        self._pos = 0
        self._k = 0
        self._done = False

    @property
    def delta(self) -> np.ndarray:
        return self.encoder.delta.copy()

    @property
    def ands_remaining(self) -> int:
        return int(self._and_pos.shape[0] - self._k)

    def _garble_next(self, m: int) -> np.ndarray:
        k_end = self._k + m
        end = _hg.chunk_end(self._sched, self._and_pos, k_end)
        tables = np.empty((m, 2 * self._words), dtype=np.uint64)
        _hg.garble_range(self.backend, self._sched, self._pos, end, self._k, self._lab,
                         self._delta64, tables)
        self._pos, self._k = end, k_end
        if self._k == self._and_pos.shape[0] and self._pos < self._sched.op.shape[0]:
            _hg.garble_range(self.backend, self._sched, self._pos, self._sched.op.shape[0],
                             self._k, self._lab, self._delta64, tables[:0])
            self._pos = self._sched.op.shape[0]
        return tables.view(np.uint8).reshape(m, 2 * self.label_bytes)

    def stream(self, chunk_ands: int = 1 << 16, by_level: bool = False) -> Iterator[np.ndarray]:
        """Yield the garbled tables as ``(m, 2 * label_bytes)`` uint8 chunks, in schedule order.

        Chunks hold ``chunk_ands`` AND gates (the last may be shorter) or, with
        ``by_level``, exactly the AND gates of one AND-depth level each. The evaluator
        may consume any chunking (:meth:`pqmpc.gc.evaluate.Evaluator.feed`). A circuit
        without AND gates yields nothing. Each chunk is a fresh array the caller may
        send and drop; the garbler keeps no copy.
        """
        if self._done or self._k:
            raise ParameterError("this garbler has already produced its tables")
        if chunk_ands < 1:
            raise ParameterError("chunk_ands must be >= 1")
        n_and = self._and_pos.shape[0]
        if by_level:
            runs = self._sched.runs[1::2]
            sizes = [int(s) for s in (runs[:, 1] - runs[:, 0]) if s > 0]
        else:
            sizes = [min(chunk_ands, n_and - k) for k in range(0, n_and, chunk_ands)]
        for m in sizes:
            yield self._garble_next(m)
        self._finish_free()

    def _finish_free(self) -> None:
        if self._pos < self._sched.op.shape[0]:
            _hg.garble_range(self.backend, self._sched, self._pos, self._sched.op.shape[0],
                             self._k, self._lab, self._delta64,
                             np.empty((0, 2 * self._words), np.uint64))
            self._pos = self._sched.op.shape[0]
        c = self.circuit
        out = self._lab[c.n_wires - c.n_outputs:c.n_wires]
        self._out_zero = out.copy().view(np.uint8).reshape(-1, self.label_bytes)
        _hg.give_back_labels(self._lab)
        self._lab = None
        self._done = True

    @property
    def decoding(self) -> np.ndarray:
        """lsb of every output wire's zero-label (available once all gates are garbled)."""
        if not self._done:
            raise ParameterError("decoding is known only after all tables are produced")
        return (self._out_zero[:, 0] & 1).astype(np.uint8)

    def output_zero_labels(self) -> list[np.ndarray]:
        """Zero-labels of the output groups (for protocols that keep outputs garbled)."""
        if not self._done:
            raise ParameterError("output labels are known only after all tables are produced")
        pos = np.concatenate([[0], np.cumsum(self.circuit.output_sizes)]).astype(int)
        return [self._out_zero[pos[j]:pos[j + 1]].copy() for j in range(len(pos) - 1)]

    def finish(self) -> GarbledCircuit:
        """Garble everything (in one pass) and return the :class:`GarbledCircuit`."""
        if self._done or self._k:
            raise ParameterError("this garbler has already produced its tables")
        n_and = int(self._and_pos.shape[0])
        tables = self._garble_next(n_and) if n_and else np.zeros((0, 2 * self.label_bytes),
                                                                  np.uint8)
        self._finish_free()
        return GarbledCircuit(self.circuit, tables, self.decoding, self.label_bytes)


def garble(circuit: Circuit, rng: Rng | None = None, delta=None, input_labels=None,
           backend: str = "auto", kappa: int = 128) -> tuple[GarbledCircuit, Encoder]:
    """Garble ``circuit``: returns ``(garbled, encoder)``.

    ``delta``: optional global offset (16 bytes, or 32 at ``kappa=256``) with lsb 1;
    ``input_labels``: optional zero-labels of the input wires; ``backend``:
    ``"auto"``, ``"fused"`` or ``"levels"`` (same bytes, different speed; see
    :mod:`pqmpc.gc.halfgates`); ``kappa``: 128 (16-byte labels, fixed-key AES-128
    hash) or 256 (32-byte labels, AES-256 wide hash, for the post-quantum
    "doubled key" level).
    """
    g = Garbler(circuit, rng=rng, delta=delta, input_labels=input_labels, backend=backend,
                kappa=kappa)
    garbled = g.finish()
    return garbled, g.encoder

