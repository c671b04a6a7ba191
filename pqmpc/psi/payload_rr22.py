"""Payload (labeled) PSI on RR22's OPRF: the session driver for ``protocol="rr22"`` with payloads.

Same session as :func:`pqmpc.psi.rr22.run_rr22` up to the OPRF (handshake under
``RR22-PSI`` with the payload parameters added, coin toss, item ids, set sizes,
base OTs, silent VOLE, OKVS), built from RR22's public OPRF
(:func:`~pqmpc.psi.rr22.rr22_oprf_sender`, :func:`~pqmpc.psi.rr22.oprf_receive_binned`).
After it:

* ``to_receiver``: the sender seals one entry per row keyed by ``F(y)``
  (:mod:`.payload`, one list) instead of sending its truncated values; the
  receiver opens the entries of its own items;
* otherwise: RR22's plain comparison (sorted truncated values);
* with ``reveal_to_sender``: the receiver sends the sorted ids of its matched
  items (malicious mode: with the match proof ``F'`` of each, checked by the
  sender), then, with ``to_sender``, its payloads of those items
  (:mod:`.payload_wire`).

Security as RR22's (:mod:`.rr22`); what the payloads add is in
``docs/payload-psi.md``.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError, ProtocolError
from ..net import Channel, handshake
from . import keys, payload_wire, values
from .okvs import OkvsParams
from .payload import DEFAULT_WIDTH
from .payload_join import join_pairs
from .rr22 import (
    DEFAULT_BIN_SIZE,
    PROTOCOL,
    VERSION,
    extension,
    oprf_receive_binned,
    rr22_oprf_sender,
    session_arguments,
    session_params,
    session_workspace,
    tag_bytes,
)
from .session import MAX_ITEMS, Phases, PsiResult, coin_toss, exchange_sizes

__all__ = ["run_rr22_payload"]

STEP5 = f"{PROTOCOL} step 5 (sender values)"
STEP5P = f"{PROTOCOL} step 5 (sender payload entries, {{}})"
STEP6 = f"{PROTOCOL} step 6 (ids of the matched items)"
STEP7 = f"{PROTOCOL} step 7 (match proofs)"
STEP8 = f"{PROTOCOL} step 8 (receiver payloads of the matched items)"


def run_rr22_payload(role: str, ch: Channel, items, rng=None, reveal_to_sender: bool = False,
                     malicious: bool = False, base_ot=None, bin_size: int = DEFAULT_BIN_SIZE,
                     extra_params: dict | None = None, max_peer_items: int = MAX_ITEMS, kappa: int = 128,
                     progress=None, overlap: bool = False, payload=None, peer_payload: bool = False,
                     payload_width: int = DEFAULT_WIDTH) -> PsiResult:
    """One RR22 session with payloads as ``role``; keywords as :func:`pqmpc.psi.rr22.run_rr22` plus
    ``payload``/``peer_payload``/``payload_width`` (:func:`pqmpc.psi.kkrt_psi.psi_sender`)."""
    rng, base_ot = session_arguments(role, kappa, max_peer_items, rng, base_ot)
    cot = extension(base_ot, malicious)   # an unsuitable base is refused before any message
    # RR22's per-role workspace: the VOLE, OKVS, ids and dedup arrays and the payload scratch are
    # reused by the next session (fresh memory costs ~8 µs per 4 KiB page on first touch here).
    # Only scratch lives in it: indices and joined pairs are allocated fresh.
    with session_workspace(role) as pool:
        return _session(role, ch, items, rng, reveal_to_sender, malicious, base_ot, cot, bin_size, extra_params,
                        max_peer_items, progress, overlap, payload, peer_payload, payload_width, pool)


def _session(role, ch, items, rng, reveal_to_sender, malicious, base_ot, cot, bin_size, extra_params,
             max_peer_items, progress, overlap, payload, peer_payload, payload_width, pool):
    from ..ot.ext.vole import SilentVole

    ph = Phases(progress)
    stats0 = ch.stats.snapshot()
    ph.start("setup", "RR22: hashing keys")
    data, offsets = items if keys.is_encoded(items) else keys.encode_items(items)
    n_items = offsets.shape[0] - 1
    if n_items > MAX_ITEMS:
        raise ParameterError(f"at most 2^30 items per side, got {n_items}")
    pl = payload_wire.setup(role, payload, peer_payload, payload_width, reveal_to_sender, n_items)
    if pl is None:
        raise ParameterError("run_rr22_payload needs payload= or peer_payload=True (plain PSI: run_rr22)")
    params = session_params(malicious, reveal_to_sender, base_ot, bin_size, extra_params)
    params["payload"] = pl["params"]
    other = "receiver" if role == "sender" else "sender"
    handshake(ch, PROTOCOL, VERSION, params, role=role, peer_role=other)
    id_key = coin_toss(ch, role, rng, PROTOCOL, b"pqmpc/rr22-psi/v1/session")[:16]
    ids_all = keys.item_ids(data, offsets, id_key, out=pool.get("item ids", (n_items, 16)))
    reps, inverse = keys.dedup_ids(ids_all, pool)
    # reps lists first occurrences in order: with no duplicates it is 0..n-1, so skip the gather
    ids = ids_all if reps.shape[0] == ids_all.shape[0] else np.ascontiguousarray(ids_all[reps])
    del ids_all
    n = ids.shape[0]
    n_peer = exchange_sizes(ch, n, PROTOCOL, max_peer_items)
    n_s, n_r = (n, n_peer) if role == "sender" else (n_peer, n)
    params = dict(params, tag_bits=8 * tag_bytes(n_s, n_r, malicious), sender_distinct=n_s, receiver_distinct=n_r,
                  okvs_size=OkvsParams(n_r, bin_size=bin_size).size)

    def finish(indices, inter, pairs=None):
        ph.stop()
        st = ch.stats.since(stats0)
        if pairs is None and pl["wants"]:
            pairs = payload_wire.empty_join(inverse, pl["width"])
        return PsiResult(indices=indices, items=n_items, distinct=n, peer_distinct=n_peer, intersection=inter,
                         params=params, seconds=ph.seconds, bytes_sent=st.bytes_sent,
                         bytes_received=st.bytes_received, pairs=pairs)

    if n_s == 0 or n_r == 0:
        # Both sides know both sizes, so both stop here without further messages.
        return finish(np.zeros(0, dtype=np.int64) if (role == "receiver" or reveal_to_sender) else None, 0)
    ph.start("oprf", "RR22: base OTs, VOLE and OKVS")
    cot.setup(ch, role, rng.fork("rr22/base"))
    vole = SilentVole(cot, check=malicious, pool=pool)
    run = _receiver if role == "receiver" else _sender
    return finish(*run(ch, ids, inverse, n_peer, reveal_to_sender, malicious, vole, rng, bin_size, overlap, pl, ph,
                       pool))


def _receiver(ch, ids, inverse, n_s, reveal, malicious, vole, rng, bin_size, overlap, pl, ph, pool):
    out, prf, order = oprf_receive_binned(ch, ids, rng, malicious, vole, bin_size, proof=reveal and malicious,
                                          timings=None, distinct=True, overlap=overlap)   # ids are deduped
    ph.start("compare", "RR22: opening payloads" if pl["to_receiver"] else "RR22: comparing")
    pairs = None
    if pl["to_receiver"]:
        hits, pairs = payload_wire.recv_joined(ch, order, out, n_s, inverse, pl["width"], STEP5P, pool)
    else:
        ell = tag_bytes(n_s, ids.shape[0], malicious)
        tw = values.tag_words(values.recv_rows(ch, n_s, ell, STEP5), ell)
        if not values.is_sorted(tw):
            raise ProtocolError(f"{STEP5}: values are not sorted")
        found = np.empty(out.shape[0], dtype=np.int64)
        values.lookup(tw, values.tag_words(out, ell), *values.bucket_bits(n_s, ell), found)
        hits = np.sort(order[found >= 0])
    if reveal:
        matched = payload_wire.send_matched_ids(ch, ids, hits)
        if malicious:
            # prf is in the OKVS bin order: position of each distinct item there.
            where = np.empty(order.shape[0], dtype=np.int64)
            where[order] = np.arange(order.shape[0])
            values.send_rows(ch, np.ascontiguousarray(prf[where[matched]]))
        if pl["to_sender"]:
            payload_wire.send_own_payloads(ch, matched, inverse, pl["data"], pl["offsets"], pl["width"])
    return keys.members_of(inverse, hits), int(hits.shape[0]), pairs


def _sender(ch, ids, inverse, n_r, reveal, malicious, vole, rng, bin_size, overlap, pl, ph, pool):
    key = rr22_oprf_sender(ch, n_r, rng, malicious, vole, bin_size, prepare=ids, overlap=overlap)
    out, border = key.eval_binned(ids)
    ph.start("compare", "RR22: sealing payloads" if pl["to_receiver"] else "RR22: sending values")
    n = ids.shape[0]
    if pl["to_receiver"]:
        vals = pool.get("payload values", out.shape)
        # rows moved as one 16-byte item each: ~10x faster than numpy's row-by-byte fancy assignment
        w = out.shape[1]
        vals.view(f"V{w}").reshape(-1)[border] = np.ascontiguousarray(out).view(f"V{w}").reshape(-1)
        del out
        payload_wire.send_entries(ch, [vals], inverse, pl["data"], pl["offsets"], pl["width"], n_r, rng, pool)
        del vals
    else:
        ell = tag_bytes(n, n_r, malicious)
        msg = np.empty((n, ell), dtype=np.uint8)
        values.sort_values(values.tag_words(out, ell), ell, *values.bucket_bits(n, ell), np.empty(n, np.int64), msg)
        values.send_rows(ch, msg)
        del out, msg
    if not reveal:
        return None, None, None
    found = payload_wire.recv_matched_ids(ch, ids, n_r, STEP6)
    if malicious:
        proofs = values.recv_rows(ch, found.shape[0], 16, STEP7)
        if not np.array_equal(proofs, key.eval(ids[found], proof=True)):
            raise ProtocolError(f"{STEP7}: the receiver claimed matches it cannot prove")
    pairs = None
    if pl["to_sender"]:
        items, pt = payload_wire.recv_peer_payloads(ch, found, pl["width"], STEP8)
        pairs = join_pairs(inverse, items, pt)
    return keys.members_of(inverse, found), int(found.shape[0]), pairs
