"""Yao's garbled-circuit two-party computation over correlated OT.

``yao_garbler(ch, circuit, inputs)`` and ``yao_evaluator(ch, circuit, inputs)`` run
one session and both return the plain outputs in :meth:`Circuit.evaluate` form
(``None`` for a party that ``reveal`` leaves out).

Protocol (all messages length-checked; a bad one raises :class:`ProtocolError`
naming the step):

1. **handshake** — protocol, version, circuit digest, input/output sizes, who owns
   which input group, ``reveal``, OT kind. Any difference: :class:`HandshakeError`
   on both sides.
2. **layout** — each side states its batch size and which of its groups are
   batched (``(batch, n)`` rows) or shared by every instance (``(n,)``).
3. **evaluator input labels by correlated OT** — the garbler's free-XOR offset Δ
   (lsb 1) *is* the OT correlation: the garbler gets ``q`` and uses ``q_i`` as the
   zero-label of the evaluator's ``i``-th input wire, the evaluator gets
   ``t_i = q_i ⊕ b_i·Δ``, which is exactly the label of its bit ``b_i``. No extra
   message and no hashing: 16 bytes of COT per evaluator input bit (IKNP; far less
   with Ferret).
4. **garbler input labels** — the active labels of the garbler's own bits, sent
   directly (16 bytes per bit).
5. **garbled tables** — half-gates (32 bytes per AND), garbled and sent in chunks
   of ``chunk_ands`` tables while the evaluator evaluates each chunk as it arrives,
   so neither side ever holds more than one chunk of tables (memory is the wire
   labels, 16 bytes per wire, plus one chunk). Instances of a batch are garbled one
   after another under the same Δ with globally distinct hash tweaks.
6. **output** — ``reveal="evaluator"`` or ``"both"``: the garbler sends the permute
   bits of the output zero-labels and the evaluator decodes. ``"garbler"`` or
   ``"both"``: the evaluator returns its output *labels*; the garbler checks each is
   one of the two labels of its wire (so a wrong output is detected, not trusted)
   and decodes.

Security: **semi-honest** (honest-but-curious) parties. The evaluator learns its
outputs and nothing else about the garbler's inputs, assuming the fixed-key-AES
TCCR hash of the half-gates scheme (see :mod:`pqmpc.gc.garble`) and the security
of the OT. The garbler learns nothing about the evaluator's inputs (OT receiver
privacy) and, with ``reveal="garbler"|"both"``, the outputs. A malicious garbler can
garble a different function, and a malicious evaluator can abort or withhold the
result; neither is defended against. What is post-quantum: the base OTs under IKNP
or Ferret (ML-KEM by default; Module-LWE) — there is no discrete-log or factoring
assumption anywhere in a run. The symmetric parts (128-bit labels, AES-128 fixed
key) lose at most a square root to Grover (≈2^64 quantum work to find Δ for one
target). Python cannot promise constant time: label bits drive numpy masks and
memory access patterns in both processes.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence

import numpy as np

from pqmpc.errors import ChannelError, HandshakeError, ParameterError, ProtocolError
from pqmpc.gc import halfgates as _hg
from pqmpc.gc.circuit import Circuit
from pqmpc.net import Channel, handshake
from pqmpc.rng import Rng

PROTOCOL = "pqmpc-yao"
VERSION = 1
REVEALS = ("both", "garbler", "evaluator")
OT_KINDS = ("iknp", "ferret", "base")
LABEL_BYTES = 16
DEFAULT_CHUNK_ANDS = 1 << 16  # 2 MiB of tables per message
MAX_BATCH_BYTES = 1 << 34  # labels a peer-chosen batch may make us hold (16 GiB)


# ---------------------------------------------------------------------------------
# arguments
# ---------------------------------------------------------------------------------

def _ownership(circuit: Circuit, garbler_inputs, evaluator_inputs) -> tuple[tuple[int, ...], tuple[int, ...]]:
    n = len(circuit.input_sizes)
    g = (0,) if garbler_inputs is None else tuple(int(j) for j in _as_index_list(garbler_inputs))
    if evaluator_inputs is None:
        e = tuple(j for j in range(n) if j not in g)
    else:
        e = tuple(int(j) for j in _as_index_list(evaluator_inputs))
    if n == 0:
        g = () if garbler_inputs is None else g
    owned = list(g) + list(e)
    if any(j < 0 or j >= n for j in owned):
        raise ParameterError(f"input indices must be in 0..{n - 1}; garbler {list(g)}, evaluator {list(e)}")
    if sorted(owned) != list(range(n)):
        raise ParameterError(f"every circuit input must belong to exactly one party: circuit has {n} inputs, "
                             f"garbler owns {list(g)}, evaluator owns {list(e)}")
    return g, e


def _as_index_list(x) -> list:
    if isinstance(x, (int, np.integer)):
        return [int(x)]
    return list(x)


def _normalise_inputs(circuit: Circuit, groups: Sequence[int], inputs, who: str):
    """Own inputs as ``{group: array}`` (1-D shared or 2-D batched) and the batch size."""
    if isinstance(inputs, np.ndarray) and len(groups) == 1:
        inputs = [inputs]
    if inputs is None:
        inputs = []
    inputs = list(inputs)
    if len(inputs) != len(groups):
        raise ParameterError(f"the {who} owns circuit inputs {list(groups)} and must give {len(groups)} "
                             f"input array(s), got {len(inputs)}")
    out, batch = {}, None
    for j, x in zip(groups, inputs):
        a = np.asarray(x)
        n = circuit.input_sizes[j]
        if a.ndim == 1 and a.shape[0] == n:
            pass
        elif a.ndim == 2 and a.shape[1] == n:
            if batch is not None and a.shape[0] != batch:
                raise ParameterError(f"{who} inputs have different batch sizes ({batch} and {a.shape[0]})")
            batch = a.shape[0]
        else:
            raise ParameterError(f"circuit input {j} has {n} bits: give shape ({n},) or (batch, {n}), "
                                 f"got {a.shape}")
        if a.size and (a.dtype.kind not in "uib" or a.min() < 0 or a.max() > 1):
            raise ParameterError(f"circuit input {j}: values must be 0 or 1")
        out[j] = np.ascontiguousarray(a, dtype=np.uint8)
    return out, batch


def _ot_name(ot) -> str:
    if isinstance(ot, str):
        return ot
    return str(getattr(ot, "name", type(ot).__name__))


def _ot_object(ot):
    """The OT engine for a kind name, or the caller's own OT object."""
    if not isinstance(ot, str):
        if not (hasattr(ot, "send_correlated") or hasattr(ot, "send")):
            raise ParameterError("ot must be 'iknp', 'ferret', 'base' or an OT object")
        return ot
    if ot == "iknp":
        from pqmpc.ot import IKNP
        return IKNP()
    if ot == "ferret":
        from pqmpc.ot import Ferret
        return Ferret()
    if ot == "base":
        from pqmpc.ot import KyberOT
        return KyberOT()
    raise ParameterError(f"ot must be one of {OT_KINDS} or an OT object, got {ot!r}")


def _check_common(circuit, reveal, chunk_ands, ot):
    if isinstance(ot, str) and ot not in OT_KINDS:
        raise ParameterError(f"ot must be one of {OT_KINDS} or an OT object, got {ot!r}")
    if not isinstance(ot, str) and not (hasattr(ot, "send_correlated") or hasattr(ot, "send")):
        raise ParameterError("ot must be 'iknp', 'ferret', 'base' or an OT object")
    if not isinstance(circuit, Circuit):
        raise ParameterError(f"circuit must be a pqmpc.gc.Circuit, got {type(circuit).__name__}")
    if reveal not in REVEALS:
        raise ParameterError(f"reveal must be one of {REVEALS}, got {reveal!r}")
    if not isinstance(chunk_ands, (int, np.integer)) or chunk_ands < 1:
        raise ParameterError("chunk_ands must be a positive integer")


_DIGESTS: dict[int, tuple[object, str]] = {}


def circuit_digest(circuit: Circuit) -> str:
    """Hex SHA-256 of the canonical Bristol text, memoised per circuit object.

    Circuits are immutable (their arrays are read-only), so the digest of a circuit
    object never changes; the memo saves the text rendering on repeated runs.
    """
    import weakref

    key = id(circuit)
    hit = _DIGESTS.get(key)
    if hit is not None and hit[0]() is circuit:
        return hit[1]
    digest = circuit.digest().hex()
    ref = weakref.ref(circuit, lambda _r, k=key: _DIGESTS.pop(k, None))
    _DIGESTS[key] = (ref, digest)
    return digest


# ---------------------------------------------------------------------------------
# the session shared by both roles
# ---------------------------------------------------------------------------------

class _Session:
    """Everything both sides derive identically from the circuit and the handshake."""

    def __init__(self, ch: Channel, role: str, circuit: Circuit, mine, g_groups, e_groups, reveal, ot,
                 chunk_ands, backend, info):
        self.ch, self.role, self.circuit = ch, role, circuit
        self.g_groups, self.e_groups = g_groups, e_groups
        self.reveal, self.ot, self.chunk = reveal, ot, int(chunk_ands)
        self.backend = _hg.resolve_backend(backend)
        self.info = info
        self.mine = mine
        self.step = "handshake"
        self.t_start = time.perf_counter()
        self.stats0 = ch.stats.snapshot()
        self.phase_t0 = self.t_start
        self.phase_s0 = self.stats0
        self.phases: dict[str, dict] = {}

    # -- bookkeeping -------------------------------------------------------------

    def phase(self, name: str) -> None:
        """Close the running phase (time and bytes) and open ``name``."""
        now = time.perf_counter()
        snap = self.ch.stats.snapshot()
        d = snap.since(self.phase_s0)
        self.phases[self.step] = {"seconds": now - self.phase_t0, "bytes_sent": d.bytes_sent,
                                  "bytes_received": d.bytes_received}
        self.step, self.phase_t0, self.phase_s0 = name, now, snap

    def finish_info(self, batch: int) -> None:
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
            "ot": _ot_name(self.ot), "backend": self.backend, "phases": self.phases,
        })

    # -- steps 1 and 2 -----------------------------------------------------------

    def agree(self, rng_label_bytes: int = LABEL_BYTES) -> None:
        c = self.circuit
        params = {"circuit": circuit_digest(c), "input_sizes": list(c.input_sizes),
                  "output_sizes": list(c.output_sizes), "garbler_inputs": list(self.g_groups),
                  "evaluator_inputs": list(self.e_groups), "reveal": self.reveal, "ot": _ot_name(self.ot),
                  "label_bytes": rng_label_bytes, "scheme": "half-gates/free-xor/tccr-aes128"}
        peer = "evaluator" if self.role == "garbler" else "garbler"
        handshake(self.ch, PROTOCOL, VERSION, params, role=self.role, peer_role=peer)

    def layout(self, my_batch, my_groups) -> int:
        """Exchange batch sizes; returns the common batch (0 means 'not batched')."""
        self.phase("layout")
        batched = sorted(j for j in my_groups if self.mine[j].ndim == 2)
        self.ch.send_json({"batch": my_batch, "batched": batched})
        theirs = self.ch.recv_json("Yao step 2 (layout)")
        if not isinstance(theirs, dict) or set(theirs) != {"batch", "batched"}:
            raise ProtocolError("Yao step 2 (layout): malformed layout message")
        pb, pgroups = theirs["batch"], theirs["batched"]
        peer_groups = self.e_groups if self.role == "garbler" else self.g_groups
        if pb is not None and (not isinstance(pb, int) or isinstance(pb, bool) or pb < 0 or pb > 1 << 40):
            raise ProtocolError(f"Yao step 2 (layout): bad batch size {pb!r}")
        if (not isinstance(pgroups, list) or any(not isinstance(j, int) or j not in peer_groups for j in pgroups)
                or len(set(pgroups)) != len(pgroups) or (pb is None) != (not pgroups)):
            raise ProtocolError(f"Yao step 2 (layout): bad list of batched inputs {pgroups!r}")
        if my_batch is not None and pb is not None and my_batch != pb:
            raise HandshakeError(f"Yao layout: batch sizes differ, ours {my_batch}, peer's {pb}")
        if pb is not None and my_batch is None:
            c = self.circuit
            # never let a peer's number size our allocations: outputs and labels are kept per instance
            per_instance = LABEL_BYTES * (c.n_outputs + sum(c.input_sizes[j] for j in pgroups))
            if pb * per_instance > MAX_BATCH_BYTES:
                raise ProtocolError(f"Yao step 2 (layout): a batch of {pb} instances would need "
                                    f"{pb * per_instance} bytes of labels, above {MAX_BATCH_BYTES}")
        self.peer_batched = set(pgroups)
        self.my_batched = set(batched)
        self.batched = my_batch is not None or pb is not None
        return my_batch if my_batch is not None else (pb if pb is not None else 1)

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

    def instance_labels(self, lab_flat: np.ndarray, groups, table, inst: int, out: np.ndarray) -> None:
        """Copy instance ``inst``'s labels of ``groups`` into the input wires of ``out``."""
        starts = np.concatenate([[0], np.cumsum(self.circuit.input_sizes)]).astype(np.int64)
        for j in groups:
            off, rows = table[j]
            n = self.circuit.input_sizes[j]
            r = inst if rows > 1 else 0
            out[starts[j]:starts[j] + n] = lab_flat[off + r * n: off + (r + 1) * n]

    def wrap(self, exc: Exception) -> Exception:
        msg = f"Yao {self.role} ({self.step}): {exc}"
        try:
            new = type(exc)(msg)
        except Exception:
            return exc
        return new


def _blocks_u64(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x).view(np.uint64).reshape(-1, 2)


class _Sender:
    """Sends table chunks from a helper thread.

    A socket write releases the GIL, so the next chunk is garbled while the previous
    one is on its way; ``depth`` bounds the chunks in flight (memory stays bounded).
    Only this thread touches the channel until :meth:`close` returns.
    """

    def __init__(self, ch: Channel, rows: int, depth: int = 2):
        self.ch, self.error, self.seconds = ch, None, 0.0
        self.free: queue.SimpleQueue = queue.SimpleQueue()
        self.todo: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(depth + 1):
            self.free.put(np.empty((rows, 4), dtype=np.uint64))
        self.thread = threading.Thread(target=self._run, daemon=True, name="pqmpc-yao-send")
        self.thread.start()

    def _run(self) -> None:
        while True:
            item = self.todo.get()
            if item is None:
                return
            buf, n = item
            if self.error is None:
                try:
                    t0 = time.perf_counter()
                    self.ch.send(buf[:n])
                    self.seconds += time.perf_counter() - t0
                except BaseException as exc:  # handed to the garbling thread
                    self.error = exc
            self.free.put(buf)

    def buffer(self) -> np.ndarray:
        buf = self.free.get()
        if self.error is not None:
            raise self.error
        return buf

    def submit(self, buf: np.ndarray, n: int) -> None:
        self.todo.put((buf, n))

    def close(self, wait: bool = True) -> None:
        self.todo.put(None)
        if wait:
            self.thread.join()
            if self.error is not None:
                raise self.error


class _Receiver:
    """Receives and checks table chunks in a helper thread, ``depth`` chunks ahead."""

    STEP = "Yao step 5 (garbled tables)"

    def __init__(self, ch: Channel, total: int, depth: int = 2):
        self.ch, self.total, self.seconds = ch, total, 0.0
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
                cur = self.ch.recv_array(np.uint64, (-1, 4), self.STEP)
                self.seconds += time.perf_counter() - t0
                if cur.shape[0] == 0 or cur.shape[0] > remaining:
                    raise ProtocolError(f"{self.STEP}: got {cur.shape[0]} tables, expected between 1 and "
                                        f"{remaining}")
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


# ---------------------------------------------------------------------------------
# garbler
# ---------------------------------------------------------------------------------

def yao_garbler(ch: Channel, circuit: Circuit, inputs, rng: Rng | None = None, *, garbler_inputs=None,
                evaluator_inputs=None, reveal: str = "both", ot="iknp", chunk_ands: int = DEFAULT_CHUNK_ANDS,
                backend: str = "auto", progress=None, info: dict | None = None):
    """Garbler side of semi-honest Yao; returns the outputs (``None`` if ``reveal="evaluator"``).

    ``inputs``: one 0/1 array per circuit input the garbler owns (``garbler_inputs``,
    default ``[0]``), in that order — shape ``(n_j,)``, or ``(batch, n_j)`` to run
    ``batch`` instances at once (a 1-D input is then shared by all instances, e.g. an
    AES key). ``evaluator_inputs`` defaults to every other input. ``reveal``: who learns
    the outputs. ``ot``: ``"iknp"`` (default), ``"ferret"``, ``"base"`` (ML-KEM OT per
    input bit, no extension: cheapest for a few dozen evaluator bits) or an OT object.
    ``progress(done_ands, total_ands)`` is called after each chunk; ``info``, if a
    dict, receives timings and byte counts per phase.

    Example::

        from pqmpc.gc import CircuitBuilder
        b = CircuitBuilder(); x, y = b.input(8), b.input(8); b.output(x + y)
        c = b.build()
        out = yao_garbler(ch, c, [int_to_bits(200, 8)])   # peer: yao_evaluator(ch, c, [int_to_bits(100, 8)])
        bits_to_int(out[0])                                 # 44 == 300 mod 256
    """
    _check_common(circuit, reveal, chunk_ands, ot)
    g_groups, e_groups = _ownership(circuit, garbler_inputs, evaluator_inputs)
    mine, my_batch = _normalise_inputs(circuit, g_groups, inputs, "garbler")
    rng = Rng.ensure(rng)
    s = _Session(ch, "garbler", circuit, mine, g_groups, e_groups, reveal, ot, chunk_ands, backend, info)
    try:
        return _garble(s, rng, my_batch, progress)
    except (ChannelError, ProtocolError) as exc:
        raise s.wrap(exc) from None


def _garble(s: _Session, rng: Rng, my_batch, progress):
    c, ch = s.circuit, s.ch
    s.agree()
    batch = s.layout(my_batch, s.g_groups)
    n_inst = batch if s.batched else 1

    delta = rng.fork("yao/delta").blocks(1)[0]
    delta[0] |= 1
    d64 = delta.view(np.uint64).copy()

    # step 3: the evaluator's input labels come out of correlated OT with correlation Δ
    s.phase("ot")
    e_table, n_e = s.slots(s.e_groups, n_inst)
    q = _cot_send(_ot_object(s.ot), ch, n_e, delta, rng.fork("yao/ot")) if n_e else np.zeros((0, 16), np.uint8)

    # step 4: the garbler's own labels, sent active
    s.phase("garbler labels")
    g_table, n_g = s.slots(s.g_groups, n_inst)
    zero_g = rng.fork("yao/labels").blocks(n_g)
    my_bits = s.flat_bits(s.g_groups, n_inst)
    if n_g:
        ch.send(zero_g ^ (my_bits[:, None] * delta))

    # step 5: tables, chunk by chunk, instance after instance
    s.phase("garble and send tables")
    sched = c.schedule
    and_pos = _hg.and_positions(sched)
    n_and = int(and_pos.shape[0])
    total = n_and * batch if s.batched else n_and
    lab = _hg.new_label_table(c.n_wires)
    zg64, q64 = _blocks_u64(zero_g), _blocks_u64(q)
    first_out = c.n_wires - c.n_outputs
    out_zero = np.empty((n_inst, c.n_outputs, 2), dtype=np.uint64)
    rows = max(1, min(s.chunk, total))
    # more than one message: send from a helper thread while the next chunk is garbled
    sender = _Sender(ch, rows) if total > rows else None
    buf = sender.buffer() if sender else np.empty((rows, 4), dtype=np.uint64)
    fill = done = 0
    n_gates = int(sched.op.shape[0])
    garble_s = send_s = 0.0
    try:
        for inst in range(n_inst):
            s.instance_labels(zg64, s.g_groups, g_table, inst, lab)
            s.instance_labels(q64, s.e_groups, e_table, inst, lab)
            pos = k = 0
            while True:
                m = min(rows - fill, n_and - k)
                end = _hg.chunk_end(sched, and_pos, k + m) if n_and else n_gates
                t0 = time.perf_counter()
                _hg.garble_range(s.backend, sched, pos, end, done + k, lab, d64, buf[fill:fill + m])
                garble_s += time.perf_counter() - t0
                pos, k, fill = end, k + m, fill + m
                if fill == rows and n_and:
                    t0 = time.perf_counter()
                    if sender:
                        sender.submit(buf, fill)
                        buf = sender.buffer()
                    else:
                        ch.send(buf)
                    send_s += time.perf_counter() - t0
                    fill = 0
                    if progress is not None:
                        progress(done + k, total)
                if k == n_and:
                    break
            done += n_and
            out_zero[inst] = lab[first_out:c.n_wires]
        if fill:
            if sender:
                sender.submit(buf, fill)
            else:
                ch.send(buf[:fill])
            if progress is not None:
                progress(done, total)
        if sender:
            t0 = time.perf_counter()
            sender.close()
            send_s += time.perf_counter() - t0
            sender = None
    finally:
        if sender is not None:
            sender.close(wait=False)
    # send_seconds: time the garbler was held up by sending (with the helper thread, only
    # waiting for a free buffer and the final flush)
    s.phases_extra = {"garble_seconds": garble_s, "send_seconds": send_s}

    # step 6: output
    s.phase("output")
    perm = (out_zero[:, :, 0] & np.uint64(1)).astype(np.uint8)
    if s.reveal in ("both", "evaluator") and c.n_outputs and n_inst:
        ch.send_bits(perm.reshape(-1))
    result = None
    if s.reveal in ("both", "garbler"):
        got = _recv_output_labels(ch, n_inst, c.n_outputs)
        diff = got.reshape(n_inst, c.n_outputs, 2) ^ out_zero
        is0 = (diff[:, :, 0] == 0) & (diff[:, :, 1] == 0)
        is1 = (diff[:, :, 0] == d64[0]) & (diff[:, :, 1] == d64[1])
        if not np.all(is0 | is1):
            bad = int(np.argmin((is0 | is1).reshape(-1)))
            raise ProtocolError(f"Yao step 6 (output labels): label of output bit {bad % max(c.n_outputs, 1)} "
                                f"of instance {bad // max(c.n_outputs, 1)} is neither of its two labels")
        result = _split_outputs(c, is1.astype(np.uint8), s.batched)
    s.finish_info(batch if s.batched else 0)
    if s.info is not None:
        s.info["phases"]["garble and send tables"].update(s.phases_extra)
    return result


# ---------------------------------------------------------------------------------
# evaluator
# ---------------------------------------------------------------------------------

def yao_evaluator(ch: Channel, circuit: Circuit, inputs, rng: Rng | None = None, *, garbler_inputs=None,
                  evaluator_inputs=None, reveal: str = "both", ot="iknp", chunk_ands: int = DEFAULT_CHUNK_ANDS,
                  backend: str = "auto", progress=None, info: dict | None = None):
    """Evaluator side; same arguments as :func:`yao_garbler` with the evaluator's inputs.

    ``inputs``: one 0/1 array per circuit input the evaluator owns (default: every
    input but 0), ``(n_j,)`` or ``(batch, n_j)``. Returns the outputs (``None`` if
    ``reveal="garbler"``). ``chunk_ands`` only matters on the garbler's side; the
    evaluator accepts any chunking.
    """
    _check_common(circuit, reveal, chunk_ands, ot)
    g_groups, e_groups = _ownership(circuit, garbler_inputs, evaluator_inputs)
    mine, my_batch = _normalise_inputs(circuit, e_groups, inputs, "evaluator")
    rng = Rng.ensure(rng)
    s = _Session(ch, "evaluator", circuit, mine, g_groups, e_groups, reveal, ot, chunk_ands, backend, info)
    try:
        return _evaluate(s, rng, my_batch, progress)
    except (ChannelError, ProtocolError) as exc:
        raise s.wrap(exc) from None


def _evaluate(s: _Session, rng: Rng, my_batch, progress):
    c, ch = s.circuit, s.ch
    s.agree()
    batch = s.layout(my_batch, s.e_groups)
    n_inst = batch if s.batched else 1

    s.phase("ot")
    e_table, n_e = s.slots(s.e_groups, n_inst)
    choices = s.flat_bits(s.e_groups, n_inst) if n_e else np.zeros(0, np.uint8)
    t = _cot_receive(_ot_object(s.ot), ch, choices, rng.fork("yao/ot")) if n_e else np.zeros((0, 16), np.uint8)

    s.phase("garbler labels")
    g_table, n_g = s.slots(s.g_groups, n_inst)
    gl = ch.recv_array(np.uint8, (n_g, LABEL_BYTES), "Yao step 4 (garbler input labels)") if n_g \
        else np.zeros((0, 16), np.uint8)

    s.phase("receive and evaluate tables")
    sched = c.schedule
    and_pos = _hg.and_positions(sched)
    n_and = int(and_pos.shape[0])
    total = n_and * batch if s.batched else n_and
    remaining = total
    lab = _hg.new_label_table(c.n_wires)
    gl64, t64 = _blocks_u64(gl), _blocks_u64(t)
    first_out = c.n_wires - c.n_outputs
    out_lab = np.empty((n_inst, c.n_outputs, 2), dtype=np.uint64)
    n_gates = int(sched.op.shape[0])
    cur = np.empty((0, 4), np.uint64)
    off = done = 0
    eval_s = wait_s = 0.0
    # a long stream: receive (GIL released in the socket read) while evaluating
    receiver = _Receiver(ch, total) if total > DEFAULT_CHUNK_ANDS else None
    try:
        for inst in range(n_inst):
            s.instance_labels(gl64, s.g_groups, g_table, inst, lab)
            s.instance_labels(t64, s.e_groups, e_table, inst, lab)
            pos = k = 0
            while True:
                if k < n_and and off == cur.shape[0]:
                    t0 = time.perf_counter()
                    if receiver is not None:
                        cur = receiver.get()
                    else:
                        cur = ch.recv_array(np.uint64, (-1, 4), _Receiver.STEP)
                        if cur.shape[0] == 0 or cur.shape[0] > remaining:
                            raise ProtocolError(f"{_Receiver.STEP}: got {cur.shape[0]} tables, "
                                                f"expected between 1 and {remaining}")
                    wait_s += time.perf_counter() - t0
                    remaining -= cur.shape[0]
                    off = 0
                    if progress is not None:
                        progress(total - remaining, total)
                m = min(cur.shape[0] - off, n_and - k)
                end = _hg.chunk_end(sched, and_pos, k + m) if n_and else n_gates
                t0 = time.perf_counter()
                _hg.evaluate_range(s.backend, sched, pos, end, done + k, lab, cur[off:off + m])
                eval_s += time.perf_counter() - t0
                pos, k, off = end, k + m, off + m
                if k == n_and:
                    break
            done += n_and
            out_lab[inst] = lab[first_out:c.n_wires]
        if receiver is not None:
            receiver.thread.join()  # it stops after the last chunk; the channel is ours again
    finally:
        if receiver is not None:
            receiver.close()
    if off != cur.shape[0] or remaining:
        raise ProtocolError("Yao step 5 (garbled tables): more tables than AND gates")
    s.phases_extra = {"evaluate_seconds": eval_s, "wait_seconds": wait_s}

    s.phase("output")
    result = None
    if s.reveal in ("both", "evaluator"):
        if c.n_outputs and n_inst:
            perm = ch.recv_bits(n_inst * c.n_outputs, "Yao step 6 (output decoding bits)")
        else:
            perm = np.zeros(0, np.uint8)
        bits = (out_lab[:, :, 0] & np.uint64(1)).astype(np.uint8).reshape(-1) ^ perm
        result = _split_outputs(c, bits.reshape(n_inst, c.n_outputs), s.batched)
    if s.reveal in ("both", "garbler"):
        ch.send(out_lab.reshape(-1, 2))
    s.finish_info(batch if s.batched else 0)
    if s.info is not None:
        s.info["phases"]["receive and evaluate tables"].update(s.phases_extra)
    return result


# ---------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------

def _recv_output_labels(ch: Channel, n_inst: int, n_out: int) -> np.ndarray:
    if n_inst * n_out == 0:
        return ch.recv_array(np.uint64, (0, 2), "Yao step 6 (output labels)")
    return ch.recv_array(np.uint64, (n_inst * n_out, 2), "Yao step 6 (output labels)")


def _split_outputs(c: Circuit, bits: np.ndarray, batched: bool) -> list[np.ndarray]:
    res, pos = [], 0
    for m in c.output_sizes:
        part = np.ascontiguousarray(bits[:, pos:pos + m])
        res.append(part if batched else part[0].copy())
        pos += m
    return res


def _cot_send(ot, ch: Channel, n: int, delta: np.ndarray, rng: Rng) -> np.ndarray:
    """Sender of ``n`` correlated OTs with correlation ``delta``: returns ``q``."""
    if hasattr(ot, "send_correlated"):
        _, q = ot.send_correlated(ch, n, delta=delta, rng=rng)
        q = np.asarray(q)
        if q.shape != (n, LABEL_BYTES) or q.dtype != np.uint8:
            raise ProtocolError(f"correlated OT returned {q.dtype} {q.shape}, expected ({n}, 16) uint8")
        return np.ascontiguousarray(q)
    # any chosen-message OT gives COT: offer (q, q ⊕ Δ) with q fresh and random
    q = rng.blocks(n)
    ot.send(ch, q, q ^ delta, rng=rng)
    return q


def _cot_receive(ot, ch: Channel, choices: np.ndarray, rng: Rng) -> np.ndarray:
    n = choices.shape[0]
    if hasattr(ot, "receive_correlated"):
        t = np.asarray(ot.receive_correlated(ch, choices, rng=rng))
    else:
        t = np.asarray(ot.receive(ch, choices, rng=rng))
    if t.shape != (n, LABEL_BYTES) or t.dtype != np.uint8:
        raise ProtocolError(f"correlated OT returned {t.dtype} {t.shape}, expected ({n}, 16) uint8")
    return np.ascontiguousarray(t)


__all__ = ["yao_garbler", "yao_evaluator", "circuit_digest", "REVEALS", "OT_KINDS"]
