"""Evaluating a half-gates garbled circuit, whole or from a stream of table chunks.

The evaluator holds one label per input wire and learns one label per wire; with
the decoding bits it learns the outputs and nothing else (semi-honest garbler and
evaluator, TCCR assumption on fixed-key AES; see :mod:`pqmpc.gc.garble`).
Tables arriving from a peer are shape-checked: a wrong size raises
:class:`~pqmpc.errors.ProtocolError` naming the step, never a numpy error. A
malicious garbler is not detected (semi-honest scheme). Post-quantum: only AES is
involved, so Grover's quadratic speed-up is the relevant quantum attack on the
128-bit labels. Python cannot promise constant time; evaluation time does not
depend on the input values, but nothing is hardened against timing side channels.
"""

from __future__ import annotations

import numpy as np

from pqmpc.errors import ParameterError, ProtocolError
from pqmpc.gc import halfgates as _hg
from pqmpc.gc import threehalves as _th
from pqmpc.gc.circuit import Circuit
from pqmpc.gc.garble import GarbledCircuit
from pqmpc.gc.labels import label_bytes_for, split_input_labels
from pqmpc.gc.tweaks import tweak_high

__all__ = ["Evaluator", "evaluate_garbled", "evaluate_stream"]


def _infer_kappa(labels) -> int:
    """128 or 256 from the width of the first label array (128 if there is none)."""
    first = labels if isinstance(labels, np.ndarray) else next(
        (x for x in labels if np.asarray(x).ndim == 2 and np.asarray(x).shape[0]), None)
    width = np.asarray(first).shape[1] if first is not None and np.asarray(first).ndim == 2 else 16
    return 256 if width == 32 else 128


class Evaluator:
    """Consumes garbled tables in schedule order, in chunks of any size.

    ``kappa`` (128 or 256) defaults to what the width of ``labels`` says;
    ``tweak_base`` is the garbler's garbling id (public, see :class:`pqmpc.gc.Garbler`);
    ``scheme`` must be the garbler's (``"halfgates"`` or ``"threehalves"``).
    """

    def __init__(self, circuit: Circuit, labels, backend: str = "auto", kappa: int | None = None,
                 *, tweak_base: int = 0, scheme: str = "halfgates"):
        self.circuit = circuit
        self.backend = _hg.resolve_backend(backend)
        if kappa is None:
            labels = labels if isinstance(labels, np.ndarray) else list(labels)
            kappa = _infer_kappa(labels)
        self.scheme = _th.check_scheme(scheme, kappa)
        self.label_bytes = width = label_bytes_for(kappa)
        self._words = width // 8
        lab_in = split_input_labels(circuit.input_sizes, labels, "labels", width)
        self.tweak_base = int(tweak_base)
        self._hi = tweak_high(self.tweak_base)
        self._sched = circuit.schedule
        self._n_and = self._sched.and_count
        self._lab = _hg.take_labels(circuit.n_wires, self._words)
        self._lab[:circuit.n_inputs] = lab_in.view(np.uint64).reshape(-1, self._words)
        self._pos = 0
        self._k = 0

    @property
    def ands_remaining(self) -> int:
        return int(self._n_and - self._k)

    def _check_open(self, step):
        if self._lab is None:
            raise ProtocolError(f"{step}: evaluation already finished")

    def feed(self, tables, step: str = "garbled tables") -> None:
        """Evaluate the gates covered by the next ``len(tables)`` AND tables.

        ``tables``: ``(m, T)`` or ``(m, 2, T/2)`` uint8, ``(m, T/8)`` uint64, or bytes
        of length ``T m``, where ``T = 2 * label_bytes`` (32 at κ = 128, 64 at κ = 256).
        Once no AND gate remains, the free gates after the last one are evaluated too.

        Three-halves: bytes or a 1-D uint8 array in the packed wire form (any number
        of tables, :func:`pqmpc.gc.threehalves.pack_tables`), or ``(m, 4)`` uint64 /
        ``(m, 32)`` uint8 rows ``G0, G1, G2, z``.
        """
        if self.scheme == "threehalves":
            self._feed_rows(self._th_rows(tables, step), step)
            return
        tb = 2 * self.label_bytes
        if isinstance(tables, (bytes, bytearray, memoryview)):
            raw = np.frombuffer(tables, dtype=np.uint8)
            if raw.size % tb:
                raise ProtocolError(f"{step}: {raw.size} bytes is not a multiple of {tb}")
            tables = raw.reshape(-1, tb)
        t = np.asarray(tables)
        if t.dtype == np.uint64 and t.ndim == 2 and t.shape[1] == tb // 8:
            t64 = np.ascontiguousarray(t)
        elif t.dtype == np.uint8 and t.ndim >= 2 and t.size == t.shape[0] * tb:
            t64 = np.ascontiguousarray(t).reshape(t.shape[0], tb).view(np.uint64)
        else:
            raise ProtocolError(f"{step}: expected (m, {tb}) uint8 tables, got {t.dtype} "
                                f"{t.shape}")
        self._feed_rows(t64, step)

    def _th_rows(self, tables, step):
        if isinstance(tables, (bytes, bytearray, memoryview)) or (
                isinstance(tables, np.ndarray) and tables.dtype == np.uint8 and tables.ndim == 1):
            return _th.unpack_tables(tables, None, step)
        t = np.asarray(tables)
        if t.dtype == np.uint8 and t.ndim == 2 and t.shape[1] == 32:
            t = np.ascontiguousarray(t).view(np.uint64)
        if t.dtype != np.uint64 or t.ndim != 2 or t.shape[1] != _th.ROW_WORDS:
            raise ProtocolError(f"{step}: expected packed three-halves bytes or (m, 4) uint64 "
                                f"rows, got {t.dtype} {t.shape}")
        return np.ascontiguousarray(t)

    def _range(self, g0, g1, t64):
        if self.scheme == "threehalves":
            _th.evaluate_range(self.backend, self._sched, g0, g1, self._k, self._lab, t64,
                               self._hi)
        else:
            _hg.evaluate_range(self.backend, self._sched, g0, g1, self._k, self._lab, t64,
                               self._hi, check=False)

    def _feed_rows(self, t64, step):
        m = t64.shape[0]
        self._check_open(step)
        if m > self.ands_remaining:
            raise ProtocolError(f"{step}: got {m} tables but only {self.ands_remaining} AND "
                                f"gates remain")
        k_end = self._k + m
        end = self._sched.chunk_end(k_end)
        self._range(self._pos, end, t64)
        self._pos, self._k = end, k_end

    def finish(self, step: str = "garbled tables", flat: bool = False, out=None):
        """Output labels, one ``(m_j, label_bytes)`` array per output group (with ``flat``,
        all as one ``(n_outputs, label_bytes)`` array).

        ``out``: a writable C-contiguous ``(n_outputs, label_bytes)`` uint8 buffer the
        labels are written into; the arrays returned are then views of it.
        """
        self._check_open(step)
        c = self.circuit
        if out is not None and (not isinstance(out, np.ndarray) or out.dtype != np.uint8
                                or out.shape != (c.n_outputs, self.label_bytes)
                                or not out.flags.c_contiguous or not out.flags.writeable):
            raise ParameterError(f"out must be a writable C-contiguous ({c.n_outputs}, "
                                 f"{self.label_bytes}) uint8 array")
        if self.ands_remaining:
            raise ProtocolError(f"{step}: {self.ands_remaining} AND tables missing")
        n = self._sched.op.shape[0]
        if self._pos < n:
            self._range(self._pos, n, np.empty((0, 2 * self._words), np.uint64))
            self._pos = n
        rows = self._lab[c.n_wires - c.n_outputs:c.n_wires]
        if out is None:
            out = np.empty((c.n_outputs, self.label_bytes), np.uint8)
        out.view(np.uint64).reshape(rows.shape)[:] = rows
        _hg.give_back_labels(self._lab)
        self._lab = None
        if flat:
            return out
        pos = np.concatenate([[0], np.cumsum(c.output_sizes)]).astype(np.int64)
        return [out[pos[j]:pos[j + 1]] for j in range(len(c.output_sizes))]


def evaluate_garbled(garbled: GarbledCircuit, labels, backend: str = "auto", *, out=None) -> list[np.ndarray]:
    """Output labels of ``garbled`` on the input ``labels`` (one array per input group);
    ``out``: an ``(n_outputs, label_bytes)`` uint8 buffer to write them into (see
    :meth:`Evaluator.finish`)."""
    if not isinstance(garbled, GarbledCircuit):
        raise ParameterError("evaluate_garbled needs a GarbledCircuit")
    ev = Evaluator(garbled.circuit, labels, backend=backend, kappa=garbled.kappa,
                   tweak_base=garbled.tweak_base, scheme=garbled.scheme)
    if garbled.circuit.and_count:
        ev.feed(garbled.tables)
    return ev.finish(out=out)


def evaluate_stream(circuit: Circuit, labels, chunks, backend: str = "auto",
                    kappa: int | None = None, *, tweak_base: int = 0,
                    scheme: str = "halfgates") -> list[np.ndarray]:
    """Evaluate from an iterable of table chunks (e.g. :meth:`Garbler.stream`)."""
    ev = Evaluator(circuit, labels, backend=backend, kappa=kappa, tweak_base=tweak_base,
                   scheme=scheme)
    for chunk in chunks:
        ev.feed(chunk)
    return ev.finish()
