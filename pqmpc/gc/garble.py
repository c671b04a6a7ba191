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
from pqmpc.gc import threehalves as _th
from pqmpc.gc.circuit import Circuit
from pqmpc.gc.labels import LABEL_BYTES, TABLE_BYTES, as_label_array, label_bytes_for, split_input_labels
from pqmpc.gc.tweaks import Delta, tweak_high
from pqmpc.rng import Rng

__all__ = ["Garbler", "GarbledCircuit", "Encoder", "garble", "Delta", "LABEL_BYTES",
           "TABLE_BYTES", "label_bytes_for"]


def table_view(out, m_max: int, words: int, what: str = "out") -> np.ndarray:
    """A caller's table buffer as ``(m, 2 * words)`` uint64 without copying.

    Accepts ``(m, 16 * words)`` uint8 or ``(m, 2 * words)`` uint64, C-contiguous.
    """
    a = out
    if not isinstance(a, np.ndarray) or not a.flags.c_contiguous or not a.flags.writeable:
        raise ParameterError(f"{what} must be a writable C-contiguous numpy array")
    if a.dtype == np.uint8 and a.ndim == 2 and a.shape[1] == 16 * words:
        a = a.view(np.uint64)
    if a.dtype != np.uint64 or a.ndim != 2 or a.shape[1] != 2 * words:
        raise ParameterError(f"{what} must be (m, {16 * words}) uint8 or (m, {2 * words}) uint64, "
                             f"got {out.dtype} {out.shape}")
    return a[:m_max]


class Encoder:
    """The garbler's secret input encoding: Δ and the zero-label of every input wire."""

    def __init__(self, input_sizes: Sequence[int], delta, zero_labels: np.ndarray):
        self.input_sizes = tuple(input_sizes)
        # holding the Delta keeps its record of spent garbling ids alive for as long as
        # the caller can read Δ from here (pqmpc.gc.tweaks)
        self.delta_key = delta if isinstance(delta, Delta) else None
        self.delta = np.array(delta.value if isinstance(delta, Delta) else delta,
                              dtype=np.uint8).reshape(-1)
        self.label_bytes = int(self.delta.shape[0])
        self._zero = np.ascontiguousarray(zero_labels, dtype=np.uint8)
        self._starts = np.cumsum((0,) + self.input_sizes)

    def zero_labels(self, j: int) -> np.ndarray:
        """Zero-labels of input group ``j`` (``(n_j, label_bytes)``)."""
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
    (lsb of the zero-label) of every output wire; ``tweak_base`` is the garbling id
    the evaluator must hash with (public).

    ``scheme`` is ``"halfgates"`` or ``"threehalves"``; for three-halves ``tables`` is
    the packed wire form, a 1-D uint8 array of ``24 m + ⌈5m/8⌉`` bytes
    (:mod:`pqmpc.gc.threehalves`). ``table_bytes`` is the size of the tables as sent,
    for either scheme.
    """

    def __init__(self, circuit: Circuit, tables: np.ndarray, decoding: np.ndarray,
                 label_bytes: int = LABEL_BYTES, tweak_base: int = 0, scheme: str = "halfgates"):
        self.circuit = circuit
        self.tables = tables
        self.decoding = decoding
        self.label_bytes = int(label_bytes)
        self.tweak_base = int(tweak_base)
        self.scheme = _th.check_scheme(scheme, 8 * self.label_bytes)

    @property
    def table_bytes(self) -> int:
        """Bytes of garbled tables on the wire (decoding bits not included)."""
        return int(self.tables.nbytes)

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
            lab = as_label_array(lab, m, f"output labels[{j}]", self.label_bytes)
            res.append((lab[:, 0] & 1) ^ self.decoding[pos:pos + m])
            pos += m
        return res


class Garbler:
    """Garbles one circuit under a Δ: at once (:meth:`finish`), in chunks (:meth:`stream`)
    or into the caller's own buffers (:meth:`garble_into`).

    ``delta``: ``None`` (draw a fresh Δ from ``rng``), the ``kappa/8`` bytes of a Δ
    with lsb 1 (e.g. the correlation of correlated OT), or a :class:`Delta`. Several
    garblings under one Δ are safe only with distinct ``tweak_base`` (the garbling id
    in the high tweak word, :mod:`pqmpc.gc.tweaks`): ``None`` takes the next id not yet
    spent under this Δ, an explicit id already spent raises ``ParameterError``. The
    id is public; the evaluator needs it (``GarbledCircuit.tweak_base``,
    ``Evaluator(..., tweak_base=)``).

    ``input_labels``: the zero-labels of the input wires (per group, or one
    ``(n_inputs, kappa/8)`` array); anything not supplied is drawn from ``rng``.
    Supplied labels may be reused across garblings under the same Δ (e.g. one key
    shared by many instances): distinct tweak bases keep the hashes independent.
    ``kappa=256`` selects 32-byte labels and the AES-256 wide hash
    (:mod:`pqmpc.gc.fused_wide`). ``scheme="threehalves"`` garbles with Rosulek–Roy
    three-halves (:mod:`pqmpc.gc.threehalves`, κ = 128 only): ``garble_into`` then
    fills ``(m, 4) uint64`` rows ``G0, G1, G2, z`` and :meth:`stream` yields packed
    wire chunks; it draws two secret bits per AND from ``rng``.
    """

    def __init__(self, circuit: Circuit, rng: Rng | None = None, delta=None, input_labels=None,
                 backend: str = "auto", kappa: int = 128, *, tweak_base: int | None = None,
                 scheme: str = "halfgates"):
        self.circuit = circuit
        self.scheme = _th.check_scheme(scheme, kappa)
        self.backend = _hg.resolve_backend(backend)
        if isinstance(delta, Delta) and delta.kappa != kappa:
            raise ParameterError(f"delta is a {delta.kappa}-bit Delta but kappa = {kappa}")
        self.label_bytes = width = label_bytes_for(kappa)
        self._words = width // 8
        three = self.scheme == "threehalves"
        rng = Rng.ensure(rng) if delta is None or input_labels is None or three else rng
        self._rand = _th.RandomBits(rng) if three else None
        d = Delta(delta, kappa=kappa) if delta is not None else Delta(kappa=kappa, rng=rng)
        if input_labels is None:
            zero = rng.blocks(circuit.n_inputs, width)
        else:
            zero = split_input_labels(circuit.input_sizes, input_labels, "input_labels",
                                      width).copy()
        self.tweak_base = d.reserve(tweak_base)
        self._hi = tweak_high(self.tweak_base)
        self._delta64 = d.value.view(np.uint64)
        # built on first use: a protocol garbling many instances (Yao) never reads it
        self._delta_obj, self._zero_in, self._encoder = d, zero, None
        self._sched = circuit.schedule
        self._n_and = self._sched.and_count
        self._lab = _hg.take_labels(circuit.n_wires, self._words)
        self._lab[:circuit.n_inputs] = zero.view(np.uint64).reshape(-1, self._words)
        self._pos = 0
        self._k = 0
        self._done = False

    @property
    def encoder(self) -> Encoder:
        """The secret input encoding (Δ and the input zero-labels)."""
        if self._encoder is None:
            self._encoder = Encoder(self.circuit.input_sizes, self._delta_obj, self._zero_in)
        return self._encoder

    @property
    def delta(self) -> np.ndarray:
        return self._delta_obj.value

    @property
    def ands_remaining(self) -> int:
        return int(self._n_and - self._k)

    @property
    def done(self) -> bool:
        """True once every gate is garbled (output labels and decoding are known)."""
        return self._done

    def garble_into(self, out) -> int:
        """Garble the next AND tables straight into ``out``; return how many.

        ``out``: a writable C-contiguous ``(m, 2 * label_bytes)`` uint8 or
        ``(m, 4 * label_bytes / 8)`` uint64 array (e.g. a slice of a send buffer).
        Garbles ``min(m, ands_remaining)`` AND gates and the free gates after them;
        once no AND gate remains the garbling is complete (an empty ``out`` completes a
        circuit without AND gates).
        """
        if self._done:
            raise ParameterError("this garbler has already produced all its tables")
        t = table_view(out, self.ands_remaining, self._words)
        m = t.shape[0]
        k_end = self._k + m
        end = self._sched.chunk_end(k_end)
        self._garble_range(self._pos, end, t)
        self._pos, self._k = end, k_end
        if self._k == self._n_and:
            self._finish_free()
        return m

    def _garble_range(self, g0: int, g1: int, tables: np.ndarray) -> None:
        if self._rand is not None:
            _th.garble_range(self.backend, self._sched, g0, g1, self._k, self._lab,
                             self._delta64, tables, self._hi, self._rand)
        else:
            _hg.garble_range(self.backend, self._sched, g0, g1, self._k, self._lab,
                             self._delta64, tables, self._hi, check=False)

    def _garble_next(self, m: int) -> np.ndarray:
        tables = np.empty((m, 2 * self._words), dtype=np.uint64)
        self.garble_into(tables)
        if self._rand is not None:
            return _th.pack_tables(tables)
        return tables.view(np.uint8).reshape(m, 2 * self.label_bytes)

    def stream(self, chunk_ands: int = 1 << 16, by_level: bool = False) -> Iterator[np.ndarray]:
        """Yield the garbled tables as ``(m, 2 * label_bytes)`` uint8 chunks, in schedule order.

        Chunks hold ``chunk_ands`` AND gates (the last may be shorter) or, with
        ``by_level``, exactly the AND gates of one AND-depth level each. The evaluator
        may consume any chunking (:meth:`pqmpc.gc.evaluate.Evaluator.feed`). A circuit
        without AND gates yields nothing. Each chunk is a fresh array the caller may
        send and drop; the garbler keeps no copy. With ``scheme="threehalves"`` each
        chunk is the packed wire form of its tables (1-D uint8,
        :func:`pqmpc.gc.threehalves.pack_tables`).
        """
        if self._done or self._k:
            raise ParameterError("this garbler has already produced its tables")
        if chunk_ands < 1:
            raise ParameterError("chunk_ands must be >= 1")
        n_and = self._n_and
        if by_level:
            sizes = self._sched.level_sizes()
        else:
            sizes = [min(chunk_ands, n_and - k) for k in range(0, n_and, chunk_ands)]
        for m in sizes:
            yield self._garble_next(m)
        if not self._done:
            self.garble_into(np.empty((0, 2 * self._words), np.uint64))

    def _finish_free(self) -> None:
        n = self._sched.n_gates
        if self._pos < n:
            self._garble_range(self._pos, n, np.empty((0, 2 * self._words), np.uint64))
            self._pos = n
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

    def output_zero_labels(self, flat: bool = False):
        """Zero-labels of the output groups (for protocols that keep outputs garbled).

        One ``(m_j, label_bytes)`` array per output group, or with ``flat`` all of
        them as one ``(n_outputs, label_bytes)`` array.
        """
        if not self._done:
            raise ParameterError("output labels are known only after all tables are produced")
        if flat:
            return self._out_zero.copy()
        pos = np.concatenate([[0], np.cumsum(self.circuit.output_sizes)]).astype(int)
        return [self._out_zero[pos[j]:pos[j + 1]].copy() for j in range(len(pos) - 1)]

    def finish(self, out=None) -> GarbledCircuit:
        """Garble everything (in one pass) and return the :class:`GarbledCircuit`.

        ``out``: a caller's buffer for the tables (half-gates), ``(m, 2 * label_bytes)``
        uint8 or ``(m, label_bytes / 4)`` uint64 with ``m >= and_count``, C-contiguous;
        the result's ``tables`` is then a view of its first ``and_count`` rows and no
        table memory is allocated. Reusing one buffer across calls avoids the first-touch
        page faults a fresh multi-megabyte array costs on every call.
        """
        if self._done or self._k:
            raise ParameterError("this garbler has already produced its tables")
        if out is None:
            tables = self._garble_next(self._n_and)
        else:
            if self._rand is not None:
                raise ParameterError("out= takes half-gates tables; three-halves tables are packed "
                                     "(use garble_into with (m, 4) uint64 rows)")
            t = table_view(out, self._n_and, self._words)
            if t.shape[0] < self._n_and:
                raise ParameterError(f"out has {t.shape[0]} rows, the circuit needs {self._n_and}")
            self.garble_into(t)
            tables = t.view(np.uint8).reshape(self._n_and, 2 * self.label_bytes)
        return GarbledCircuit(self.circuit, tables, self.decoding, self.label_bytes,
                              self.tweak_base, self.scheme)


def garble(circuit: Circuit, rng: Rng | None = None, delta=None, input_labels=None,
           backend: str = "auto", kappa: int = 128, *,
           tweak_base: int | None = None,
           scheme: str = "halfgates", out=None) -> tuple[GarbledCircuit, Encoder]:
    """Garble ``circuit``: returns ``(garbled, encoder)``.

    ``delta``: optional global offset (16 bytes, or 32 at ``kappa=256``) with lsb 1;
    ``input_labels``: optional zero-labels of the input wires; ``backend``:
    ``"auto"``, ``"fused"`` or ``"levels"`` (same bytes, different speed; see
    :mod:`pqmpc.gc.halfgates`); ``kappa``: 128 (16-byte labels, fixed-key AES-128
    hash) or 256 (32-byte labels, AES-256 wide hash, for the post-quantum
    "doubled key" level); ``tweak_base``: the garbling id under this Δ (see
    :class:`Garbler`; the result carries it for the evaluator); ``scheme``:
    ``"halfgates"`` (32 bytes per AND) or ``"threehalves"`` (Rosulek–Roy, 197 bits per
    AND, κ = 128; :mod:`pqmpc.gc.threehalves`); ``out``: the caller's table buffer
    (half-gates, see :meth:`Garbler.finish`): ``garbled.tables`` is then a view of it.
    """
    g = Garbler(circuit, rng=rng, delta=delta, input_labels=input_labels, backend=backend,
                kappa=kappa, tweak_base=tweak_base, scheme=scheme)
    garbled = g.finish(out)
    return garbled, g.encoder

