"""Payload PSI on the wire, for any OPRF (see :mod:`.payload` for the entries themselves).

Payload format version :data:`VERSION` (in the handshake's ``payload`` parameters,
with the directions and the agreed width ``W``).

Sender → receiver (``to_receiver``), after the OPRF, instead of the plain
comparison values (``ℓ = tag_bytes(N, n_r + N)``, every list in frames of at
most :data:`~.values.FRAME_ROWS` rows):

* ``{"rows": N}`` — the sender's number of rows (≥ its distinct items);
* one list (RR22): ``N`` entries of ``ℓ + 8 + W + 16`` bytes sorted by tag;
* several lists (KKRT, one per hash function): the block of ``N`` row
  ciphertexts of ``8 + W + 16`` bytes (random order), then per list ``N``
  entries of ``ℓ + 16 + 4`` bytes sorted by tag.

Receiver → sender (with ``reveal_to_sender``), after the comparison, in the
protocols that use it (RR22 with payloads; KKRT's step 7 has the same form):

* the sorted 16-byte ids of the matched items (a terminated list);
* RR22 malicious mode: the match proof ``F'`` of each, in that order;

and with ``to_sender``:

* ``(k,)`` uint32: for each matched id in that order, the receiver's number of
  rows holding it;
* their sum of rows of ``8 + W`` bytes: header (length, count) and the padded
  payload, grouped by id, in payload-byte order within an id. These payloads
  are the sender's output, so they travel without the OPRF encryption (the
  channel's own protection applies).
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError, ProtocolError
from . import payload, values
from .payload_join import distinct_sorted, join_pairs
from .payload_open import open_joined
from .session import MAX_ITEMS, recv_control, tag_bytes

__all__ = ["VERSION", "setup", "entry_tag_bytes", "send_entries", "recv_entries", "recv_joined", "empty_join",
           "send_matched_ids", "recv_matched_ids", "send_own_payloads", "recv_peer_payloads"]

#: 2: the several-list layout (one row ciphertext, wrapped keys per list). Version-1 peers
#: (whole entries per hash function) are refused at the handshake.
VERSION = 2


def setup(role: str, payload_arg, peer_payload: bool, width, reveal: bool, n_items: int) -> dict | None:
    """Checked payload options (before any network activity), or None for plain PSI.

    ``params`` joins the handshake under ``"payload"``; both sides must agree on it."""
    if payload_arg is None and not peer_payload:
        return None
    width = payload.check_width(width)
    sends, wants = payload_arg is not None, bool(peer_payload)
    to_receiver, to_sender = (sends, wants) if role == "sender" else (wants, sends)
    if to_sender and not reveal:
        raise ParameterError("payloads to the sender need reveal_to_sender=True (the sender learns the "
                             "intersection with them)")
    data = offsets = None
    if sends:
        data, offsets = payload.encode_payloads(payload_arg, n_items, width)
    return {"params": {"version": VERSION, "to_receiver": to_receiver, "to_sender": to_sender, "width": width},
            "width": width, "sends": sends, "wants": wants, "data": data, "offsets": offsets,
            "to_receiver": to_receiver, "to_sender": to_sender}


def empty_join(inverse, width: int):
    """The join with no pairs (no match, or an empty side)."""
    return join_pairs(inverse, np.zeros(0, dtype=np.int64), np.zeros((0, payload.HEADER + width), dtype=np.uint8))


def entry_tag_bytes(n_rows: int, n_receiver: int) -> int:
    """Tag bytes: a false tag match (which would abort on its MAC) stays below 2^-λ."""
    return tag_bytes(n_rows, n_receiver + n_rows)


def send_entries(ch, value_lists, inverse, data, offsets, width: int, n_receiver: int, rng, pool=None) -> None:
    """Sender: ``{"rows": N}``, then the entries of every list (sealed while the first ones travel;
    in ``pool``'s buffers if given, see :func:`payload.seal_iter`)."""
    n_rows = inverse.shape[0]
    ch.send_json({"rows": int(n_rows)})
    ell = entry_tag_bytes(n_rows, n_receiver)
    for msg in payload.seal_iter(value_lists, inverse, data, offsets, width, ell, rng, pool=pool):
        values.send_rows(ch, msg)


def recv_entries(ch, queries, n_distinct: int, n_receiver: int, width: int, step: str, pool=None):
    """Receiver: ``(items, pt)`` — every sender row found for the queries, and its plaintext.

    ``queries[c] = (q_items, f)``: the receiver's distinct items looked up in list ``c`` and
    their OPRF values. ``n_distinct`` is the sender's announced number of distinct items;
    ``step`` a format string for the step name (``{}``: which message). ``pool`` (a
    ``ScratchPool``): a one-list list that fits one frame is received into its buffers (read
    from a TCP socket straight into them); the results are fresh arrays."""
    n_rows, ell = _recv_header(ch, n_distinct, n_receiver, step.format("rows"))
    block = None
    if len(queries) > 1:
        block = values.recv_rows(ch, n_rows, payload.cipher_bytes(width), step.format("row ciphertexts"))
        row = payload.wrapped_bytes(ell)
    else:
        row = payload.entry_bytes(ell, width)
    items, pts = [], []
    for c, (q_items, f) in enumerate(queries):
        # List by list: this one is opened while the sender still seals the next.
        st = step.format(f"list {c}")
        entries = _recv_list(ch, n_rows, row, st, pool if len(queries) == 1 else None)
        tw, index = payload.index_sorted(entries, ell, st, pool)
        where, pt = payload.open_entries(entries, tw, np.ascontiguousarray(f), ell, width, n_rows, st, block,
                                         workers=2, index=index)
        del entries
        items.append(q_items[where])
        pts.append(pt)
    if not items:
        return np.zeros(0, dtype=np.int64), np.zeros((0, payload.HEADER + width), dtype=np.uint8)
    if len(items) == 1:
        return items[0], pts[0]
    return np.concatenate(items), np.concatenate(pts)


def recv_joined(ch, order, f, n_distinct: int, inverse, width: int, step: str, pool):
    """Receiver, one list (RR22): ``(hits, join)`` — its sorted distinct items with a match, and the
    :class:`~.payload_join.PayloadJoin` of its rows (``inverse[r]``: the distinct item of row ``r``)
    with the sender's payloads. ``f[i]`` is the OPRF value of distinct item ``order[i]``; other
    arguments as :func:`recv_entries` (``n_receiver`` is ``order``'s length). Without sender
    duplicates the entries open straight into the join (:mod:`.payload_open`); otherwise, as
    :func:`recv_entries` then :func:`~.payload_join.join_pairs`."""
    n_receiver = order.shape[0]
    n_rows, ell = _recv_header(ch, n_distinct, n_receiver, step.format("rows"))
    st = step.format("list 0")
    entries = _recv_list(ch, n_rows, payload.entry_bytes(ell, width), st, pool)
    tw, index = payload.index_sorted(entries, ell, st, pool)
    if index is not None and pool is not None:
        got = open_joined(entries, tw, index, f, order, inverse, ell, width, payload.nblocks(width),
                          payload.TWEAK_ITEM, values.bucket_bits(n_rows, ell)[1], st, pool)
        if got is not None:
            return got
    where, pt = payload.open_entries(entries, tw, np.ascontiguousarray(f), ell, width, n_rows, st, None,
                                     workers=2, index=index)
    items = order[where]
    return distinct_sorted(items, n_receiver), join_pairs(inverse, items, pt)


def _recv_list(ch, n_rows: int, row: int, step: str, pool) -> np.ndarray:
    """``n_rows`` rows of ``row`` bytes as :func:`values.send_rows` framed them. In one frame and with a
    ``pool``: into its buffer (no fresh memory; no larger than one frame the channel would take, so
    the announced count makes us allocate no more than a frame header could). Otherwise, and always
    for a list over one frame, frame by frame as each arrives (a count the peer merely announced
    allocates nothing). A frame of another size is a ProtocolError naming ``step``."""
    if pool is None or not 0 < n_rows <= values.frame_rows(row):
        return values.recv_rows(ch, n_rows, row, step)
    return ch.recv_array_into(pool.get("payload entries", (n_rows, row)), step)


def _recv_header(ch, n_distinct: int, n_receiver: int, step: str) -> tuple[int, int]:
    """``(N, ℓ)``: the sender's row count (checked) and the tag bytes that follow from it."""
    msg = recv_control(ch, step)
    if not isinstance(msg, dict) or set(msg) != {"rows"} or not isinstance(msg["rows"], int) \
            or isinstance(msg["rows"], bool) or not n_distinct <= msg["rows"] <= MAX_ITEMS:
        raise ProtocolError(f"{step}: expected {{\"rows\": count}} with a count in [{n_distinct}, 2^30]")
    n = msg["rows"]
    return n, entry_tag_bytes(n, n_receiver)


def send_matched_ids(ch, ids, hits) -> np.ndarray:
    """Receiver: the sorted ids of its matched distinct items ``hits``; returns ``hits`` in that order.

    Sorted ids are a function of the intersection alone, not of the receiver's input order
    or of where its OPRF put each item."""
    sorted_ids, order = values.sorted_rows(ids[hits])
    values.send_rows(ch, sorted_ids, terminated=True)
    return hits[order]


def recv_matched_ids(ch, ids, n_receiver: int, step: str) -> np.ndarray:
    """Sender: its distinct items the receiver matched, in the order the receiver sent them."""
    n = ids.shape[0]
    got = values.recv_rows_upto(ch, min(n, n_receiver), 16, step)
    if not values.strictly_increasing(got.view(np.uint64)):
        raise ProtocolError(f"{step}: ids are not sorted or repeat")
    found = values.find_rows(ids, got)
    if np.any(found < 0):
        raise ProtocolError(f"{step}: an id that is not one of the sender's items")
    return found


def send_own_payloads(ch, matched_items, inverse, data, offsets, width: int) -> None:
    """Receiver, ``to_sender``: its payloads of the matched items (``matched_items`` in the order sent)."""
    mult = np.bincount(inverse, minlength=int(inverse.max()) + 1 if inverse.size else 0)
    counts = mult[matched_items] if matched_items.size else np.zeros(0, dtype=np.int64)
    # Rows of each matched item, grouped in the order of the ids sent.
    pos = np.full(mult.shape[0], -1, dtype=np.int64)
    pos[matched_items] = np.arange(matched_items.shape[0])
    rows = np.flatnonzero(pos[inverse] >= 0) if inverse.size else np.zeros(0, dtype=np.int64)
    group = pos[inverse[rows]]
    pt = payload.pad_payloads(*_subset(data, offsets, rows), width, mult[inverse[rows]])
    order = payload.sort_key_order(group, pt)
    values.send_rows(ch, counts.astype("<u4").reshape(-1, 1))
    values.send_rows(ch, pt[order])


def _subset(data, offsets, rows):
    lens = offsets[rows + 1] - offsets[rows]
    o = np.zeros(rows.shape[0] + 1, dtype=np.int64)
    np.cumsum(lens, out=o[1:])
    idx = np.repeat(offsets[rows] - o[:-1], lens) + np.arange(int(o[-1]), dtype=np.int64)
    return data[idx], o


def recv_peer_payloads(ch, found_items, width: int, step: str):
    """Sender, ``to_sender``: ``(items, pt)`` of the receiver's payload rows for the matched ``found_items``."""
    k = found_items.shape[0]
    counts = values.recv_rows(ch, k, 1, step, dtype=np.dtype("<u4")).reshape(-1).astype(np.int64)
    if np.any(counts < 1) or int(counts.sum()) > MAX_ITEMS:
        raise ProtocolError(f"{step}: row counts must be at least 1 and sum to at most 2^30")
    total = int(counts.sum())
    pt = values.recv_rows(ch, total, payload.HEADER + width, step)
    hdr = np.ascontiguousarray(pt[:, :payload.HEADER]).view("<u4").reshape(-1, 2).astype(np.int64)
    items = np.repeat(found_items, counts)
    if np.any(hdr[:, 0] > width) or np.any(hdr[:, 1] != np.repeat(counts, counts)):
        raise ProtocolError(f"{step}: a payload longer than the agreed width, or a wrong row count")
    return items, pt
