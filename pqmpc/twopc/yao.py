"""Yao's garbled-circuit two-party computation over correlated OT.

``yao_garbler(ch, circuit, inputs)`` and ``yao_evaluator(ch, circuit, inputs)`` run
one session and both return the plain outputs in :meth:`Circuit.evaluate` form
(``None`` for a party that ``reveal`` leaves out). ``kappa=256`` runs the whole
session at the 256-bit level: 32-byte labels and the AES-256 wide hash, 32-byte
correlated-OT blocks (``IKNP(kappa=256)`` over ML-KEM-1024 base OTs).

Protocol (all messages length-checked and size-capped by what the step expects; a
bad one raises :class:`ProtocolError` naming the step):

1. **handshake** — protocol, version, circuit digest, input/output sizes, who owns
   which input group, ``reveal``, OT kind, label size. Any difference:
   :class:`HandshakeError` on both sides.
2. **layout** — each side states its batch size and which of its groups are
   batched (``(batch, n)`` rows) or shared by every instance (``(n,)``). A batch the
   peer announces is capped (``max_batch=``, default: what keeps the peer-sized
   memory under :data:`~pqmpc.twopc.yao_session.MAX_PEER_BATCH_BYTES`).
3. **evaluator input labels by correlated OT** — the garbler's free-XOR offset Δ
   (lsb 1) *is* the OT correlation: the garbler gets ``q`` and uses ``q_i`` as the
   zero-label of the evaluator's ``i``-th input wire, the evaluator gets
   ``t_i = q_i ⊕ b_i·Δ``, which is exactly the label of its bit ``b_i``. No extra
   message and no hashing: one label of COT per evaluator input bit (IKNP; far less
   with Ferret).
4. **garbler input labels** — the active labels of the garbler's own bits, sent
   directly (one label per bit).
5. **garbled tables** — half-gates (two labels per AND), garbled by
   :class:`pqmpc.gc.Garbler` straight into send buffers of ``chunk_ands`` tables
   while the evaluator's :class:`pqmpc.gc.Evaluator` consumes each chunk as it
   arrives, so neither side ever holds more than a few chunks of tables. Instance
   ``i`` of a batch is garbling id ``i`` under the session's Δ (distinct hash
   tweaks, :mod:`pqmpc.gc.tweaks`); a shared input keeps its labels in every
   instance.
6. **output** — ``reveal="evaluator"`` or ``"both"``: the garbler sends the permute
   bits of the output zero-labels and the evaluator decodes. ``"garbler"`` or
   ``"both"``: the evaluator returns its output *labels*; the garbler checks each is
   one of the two labels of its wire (so a wrong output is detected, not trusted)
   and decodes.

Security: **semi-honest** (honest-but-curious) parties. The evaluator learns its
outputs and nothing else about the garbler's inputs, assuming the TCCR hash of the
half-gates scheme (see :mod:`pqmpc.gc.garble`) and the security of the OT. The
garbler learns nothing about the evaluator's inputs (OT receiver privacy) and, with
``reveal="garbler"|"both"``, the outputs. A malicious garbler can garble a different
function, and a malicious evaluator can abort or withhold the result; neither is
defended against. What is post-quantum: the base OTs under IKNP or Ferret (ML-KEM by
default; Module-LWE) — there is no discrete-log or factoring assumption anywhere in
a run. The symmetric parts lose at most a square root to Grover: ≈2^64 quantum work
to find Δ for one target with 128-bit labels, ≈2^128 with ``kappa=256``. Python
cannot promise constant time: label bits drive numpy masks and memory access
patterns in both processes.
"""

from __future__ import annotations

import time

import numpy as np

from pqmpc.errors import ChannelError, ProtocolError
from pqmpc.gc import Circuit, Delta, Evaluator, Garbler
from pqmpc.gc.threehalves import pack_tables
from pqmpc.net import Channel
from pqmpc.rng import Rng

from .yao_session import PROTOCOL, TABLES_STEP, VERSION, Receiver, Sender, Session, recv_packed_rows, recv_rows
from .yao_setup import (
    OT_KINDS,
    REVEALS,
    check_common,
    circuit_digest,
    cot_receive,
    cot_send,
    input_ownership,
    normalise_inputs,
    ot_object,
)

__all__ = ["yao_garbler", "yao_evaluator", "circuit_digest", "input_ownership", "REVEALS", "OT_KINDS",
           "PROTOCOL", "VERSION", "DEFAULT_CHUNK_ANDS"]

DEFAULT_CHUNK_ANDS = 1 << 16  # 2 MiB of tables per message (4 MiB at κ = 256)

# the name the command line used before it was public
_ownership = input_ownership


# ---------------------------------------------------------------------------------
# garbler
# ---------------------------------------------------------------------------------

def yao_garbler(ch: Channel, circuit: Circuit, inputs, rng: Rng | None = None, *, garbler_inputs=None,
                evaluator_inputs=None, reveal: str = "both", ot="iknp", chunk_ands: int = DEFAULT_CHUNK_ANDS,
                backend: str = "auto", progress=None, info: dict | None = None, kappa: int = 128,
                max_batch: int | None = None, scheme: str = "halfgates"):
    """Garbler side of semi-honest Yao; returns the outputs (``None`` if ``reveal="evaluator"``).

    ``inputs``: one 0/1 array per circuit input the garbler owns (``garbler_inputs``,
    default ``[0]``), in that order — shape ``(n_j,)``, or ``(batch, n_j)`` to run
    ``batch`` instances at once (a 1-D input is then shared by all instances, e.g. an
    AES key). ``evaluator_inputs`` defaults to every other input. ``reveal``: who learns
    the outputs. ``ot``: ``"iknp"`` (default), ``"ferret"`` (κ = 128 only), ``"base"``
    (ML-KEM OT per input bit, no extension: cheapest for a few dozen evaluator bits)
    or an OT object with ``kappa/8``-byte blocks. ``kappa``: 128 or 256 (both parties
    must agree). ``max_batch``: the largest batch this party accepts from a peer when
    it does not batch itself. ``scheme``: ``"halfgates"`` (32 bytes per AND) or
    ``"threehalves"`` (Rosulek–Roy, 197 bits per AND, κ = 128; both parties must agree,
    checked in the handshake). ``progress(done_ands, total_ands)`` is called after each
    chunk; ``info``, if a dict, receives timings and byte counts per phase.

    Example::

        from pqmpc.gc import CircuitBuilder
        b = CircuitBuilder(); x, y = b.input(8), b.input(8); b.output(x + y)
        c = b.build()
        out = yao_garbler(ch, c, [int_to_bits(200, 8)])   # peer: yao_evaluator(ch, c, [int_to_bits(100, 8)])
        bits_to_int(out[0])                                 # 44 == 300 mod 256
    """
    check_common(circuit, reveal, chunk_ands, ot, kappa)
    g_groups, e_groups = input_ownership(circuit, garbler_inputs, evaluator_inputs)
    mine, my_batch = normalise_inputs(circuit, g_groups, inputs, "garbler")
    ot_engine = ot_object(ot, kappa)
    rng = Rng.ensure(rng)
    s = Session(ch, "garbler", circuit, mine, g_groups, e_groups, reveal, ot, chunk_ands, backend, info,
                kappa=kappa, max_batch=max_batch, scheme=scheme)
    try:
        return _garble(s, ot_engine, rng, my_batch, progress)
    except (ChannelError, ProtocolError) as exc:
        raise s.wrap(exc) from None


def _garble(s: Session, ot_engine, rng: Rng, my_batch, progress):
    c, ch, width = s.circuit, s.ch, s.label_bytes
    s.agree()
    batch = s.layout(my_batch, s.g_groups)
    n_inst = batch if s.batched else 1

    # one Δ per session, drawn here: the garbling ids of its instances come from it
    delta = Delta(kappa=s.kappa, rng=rng.fork("yao/delta"))
    d = delta.value
    three = s.scheme == "threehalves"

    # step 3: the evaluator's input labels come out of correlated OT with correlation Δ
    s.phase("ot")
    e_table, n_e = s.slots(s.e_groups, n_inst)
    q = cot_send(ot_engine, ch, n_e, d, rng.fork("yao/ot")) if n_e else np.zeros((0, width), np.uint8)

    # step 4: the garbler's own labels, sent active
    s.phase("garbler labels")
    g_table, n_g = s.slots(s.g_groups, n_inst)
    zero_g = rng.fork("yao/labels").blocks(n_g, width)
    my_bits = s.flat_bits(s.g_groups, n_inst)
    if n_g:
        ch.send(zero_g ^ (my_bits[:, None] * d))

    # step 5: tables, chunk by chunk, instance after instance
    s.phase("garble and send tables")
    n_and = c.and_count
    total = n_and * n_inst
    parts = [(s.g_groups, g_table, zero_g), (s.e_groups, e_table, q)]
    in_labels = np.empty((c.n_inputs, width), np.uint8)
    out_zero = np.empty((n_inst, c.n_outputs, width), dtype=np.uint8)
    rows = max(1, min(s.chunk, total))
    # more than one message: send from a helper thread while the next chunk is garbled
    sender = Sender(ch, rows, 2 * width) if total > rows else None
    buf = sender.buffer() if sender else np.empty((rows, 2 * width), dtype=np.uint8)
    fill = done = 0
    garble_s = send_s = 0.0
    try:
        for inst in range(n_inst):
            g = Garbler(c, delta=delta, input_labels=s.instance_labels(parts, inst, in_labels),
                        backend=s.backend, kappa=s.kappa, tweak_base=inst, scheme=s.scheme,
                        rng=rng.fork(b"yao/r$ %d" % inst) if three else None)
            while not g.done:
                t0 = time.perf_counter()
                fill += g.garble_into(buf[fill:])
                garble_s += time.perf_counter() - t0
                if fill == rows and n_and:
                    t0 = time.perf_counter()
                    if sender:
                        sender.submit(buf, fill, pack_tables(buf) if three else None)
                        buf = sender.buffer()
                    else:
                        ch.send(pack_tables(buf) if three else buf)
                    send_s += time.perf_counter() - t0
                    fill = 0
                    if progress is not None:
                        progress(done + n_and - g.ands_remaining, total)
            done += n_and
            out_zero[inst] = g.output_zero_labels(flat=True)
        if fill:
            if sender:
                sender.submit(buf, fill, pack_tables(buf[:fill]) if three else None)
            else:
                ch.send(pack_tables(buf[:fill]) if three else buf[:fill])
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
    if s.reveal in ("both", "evaluator") and c.n_outputs and n_inst:
        ch.send_bits((out_zero[:, :, 0] & 1).reshape(-1))
    result = None
    if s.reveal in ("both", "garbler"):
        n_out = n_inst * c.n_outputs
        got = ch.recv_array(np.uint8, (n_out, width), "Yao step 6 (output labels)")
        diff = (got.reshape(n_inst, c.n_outputs, width) ^ out_zero).view(np.uint64)
        is0 = ~diff.any(axis=2)
        is1 = (diff == d.view(np.uint64)).all(axis=2)
        if not np.all(is0 | is1):
            bad = int(np.argmin((is0 | is1).reshape(-1)))
            raise ProtocolError(f"Yao step 6 (output labels): label of output bit {bad % max(c.n_outputs, 1)} "
                                f"of instance {bad // max(c.n_outputs, 1)} is neither of its two labels")
        result = _split_outputs(c, is1.astype(np.uint8), s.batched)
    s.finish_info(batch if s.batched else 0, "garble and send tables")
    return result


# ---------------------------------------------------------------------------------
# evaluator
# ---------------------------------------------------------------------------------

def yao_evaluator(ch: Channel, circuit: Circuit, inputs, rng: Rng | None = None, *, garbler_inputs=None,
                  evaluator_inputs=None, reveal: str = "both", ot="iknp", chunk_ands: int = DEFAULT_CHUNK_ANDS,
                  backend: str = "auto", progress=None, info: dict | None = None, kappa: int = 128,
                  max_batch: int | None = None, scheme: str = "halfgates"):
    """Evaluator side; same arguments as :func:`yao_garbler` with the evaluator's inputs.

    ``inputs``: one 0/1 array per circuit input the evaluator owns (default: every
    input but 0), ``(n_j,)`` or ``(batch, n_j)``. Returns the outputs (``None`` if
    ``reveal="garbler"``). ``chunk_ands`` only matters on the garbler's side; the
    evaluator accepts any chunking.
    """
    check_common(circuit, reveal, chunk_ands, ot, kappa)
    g_groups, e_groups = input_ownership(circuit, garbler_inputs, evaluator_inputs)
    mine, my_batch = normalise_inputs(circuit, e_groups, inputs, "evaluator")
    ot_engine = ot_object(ot, kappa)
    rng = Rng.ensure(rng)
    s = Session(ch, "evaluator", circuit, mine, g_groups, e_groups, reveal, ot, chunk_ands, backend, info,
                kappa=kappa, max_batch=max_batch, scheme=scheme)
    try:
        return _evaluate(s, ot_engine, rng, my_batch, progress)
    except (ChannelError, ProtocolError) as exc:
        raise s.wrap(exc) from None


def _evaluate(s: Session, ot_engine, rng: Rng, my_batch, progress):
    c, ch, width = s.circuit, s.ch, s.label_bytes
    s.agree()
    batch = s.layout(my_batch, s.e_groups)
    n_inst = batch if s.batched else 1

    s.phase("ot")
    e_table, n_e = s.slots(s.e_groups, n_inst)
    choices = s.flat_bits(s.e_groups, n_inst) if n_e else np.zeros(0, np.uint8)
    t = cot_receive(ot_engine, ch, choices, rng.fork("yao/ot"), width) if n_e else np.zeros((0, width), np.uint8)

    s.phase("garbler labels")
    g_table, n_g = s.slots(s.g_groups, n_inst)
    gl = ch.recv_array(np.uint8, (n_g, width), "Yao step 4 (garbler input labels)") if n_g \
        else np.zeros((0, width), np.uint8)

    s.phase("receive and evaluate tables")
    n_and = c.and_count
    total = n_and * n_inst
    remaining = total
    parts = [(s.g_groups, g_table, gl), (s.e_groups, e_table, t)]
    in_labels = np.empty((c.n_inputs, width), np.uint8)
    out_lab = np.empty((n_inst, c.n_outputs, width), dtype=np.uint8)
    row_words = 2 * s.words
    cur = np.empty((0, row_words), np.uint64)
    off = 0
    eval_s = wait_s = 0.0
    # a long stream: receive (GIL released in the socket read) while evaluating
    three = s.scheme == "threehalves"
    receiver = Receiver(ch, total, row_words, packed=three) if total > DEFAULT_CHUNK_ANDS else None
    try:
        for inst in range(n_inst):
            ev = Evaluator(c, s.instance_labels(parts, inst, in_labels), backend=s.backend, kappa=s.kappa,
                           tweak_base=inst, scheme=s.scheme)
            while ev.ands_remaining:
                if off == cur.shape[0]:
                    t0 = time.perf_counter()
                    if receiver is not None:
                        cur = receiver.get()
                    elif three:
                        cur = recv_packed_rows(ch, remaining, TABLES_STEP)
                    else:
                        cur = recv_rows(ch, np.uint64, row_words, remaining, TABLES_STEP)
                    wait_s += time.perf_counter() - t0
                    remaining -= cur.shape[0]
                    off = 0
                    if progress is not None:
                        progress(total - remaining, total)
                m = min(cur.shape[0] - off, ev.ands_remaining)
                t0 = time.perf_counter()
                ev.feed(cur[off:off + m], TABLES_STEP)
                eval_s += time.perf_counter() - t0
                off += m
            ev.finish(TABLES_STEP, flat=True, out=out_lab[inst])
        if receiver is not None:
            receiver.thread.join()  # it stops after the last chunk; the channel is ours again
    finally:
        if receiver is not None:
            receiver.close()
    if off != cur.shape[0] or remaining:
        raise ProtocolError(f"{TABLES_STEP}: more tables than AND gates")
    s.phases_extra = {"evaluate_seconds": eval_s, "wait_seconds": wait_s}

    s.phase("output")
    result = None
    if s.reveal in ("both", "evaluator"):
        if c.n_outputs and n_inst:
            perm = ch.recv_bits(n_inst * c.n_outputs, "Yao step 6 (output decoding bits)")
        else:
            perm = np.zeros(0, np.uint8)
        bits = (out_lab[:, :, 0] & 1).reshape(-1) ^ perm
        result = _split_outputs(c, bits.reshape(n_inst, c.n_outputs), s.batched)
    if s.reveal in ("both", "garbler"):
        ch.send(out_lab.reshape(-1, width))
    s.finish_info(batch if s.batched else 0, "receive and evaluate tables")
    return result


def _split_outputs(c: Circuit, bits: np.ndarray, batched: bool) -> list[np.ndarray]:
    res, pos = [], 0
    for m in c.output_sizes:
        part = np.ascontiguousarray(bits[:, pos:pos + m])
        res.append(part if batched else part[0].copy())
        pos += m
    return res
