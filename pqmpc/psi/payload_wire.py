"""Payload PSI on the wire, for any OPRF (see :mod:`.payload` for the entries themselves).

Sender → receiver (``to_receiver``), after the OPRF, instead of the plain
comparison values:

* ``{"rows": N}`` — the sender's number of rows (≥ its distinct items);
* per candidate list (KKRT: one per hash function), ``N`` entries of
  ``ℓ + 8 + W + 16`` bytes sorted by tag, in frames of at most
  :data:`~.values.FRAME_ROWS` rows; ``ℓ = tag_bytes(N, n_r + N)``.

Receiver → sender (``to_sender``, only with ``reveal_to_sender``), after the
sorted ids of the matched items:

* ``(k,)`` uint32: for each matched id in that order, the receiver's number of
  rows holding it;
* their sum of rows of ``8 + W`` bytes: header (length, count) and the padded
  payload, grouped by id, in payload-byte order within an id. These payloads
  are the sender's output, so they travel without the OPRF encryption (the
  channel's own protection applies).
"""

from __future__ import annotations

import numpy as np

from ..errors import ProtocolError
from . import payload, values
from .session import MAX_ITEMS, recv_control, tag_bytes

__all__ = ["entry_tag_bytes", "send_entries", "recv_header", "recv_list", "open_list", "send_own_payloads",
           "recv_peer_payloads"]


def entry_tag_bytes(n_rows: int, n_receiver: int) -> int:
    """Tag bytes: a false tag match (which would abort on its MAC) stays below 2^-λ."""
    return tag_bytes(n_rows, n_receiver + n_rows)


def send_entries(ch, n_rows: int, lists) -> None:
    """``{"rows": N}``, then each list of entries as ``lists`` (any iterable) produces it."""
    ch.send_json({"rows": int(n_rows)})
    for entries in lists:
        values.send_rows(ch, entries)


def recv_header(ch, n_distinct: int, n_receiver: int, step: str) -> tuple[int, int]:
    """``(N, ℓ)``: the sender's row count (checked) and the tag bytes that follow from it."""
    msg = recv_control(ch, step.format("rows"))
    if not isinstance(msg, dict) or set(msg) != {"rows"} or not isinstance(msg["rows"], int) \
            or isinstance(msg["rows"], bool) or not n_distinct <= msg["rows"] <= MAX_ITEMS:
        raise ProtocolError(f"{step.format('rows')}: expected {{\"rows\": count}} with a count in "
                            f"[{n_distinct}, 2^30]")
    n = msg["rows"]
    return n, entry_tag_bytes(n, n_receiver)


def recv_list(ch, n_rows: int, ell: int, width: int, step: str) -> np.ndarray:
    """One candidate list: ``N`` entries (frames size-checked as they come)."""
    return values.recv_rows(ch, n_rows, payload.entry_bytes(ell, width), step)


def open_list(entries, q_items, f, ell: int, width: int, n_rows: int, step: str):
    """Receiver, one list: ``(items, pt)`` of the entries its queries ``(q_items, f)`` open."""
    tw = payload.check_sorted(entries, ell, step)
    where, pt = payload.open_entries(entries, tw, f, ell, width, n_rows, step)
    return q_items[where], pt


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
