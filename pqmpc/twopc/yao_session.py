"""The state both Yao roles share: handshake, layout, label slots, checked receives,
and the threads that overlap sending/receiving table chunks with garbling.

Every receive here is bounded by what its step expects (the circuit, the agreed
batch, the AND gates still to come), and every malformed control message ends in
:class:`~pqmpc.errors.ProtocolError` naming the step.
"""

from __future__ import annotations

import queue
import threading
import time

import numpy as np

from pqmpc.errors import HandshakeError, ParameterError, ProtocolError
from pqmpc.gc import Circuit, label_bytes_for, resolve_backend
from pqmpc.net import Channel, handshake

from ..gc.threehalves import check_scheme, packed_size, unpack_tables
from .yao_setup import circuit_digest, ot_name

__all__ = ["Session", "Sender", "Receiver", "recv_rows", "recv_packed_rows", "SCHEME_NAMES",
           "PROTOCOL", "VERSION", "MAX_PEER_BATCH_BYTES", "TABLES_STEP"]

PROTOCOL = "pqmpc-yao"
# 2: batch instance i is garbling id i in the high tweak word (was: one AND counter
# running across instances); κ = 256 sessions
VERSION = 2
#: Memory a batch announced by the peer may make us hold (labels kept per instance; the OT
#: results for them are written at once, so this is resident memory, not only address space)
#: when we do not batch ourselves; ``max_batch=`` raises or lowers the instance count.
MAX_PEER_BATCH_BYTES = 1 << 24
CONTROL_MAX_BYTES = 4096
TABLES_STEP = "Yao step 5 (garbled tables)"
#: What the handshake calls each (scheme, kappa): peers must agree on it exactly.
SCHEME_NAMES = {("halfgates", 128): "half-gates/free-xor/tccr-aes128",
                ("halfgates", 256): "half-gates/free-xor/tccr-aes256-wide",
                ("threehalves", 128): "three-halves/free-xor/tccr-aes128"}

def recv_rows(ch: Channel, dtype, width: int, max_rows: int, step: str) -> np.ndarray:
    """One message of 1..``max_rows`` rows of ``width`` items, never more bytes than that."""
    row_bytes = np.dtype(dtype).itemsize * width
    cap = max(1, max_rows) * row_bytes
    arr = ch.recv_array(dtype, (-1, width), step, max_bytes=cap)  # checked on the announced length
    if arr.shape[0] == 0 or arr.shape[0] > max_rows:
        raise ProtocolError(f"{step}: got {arr.shape[0]} rows, expected between 1 and {max_rows}")
    return arr


def recv_packed_rows(ch: Channel, max_rows: int, step: str) -> np.ndarray:
    """One message of 1..``max_rows`` packed three-halves tables, as ``(m, 4) uint64`` rows;
    the cap is the packed size of ``max_rows`` tables, checked on the announced length."""
    raw = ch.recv_array(np.uint8, (-1,), step, max_bytes=packed_size(max(1, max_rows)))
    rows = unpack_tables(raw, None, step)
    if rows.shape[0] == 0 or rows.shape[0] > max_rows:
        raise ProtocolError(f"{step}: got {rows.shape[0]} tables, expected between 1 and {max_rows}")
    return rows


def recv_control(ch: Channel, step: str):
    """A small JSON control message (capped before its body is read; malformed JSON, an
    integer past Python's digit limit or deep nesting are a ProtocolError naming ``step``)."""
    return ch.recv_json(step, max_bytes=CONTROL_MAX_BYTES)


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


class Session:
    """Everything both sides derive identically from the circuit and the handshake."""

    def __init__(self, ch: Channel, role: str, circuit: Circuit, mine, g_groups, e_groups, reveal, ot,
                 chunk_ands, backend, info, kappa: int = 128, max_batch: int | None = None,
                 scheme: str = "halfgates"):
        self.scheme = check_scheme(scheme, kappa)
        self.ch, self.role, self.circuit = ch, role, circuit
        self.g_groups, self.e_groups = g_groups, e_groups
        self.reveal, self.ot, self.chunk = reveal, ot, int(chunk_ands)
        self.backend = resolve_backend(backend)
        self.kappa = kappa
        self.label_bytes = label_bytes_for(kappa)
        self.words = self.label_bytes // 8
        if max_batch is not None and (not _is_int(max_batch) or max_batch < 0):
            raise ParameterError("max_batch must be a non-negative integer or None")
        self.max_batch = max_batch
        self.info = info
        self.mine = mine
        self.step = "handshake"
        self.t_start = time.perf_counter()
        self.stats0 = ch.stats.snapshot()
        self.phase_t0 = self.t_start
        self.phase_s0 = self.stats0
        self.phases: dict[str, dict] = {}
        self.phases_extra: dict = {}
        self._starts = [0] + np.cumsum(circuit.input_sizes).tolist()

    # -- bookkeeping -------------------------------------------------------------

    def phase(self, name: str) -> None:
        """Close the running phase (time and bytes) and open ``name``."""
        now = time.perf_counter()
        snap = self.ch.stats.snapshot()
        d = snap.since(self.phase_s0)
        self.phases[self.step] = {"seconds": now - self.phase_t0, "bytes_sent": d.bytes_sent,
                                  "bytes_received": d.bytes_received}
        self.step, self.phase_t0, self.phase_s0 = name, now, snap

    def finish_info(self, batch: int, tables_phase: str) -> None:
        self.phase("done")
        if self.info is None:
            return
        d = self.ch.stats.snapshot().since(self.stats0)
        c = self.circuit
        self.info.update({
            "role": self.role, "seconds": time.perf_counter() - self.t_start, "bytes_sent": d.bytes_sent,
            "bytes_received": d.bytes_received, "messages_sent": d.messages_sent,
            "messages_received": d.messages_received, "and_count": c.and_count, "batch": batch,
            "instances": max(batch, 1), "ands_garbled": c.and_count * max(batch, 1), "reveal": self.reveal,
            "ot": ot_name(self.ot), "backend": self.backend, "kappa": self.kappa, "phases": self.phases,
        })
        self.info["phases"][tables_phase].update(self.phases_extra)

    def wrap(self, exc: Exception) -> Exception:
        msg = f"Yao {self.role} ({self.step}): {exc}"
        try:
            new = type(exc)(msg)
        except Exception:
            return exc
        return new

    # -- steps 1 and 2 -----------------------------------------------------------

    def agree(self) -> None:
        c = self.circuit
        scheme = SCHEME_NAMES[self.scheme, self.kappa]
        params = {"circuit": circuit_digest(c), "input_sizes": list(c.input_sizes),
                  "output_sizes": list(c.output_sizes), "garbler_inputs": list(self.g_groups),
                  "evaluator_inputs": list(self.e_groups), "reveal": self.reveal, "ot": ot_name(self.ot),
                  "label_bytes": self.label_bytes, "scheme": scheme}
        peer = "evaluator" if self.role == "garbler" else "garbler"
        handshake(self.ch, PROTOCOL, VERSION, params, role=self.role, peer_role=peer)

    def _peer_batch_cap(self, pgroups) -> int:
        """The largest batch the peer may announce when we do not batch ourselves."""
        if self.max_batch is not None:
            return self.max_batch
        c = self.circuit
        # what a peer's batch makes us hold per instance: output labels, its batched
        # input labels or OT blocks, and our copy of its inputs' labels
        per_instance = self.label_bytes * (c.n_outputs + sum(c.input_sizes[j] for j in pgroups)) + 1
        return MAX_PEER_BATCH_BYTES // per_instance

    def layout(self, my_batch, my_groups) -> int:
        """Exchange batch sizes; returns the common batch (0 means 'not batched')."""
        self.phase("layout")
        step = "Yao step 2 (layout)"
        batched = sorted(j for j in my_groups if self.mine[j].ndim == 2)
        self.ch.send_json({"batch": my_batch, "batched": batched})
        theirs = recv_control(self.ch, step)
        if not isinstance(theirs, dict) or set(theirs) != {"batch", "batched"}:
            raise ProtocolError(f"{step}: malformed layout message")
        pb, pgroups = theirs["batch"], theirs["batched"]
        peer_groups = self.e_groups if self.role == "garbler" else self.g_groups
        if pb is not None and (not _is_int(pb) or pb < 0):
            raise ProtocolError(f"{step}: bad batch size {str(pb)[:40]!r}")
        if (not isinstance(pgroups, list) or len(pgroups) > len(peer_groups)
                or any(not _is_int(j) or j not in peer_groups for j in pgroups)
                or len(set(pgroups)) != len(pgroups) or (pb is None) != (not pgroups)):
            raise ProtocolError(f"{step}: bad list of batched inputs {str(pgroups)[:80]}")
        if my_batch is not None and pb is not None and my_batch != pb:
            raise HandshakeError(f"Yao layout: batch sizes differ, ours {my_batch}, peer's {pb}")
        if pb is not None and my_batch is None:
            cap = self._peer_batch_cap(pgroups)
            # never let a peer's number size our allocations
            if pb > cap:
                raise ProtocolError(f"{step}: the peer announces a batch of {pb} instances, above the "
                                    f"{cap} this party accepts (max_batch=)")
        self.peer_batched = set(pgroups)
        self.my_batched = set(batched)
        self.batched = my_batch is not None or pb is not None
        return my_batch if my_batch is not None else (pb if pb is not None else 1)

    # -- label slots ---------------------------------------------------------------

    def group_rows(self, j: int, batch: int) -> int:
        """How many label rows group ``j`` needs: one set if shared, one per instance if batched."""
        return batch if (j in self.my_batched or j in self.peer_batched) else 1

    def slots(self, groups, batch: int):
        """Offsets of each group's labels in that party's flat label array."""
        off, table = 0, {}
        for j in groups:
            rows = self.group_rows(j, batch)
            table[j] = (off, rows)
            off += rows * self.circuit.input_sizes[j]
        return table, off

    def flat_bits(self, groups, batch: int) -> np.ndarray:
        parts = []
        for j in groups:
            a = self.mine[j]
            rows = self.group_rows(j, batch)
            parts.append(a.reshape(-1) if a.ndim == 2 else a if rows == 1 else None)
            if parts[-1] is None:  # cannot happen: only the owner batches its groups
                raise ParameterError("internal layout error")
        return np.concatenate(parts) if parts else np.zeros(0, np.uint8)

    def instance_labels(self, parts, inst: int, out: np.ndarray) -> np.ndarray:
        """Instance ``inst``'s input labels: ``parts`` is ``[(groups, slot table, flat labels), ...]``
        for the two parties; ``out`` is an ``(n_inputs, label_bytes)`` array to fill."""
        starts = self._starts
        for groups, table, flat in parts:
            for j in groups:
                off, rows = table[j]
                n = self.circuit.input_sizes[j]
                r = inst if rows > 1 else 0
                out[starts[j]:starts[j] + n] = flat[off + r * n: off + (r + 1) * n]
        return out


class Sender:
    """Sends table chunks from a helper thread.

    A socket write releases the GIL, so the next chunk is garbled while the previous
    one is on its way; ``depth`` bounds the chunks in flight (memory stays bounded).
    Only this thread touches the channel until :meth:`close` returns.
    """

    def __init__(self, ch: Channel, rows: int, row_bytes: int, depth: int = 2):
        self.ch, self.error, self.seconds = ch, None, 0.0
        self.free: queue.SimpleQueue = queue.SimpleQueue()
        self.todo: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(depth + 1):
            self.free.put(np.empty((rows, row_bytes), dtype=np.uint8))
        self.thread = threading.Thread(target=self._run, daemon=True, name="pqmpc-yao-send")
        self.thread.start()

    def _run(self) -> None:
        while True:
            item = self.todo.get()
            if item is None:
                return
            buf, n, payload = item
            if self.error is None:
                try:
                    t0 = time.perf_counter()
                    self.ch.send(buf[:n] if payload is None else payload)
                    self.seconds += time.perf_counter() - t0
                except BaseException as exc:  # handed to the garbling thread
                    self.error = exc
            self.free.put(buf)

    def buffer(self) -> np.ndarray:
        buf = self.free.get()
        if self.error is not None:
            raise self.error
        return buf

    def submit(self, buf: np.ndarray, n: int, payload: np.ndarray | None = None) -> None:
        """Send ``buf[:n]`` (or ``payload``, e.g. its packed form) and recycle ``buf``."""
        self.todo.put((buf, n, payload))

    def close(self, wait: bool = True) -> None:
        self.todo.put(None)
        if wait:
            self.thread.join()
            if self.error is not None:
                raise self.error


class Receiver:
    """Receives and checks table chunks in a helper thread, ``depth`` chunks ahead."""

    def __init__(self, ch: Channel, total: int, row_words: int, depth: int = 2, packed: bool = False):
        self.ch, self.total, self.row_words, self.seconds = ch, total, row_words, 0.0
        self.packed = packed
        self.q: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True, name="pqmpc-yao-recv")
        self.thread.start()

    def _put(self, item) -> None:
        while not self.stop:
            try:
                self.q.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        remaining = self.total
        try:
            while remaining and not self.stop:
                t0 = time.perf_counter()
                cur = recv_packed_rows(self.ch, remaining, TABLES_STEP) if self.packed else \
                    recv_rows(self.ch, np.uint64, self.row_words, remaining, TABLES_STEP)
                self.seconds += time.perf_counter() - t0
                remaining -= cur.shape[0]
                self._put(cur)
        except BaseException as exc:  # handed to the evaluating thread
            self._put(exc)

    def get(self) -> np.ndarray:
        item = self.q.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self.stop = True
