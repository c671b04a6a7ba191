"""Private set intersection: the KKRT protocol over lattice base OTs (the session driver).

``psi_receiver(ch, items)`` returns the sorted indices of the receiver's items
that the sender also holds; ``psi_sender(ch, items)`` returns nothing, or its
own sorted indices with ``reveal_to_sender=True``. Items are ``str`` (UTF-8)
or ``bytes``; equal items are equal byte strings. Duplicates are allowed: the
protocol runs on distinct keys and every position holding a matching key is
returned.

Protocol (Kolesnikov–Kumaresan–Rosulek–Trieu, CCS 2016), one session:

1. handshake: protocol, version, κ, λ, code width, hash functions, base OT,
   output mode (and whatever the caller adds, e.g. the CLI's key layout);
2. coin tossing: both send 32 random bytes; the session keys for item ids,
   cuckoo positions and the pseudorandom code are derived from both;
3. both map their items to 128-bit ids (:mod:`.keys`), drop duplicates and
   exchange the numbers of distinct items;
4. the receiver cuckoo-hashes its ids into ``m`` bins with three hash
   functions (:mod:`.cuckoo`, no stash, failure ≤ 2^-40); the sender computes
   all three bins of each of its ids;
5. batched OPRF (:mod:`pqmpc.ot.kkrt`): the receiver learns ``F_j(x_j ‖ i_j)`` for the
   item in bin ``j`` placed by hash function ``i_j``; the sender computes
   ``F_{h_i(y)}(y ‖ i)`` for all its ``y`` and ``i``;
6. the sender sends, for each ``i``, its ``n_s`` OPRF values truncated to
   ``ℓ = λ + ⌈log2(n_s·n_r)⌉`` bits and sorted (the order is a function of the
   set of values only, so it says nothing about the sender's input order);
7. the receiver looks up each of its values in the list of its hash function;
   with ``reveal_to_sender`` it sends back the sorted ids of the matched items
   (a function of the intersection alone: not which list or position matched,
   which would depend on the receiver's cuckoo table, hence on its whole set
   and its order); the sender looks them up among its own ids.

Steps 2–3 and the result live in :mod:`.session`, the sorted lists of steps
6–7 in :mod:`.values`. Every receive is capped by what its step expects: the
sizes of step 3 by :data:`~.session.MAX_ITEMS` (or the caller's
``max_peer_items``), the lists of steps 6–7 by those sizes, in frames of a
bounded size.

What each side learns: the receiver, the intersection and ``n_s``; the sender,
``n_r`` and (only with ``reveal_to_sender``) the intersection. Set *sizes* —
the number of distinct items — are not hidden. A false match happens with
probability at most ``2^-40`` per session (union bound over the
``n_r·n_s`` comparisons), a cuckoo failure (reported on both sides as an error,
never a wrong result) with probability at most ``2^-40``.

Security: semi-honest, under the assumptions of :mod:`pqmpc.ot.kkrt` (ML-KEM base OTs,
AES); nothing rests on a classical public-key assumption, so the protocol is
post-quantum. It does not protect against a malicious party (one could, for
instance, send more than ``n_s`` values). Python cannot promise constant time.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ParameterError, ProtocolError
from ..net import Channel, handshake
from ..ot import kkrt
from ..primitives.hashing import shake
from ..rng import Rng
from . import cuckoo, keys, payload_wire, values
from . import payload as payload_mod
from .session import (
    LAMBDA,
    MAX_ITEMS,
    PeerAbort,
    Phases,
    PsiResult,
    coin_toss,
    default_base_ot,
    exchange_sizes,
    recv_control,
    tag_bytes,
)

__all__ = ["PROTOCOL", "VERSION", "LAMBDA", "MAX_ITEMS", "PeerAbort", "PsiResult", "psi_sender", "psi_receiver",
           "run_psi", "session_params", "tag_bytes", "default_base_ot"]

PROTOCOL = "KKRT-PSI"
#: 2: 64-bit cuckoo lanes and step 7 as sorted ids. A version-1 peer would place items in
#: other bins and miss matches silently, so the handshake must tell them apart.
VERSION = 2


def psi_sender(ch: Channel, items, rng=None, reveal_to_sender: bool = False, **kw):
    """Sender side; returns its sorted matching indices if ``reveal_to_sender``, else ``None``.

    Keywords: ``kappa`` (128 or 256), ``base_ot`` (an OT instance; default
    ML-KEM KyberOT), ``chunk`` (bins per OPRF chunk), ``progress``,
    ``max_peer_items`` (refuse a peer announcing more distinct items);
    payloads (:mod:`.payload`): ``payload`` (one ``str``/``bytes`` per item,
    learned by the receiver for its matching items), ``peer_payload=True``
    (learn the receiver's payloads; needs ``reveal_to_sender``; then the
    return value is a :class:`~.payload.PayloadJoin`), ``payload_width``
    (bytes every payload is padded to; both sides must agree).
    """
    res = run_psi("sender", ch, items, rng, reveal_to_sender, **kw)
    return res.pairs if kw.get("peer_payload") else res.indices


def psi_receiver(ch: Channel, items, rng=None, reveal_to_sender: bool = False, **kw):
    """Receiver side; returns the sorted indices (int64) of its items in the intersection.

    With ``peer_payload=True`` it returns a :class:`~.payload.PayloadJoin` instead: one
    (own row, sender payload) pair per matching (receiver row, sender row), as a SQL
    inner join (``.indices`` is the plain result). ``payload`` sends this side's
    payloads of the matched items to the sender (needs ``reveal_to_sender``).
    """
    res = run_psi("receiver", ch, items, rng, reveal_to_sender, **kw)
    return res.pairs if kw.get("peer_payload") else res.indices


def session_params(kappa: int, base_ot, reveal_to_sender: bool, extra: dict | None = None,
                   chunk: int | None = None) -> dict:
    params = {"kappa": kappa, "chunk_bins": chunk if chunk is not None else kkrt.DEFAULT_CHUNK, "lambda": LAMBDA,
              "code_bits": 128 * kkrt.width_blocks(kappa),
              "hash_functions": cuckoo.NUM_HASHES, "cuckoo": "stash-less, PSTY19 table size",
              "base_ot": f"{getattr(base_ot, 'name', type(base_ot).__name__)}/{getattr(base_ot, 'variant', '')}",
              "output": "both" if reveal_to_sender else "receiver"}
    params.update(extra or {})
    return params


def run_psi(role: str, ch: Channel, items, rng=None, reveal_to_sender: bool = False, kappa: int = 128,
            base_ot=None, chunk: int = kkrt.DEFAULT_CHUNK, progress=None, extra_params: dict | None = None,
            max_peer_items: int = MAX_ITEMS, payload=None, peer_payload: bool = False,
            payload_width: int = payload_mod.DEFAULT_WIDTH) -> PsiResult:
    """One PSI session as ``role`` (``"sender"`` or ``"receiver"``); see the module docstring.

    ``items`` may also be a pre-encoded ``(data, offsets)`` pair from
    :func:`keys.encode_items`. ``extra_params`` joins the handshake (both
    sides must pass equal values). ``max_peer_items`` bounds the number of
    distinct items the peer may announce (and so what it can make us compute).
    ``payload``/``peer_payload``/``payload_width``: see :func:`psi_sender`; the
    peers' pairs end in ``PsiResult.pairs``.
    """
    if role not in ("sender", "receiver"):
        raise ParameterError(f"role must be 'sender' or 'receiver', not {role!r}")
    if not 0 <= max_peer_items <= MAX_ITEMS:
        raise ParameterError(f"max_peer_items must be in [0, 2^30], not {max_peer_items}")
    rng = Rng.ensure(rng)
    nb = kkrt.width_blocks(kappa)
    base_ot = base_ot if base_ot is not None else default_base_ot(kappa)
    ph = Phases(progress)
    stats0 = ch.stats.snapshot()

    ph.start("encode", "encoding keys")
    data, offsets = items if keys.is_encoded(items) else keys.encode_items(items)
    n_items = offsets.shape[0] - 1
    if n_items > MAX_ITEMS:
        raise ParameterError(f"at most 2^30 items per side, got {n_items}")
    pl = payload_wire.setup(role, payload, peer_payload, payload_width, reveal_to_sender, n_items)

    ph.start("handshake", "handshake")
    params = session_params(kappa, base_ot, reveal_to_sender, extra_params, chunk)
    if pl is not None:
        params["payload"] = pl["params"]
    other = "receiver" if role == "sender" else "sender"
    handshake(ch, PROTOCOL, VERSION, params, role=role, peer_role=other)
    seed = coin_toss(ch, role, rng, PROTOCOL, b"pqmpc/kkrt-psi/v1/session")
    material = np.frombuffer(shake(seed, 32 + 16 * nb, b"kkrt-psi keys"), dtype=np.uint8)
    id_key, pos_key, code_keys = bytes(material[:16]), bytes(material[16:32]), material[32:].reshape(nb, 16)

    ph.start("hash", "hashing and de-duplicating keys")
    ids_all = keys.item_ids(data, offsets, id_key)
    reps, inverse = keys.dedup_ids(ids_all)
    ids = np.ascontiguousarray(ids_all[reps])
    del ids_all
    n = ids.shape[0]
    n_peer = exchange_sizes(ch, n, PROTOCOL, max_peer_items)
    n_s, n_r = (n, n_peer) if role == "sender" else (n_peer, n)
    ell = tag_bytes(n_s, n_r)
    params = dict(params, tag_bits=8 * ell, sender_distinct=n_s, receiver_distinct=n_r)

    def finish(indices, inter, pairs=None):
        ph.stop()
        st = ch.stats.since(stats0)
        if pairs is None and pl is not None and pl["wants"]:
            pairs = payload_wire.empty_join(inverse, pl["width"])
        return PsiResult(indices=indices, items=n_items, distinct=n, peer_distinct=n_peer, intersection=inter,
                         params=params, seconds=ph.seconds, bytes_sent=st.bytes_sent,
                         bytes_received=st.bytes_received, pairs=pairs)

    empty = np.zeros(0, dtype=np.int64)
    if n_s == 0 or n_r == 0:
        # Both sides know both sizes, so both stop here without further messages.
        return finish(empty if (role == "receiver" or reveal_to_sender) else None, 0)

    m = cuckoo.num_bins(n_r)
    params["bins"] = m
    crk = kkrt.code_round_keys(code_keys)
    if role == "receiver":
        return finish(*_receiver(ch, ids, inverse, m, pos_key, crk, n_s, ell, reveal_to_sender, base_ot, rng,
                                 chunk, ph, pl))
    return finish(*_sender(ch, ids, inverse, m, pos_key, crk, n_r, ell, reveal_to_sender, base_ot, rng, chunk, ph,
                           pl))


def _hash_words(ids: np.ndarray, i: int) -> np.ndarray:
    """The OPRF input for an id placed by hash function ``i``: its top byte tagged with ``i + 1``."""
    w = ids.copy()
    w.view(np.uint64)[:, 1] ^= np.uint64(i + 1) << np.uint64(56)
    return w


@njit(cache=True, nogil=True)
def _fill_bin_words(ids, table, hidx, words):
    """words[b] = OPRF input of the item in bin b (id with hash index tag); empty bins keep their random word."""
    for b in range(table.shape[0]):
        t = table[b]
        if t >= 0:
            words[b, 0] = ids[t, 0]
            words[b, 1] = ids[t, 1] ^ (np.uint64(hidx[b] + 1) << np.uint64(56))


STEP4 = f"{PROTOCOL} step 4 (receiver's cuckoo status)"
STEP6 = f"{PROTOCOL} step 6 (sender values, hash function {{}})"
STEP7 = f"{PROTOCOL} step 7 (ids of the matched items)"
STEP6P = f"{PROTOCOL} step 6 (sender payload entries, {{}})"
STEP8 = f"{PROTOCOL} step 8 (receiver payloads of the matched items)"


def _receiver(ch, ids, inverse, m, pos_key, crk, n_s, ell, reveal, base_ot, rng, chunk, ph, pl):
    ph.start("cuckoo", "cuckoo hashing")
    pos = cuckoo.positions(ids, m, pos_key)
    try:
        table, hidx = cuckoo.insert(pos, m)
    except cuckoo.CuckooError as exc:
        ch.send_json({"ok": False, "error": str(exc)[:300]})
        raise
    ch.send_json({"ok": True})
    del pos
    occupied = np.flatnonzero(table >= 0)
    words = rng.fork("psi/dummy-bins").blocks(m)  # empty bins: random words, outputs unused
    _fill_bin_words(ids.view(np.uint64), table, hidx, words.view(np.uint64))

    ph.start("oprf", "OPRF (base OTs + extension)")
    out = kkrt.oprf_receive(ch, words, crk, base_ot, rng, chunk, progress=ph.update)
    del words

    ph.start("compare", "comparing")
    pairs = None
    if pl is not None and pl["to_receiver"]:
        hits, pairs = _receiver_payloads(ch, out, table, hidx, occupied, inverse, n_s, pl, ph)
        return _receiver_reveal(ch, ids, inverse, hits, reveal, pl) + (pairs,)
    hits_distinct = []
    for i in range(cuckoo.NUM_HASHES):
        step = STEP6.format(i)
        theirs = values.recv_rows(ch, n_s, ell, step)
        tw = values.tag_words(theirs, ell)
        if not values.is_sorted(tw):
            raise ProtocolError(f"{step}: values are not sorted")
        bins = occupied[hidx[occupied] == i]
        mine = values.tag_words(out[bins], ell)
        found = np.empty(bins.shape[0], dtype=np.int64)
        values.lookup(tw, mine, *values.bucket_bits(n_s, ell), found)
        hits_distinct.append(table[bins[found >= 0]])
    hits = np.concatenate(hits_distinct)
    return _receiver_reveal(ch, ids, inverse, hits, reveal, pl)


def _receiver_payloads(ch, out, table, hidx, occupied, inverse, n_s, pl, ph):
    """Step 6 with payloads: open the sender's entries of the receiver's items (:mod:`.payload_wire`)."""
    queries = []
    for i in range(cuckoo.NUM_HASHES):
        bins = occupied[hidx[occupied] == i]
        queries.append((table[bins], out[bins]))
    n_r = int(inverse.max()) + 1
    items, pt = payload_wire.recv_entries(ch, queries, n_s, n_r, pl["width"], STEP6P)
    return payload_mod.distinct_sorted(items, n_r), payload_mod.join_pairs(inverse, items, pt)


def _receiver_reveal(ch, ids, inverse, hits, reveal, pl):
    if reveal:
        # The ids of the matched items, sorted: a function of the intersection alone. Anything
        # per hash function (which list, which position) would tell the sender where the
        # receiver's cuckoo table put each item, which depends on its whole set and its order.
        sorted_ids, order = values.sorted_rows(ids[hits])
        values.send_rows(ch, sorted_ids, terminated=True)
        if pl is not None and pl["to_sender"]:
            payload_wire.send_own_payloads(ch, hits[order], inverse, pl["data"], pl["offsets"], pl["width"])
    return keys.members_of(inverse, hits), int(hits.shape[0])


def _sender(ch, ids, inverse, m, pos_key, crk, n_r, ell, reveal, base_ot, rng, chunk, ph, pl):
    ph.start("cuckoo", "simple hashing")
    n = ids.shape[0]
    pos = cuckoo.positions(ids, m, pos_key)
    words = np.concatenate([_hash_words(ids, i) for i in range(cuckoo.NUM_HASHES)])
    bins = np.ascontiguousarray(pos.T).reshape(-1)
    del pos
    _check_status(recv_control(ch, STEP4))

    ph.start("oprf", "OPRF (base OTs + extension)")
    out = kkrt.oprf_send(ch, m, words, bins, crk, base_ot, rng, chunk, progress=ph.update)
    del words, bins

    ph.start("compare", "sending values")
    if pl is not None and pl["to_receiver"]:
        payload_wire.send_entries(ch, [out[i * n:(i + 1) * n] for i in range(cuckoo.NUM_HASHES)], inverse,
                                  pl["data"], pl["offsets"], pl["width"], n_r, rng)
    else:
        msg = np.empty((n, ell), dtype=np.uint8)
        order = np.empty(n, dtype=np.int64)
        for i in range(cuckoo.NUM_HASHES):
            tw = values.tag_words(out[i * n:(i + 1) * n], ell)
            values.sort_values(tw, ell, *values.bucket_bits(n, ell), order, msg)
            values.send_rows(ch, msg)
    del out
    if not reveal:
        return None, None, None
    got = values.recv_rows_upto(ch, min(n, n_r), 16, STEP7)
    k = got.shape[0]
    gw = got.view(np.uint64)
    if not values.strictly_increasing(gw):
        raise ProtocolError(f"{STEP7}: ids are not sorted or repeat")
    found = values.find_rows(ids, got)
    if np.any(found < 0):
        raise ProtocolError(f"{STEP7}: an id that is not one of the sender's items")
    pairs = None
    if pl is not None and pl["to_sender"]:
        items, pt = payload_wire.recv_peer_payloads(ch, found, pl["width"], STEP8)
        pairs = payload_mod.join_pairs(inverse, items, pt)
    return keys.members_of(inverse, found), k, pairs


def _check_status(status) -> None:
    """Step 4: ``{"ok": true}``, or ``{"ok": false, "error": why}`` and a stop."""
    if status == {"ok": True} and status["ok"] is True:
        return
    if isinstance(status, dict) and set(status) == {"ok", "error"} and status["ok"] is False \
            and isinstance(status["error"], str):
        raise PeerAbort(f"the receiver stopped: {status['error'][:300]}")
    raise ProtocolError(f"{STEP4}: expected {{\"ok\": true}} or {{\"ok\": false, \"error\": text}}")
