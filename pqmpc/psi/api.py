"""Private set intersection: KKRT over lattice base OTs.

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
5. batched OPRF (:mod:`.kkrt`): the receiver learns ``F_j(x_j ‖ i_j)`` for the
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

What each side learns: the receiver, the intersection and ``n_s``; the sender,
``n_r`` and (only with ``reveal_to_sender``) the intersection. Set *sizes* —
the number of distinct items — are not hidden. A false match happens with
probability at most ``2^-40`` per session (union bound over the
``n_r·n_s`` comparisons), a cuckoo failure (reported on both sides as an error,
never a wrong result) with probability at most ``2^-40``.

Security: semi-honest, under the assumptions of :mod:`.kkrt` (ML-KEM base OTs,
AES); nothing rests on a classical public-key assumption, so the protocol is
post-quantum. It does not protect against a malicious party (one could, for
instance, send more than ``n_s`` values). Python cannot promise constant time.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from ..errors import ParameterError, PqmpcError, ProtocolError
from ..net import Channel, handshake
from ..primitives.hashing import shake
from ..rng import Rng
from . import cuckoo, keys, kkrt

PROTOCOL = "KKRT-PSI"
VERSION = 1
LAMBDA = 40
MAX_ITEMS = 1 << 30


class PeerAbort(PqmpcError):
    """The peer stopped the session and said why."""


@dataclass
class PsiResult:
    """Everything one run produced (the library calls return only ``indices``)."""

    indices: np.ndarray | None
    items: int
    distinct: int
    peer_distinct: int
    intersection: int | None
    params: dict
    seconds: dict = field(default_factory=dict)
    bytes_sent: int = 0
    bytes_received: int = 0

    @property
    def duplicates(self) -> int:
        return self.items - self.distinct


def psi_sender(ch: Channel, items, rng=None, reveal_to_sender: bool = False, **kw):
    """Sender side; returns its sorted matching indices if ``reveal_to_sender``, else ``None``.

    Keywords: ``kappa`` (128 or 256), ``base_ot`` (an OT instance; default
    ML-KEM KyberOT), ``chunk`` (bins per OPRF chunk), ``progress``.
    """
    return run_psi("sender", ch, items, rng, reveal_to_sender, **kw).indices


def psi_receiver(ch: Channel, items, rng=None, reveal_to_sender: bool = False, **kw) -> np.ndarray:
    """Receiver side; returns the sorted indices (int64) of its items in the intersection."""
    return run_psi("receiver", ch, items, rng, reveal_to_sender, **kw).indices


def default_base_ot(kappa: int):
    from ..ot.base.kyber import KyberOT

    return KyberOT("ML-KEM-768") if kappa == 128 else KyberOT("ML-KEM-1024", block_bytes=32)


def session_params(kappa: int, base_ot, reveal_to_sender: bool, extra: dict | None = None,
                   chunk: int | None = None) -> dict:
    params = {"kappa": kappa, "chunk_bins": chunk if chunk is not None else kkrt.DEFAULT_CHUNK, "lambda": LAMBDA,
              "code_bits": 128 * kkrt.width_blocks(kappa),
              "hash_functions": cuckoo.NUM_HASHES, "cuckoo": "stash-less, PSTY19 table size",
              "base_ot": f"{getattr(base_ot, 'name', type(base_ot).__name__)}/{getattr(base_ot, 'variant', '')}",
              "output": "both" if reveal_to_sender else "receiver"}
    params.update(extra or {})
    return params


def tag_bytes(n_sender: int, n_receiver: int) -> int:
    bits = LAMBDA + math.ceil(math.log2(max(1, n_sender) * max(1, n_receiver)))
    return min(16, (bits + 7) // 8)


class _Phases:
    def __init__(self, progress):
        self.progress = progress
        self.seconds = {}
        self._name = None
        self._t = 0.0

    def start(self, name: str, label: str | None = None):
        self.stop()
        self._name, self._t = name, time.perf_counter()
        if self.progress is not None:
            self.progress.phase(label or name)

    def update(self, done, total):
        if self.progress is not None:
            self.progress.update(done, total)

    def stop(self):
        if self._name is not None:
            self.seconds[self._name] = self.seconds.get(self._name, 0.0) + time.perf_counter() - self._t
            self._name = None


def _check_count(v, what: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_ITEMS:
        raise ProtocolError(f"{PROTOCOL} step 3 (set sizes): {what} must be an integer in [0, 2^30], got {v!r}")
    return v


def run_psi(role: str, ch: Channel, items, rng=None, reveal_to_sender: bool = False, kappa: int = 128,
            base_ot=None, chunk: int = kkrt.DEFAULT_CHUNK, progress=None, extra_params: dict | None = None,
            ) -> PsiResult:
    """One PSI session as ``role`` (``"sender"`` or ``"receiver"``); see the module docstring.

    ``items`` may also be a pre-encoded ``(data, offsets)`` pair from
    :func:`keys.encode_items`. ``extra_params`` joins the handshake (both
    sides must pass equal values).
    """
    if role not in ("sender", "receiver"):
        raise ParameterError(f"role must be 'sender' or 'receiver', not {role!r}")
    rng = Rng.ensure(rng)
    nb = kkrt.width_blocks(kappa)
    base_ot = base_ot if base_ot is not None else default_base_ot(kappa)
    ph = _Phases(progress)
    stats0 = ch.stats.snapshot()

    ph.start("encode", "encoding keys")
    data, offsets = items if isinstance(items, tuple) else keys.encode_items(items)
    n_items = offsets.shape[0] - 1
    if n_items > MAX_ITEMS:
        raise ParameterError(f"at most 2^30 items per side, got {n_items}")

    ph.start("handshake", "handshake")
    params = session_params(kappa, base_ot, reveal_to_sender, extra_params, chunk)
    other = "receiver" if role == "sender" else "sender"
    handshake(ch, PROTOCOL, VERSION, params, role=role, peer_role=other)
    my_coin = rng.fork("psi/coin").bytes(32)
    ch.send(my_coin)
    peer_coin = ch.recv_bytes(32, f"{PROTOCOL} step 2 (coin toss)")
    coins = my_coin + peer_coin if role == "sender" else peer_coin + my_coin
    seed = hashlib.sha256(b"pqmpc/kkrt-psi/v1/session" + coins).digest()
    material = np.frombuffer(shake(seed, 32 + 16 * nb, b"kkrt-psi keys"), dtype=np.uint8)
    id_key, pos_key, code_keys = bytes(material[:16]), bytes(material[16:32]), material[32:].reshape(nb, 16)

    ph.start("hash", "hashing and de-duplicating keys")
    ids_all = keys.item_ids(data, offsets, id_key)
    reps, inverse = keys.dedup_ids(ids_all)
    ids = np.ascontiguousarray(ids_all[reps])
    del ids_all
    n = ids.shape[0]
    ch.send_json({"distinct": n})
    msg = ch.recv_json(f"{PROTOCOL} step 3 (set sizes)")
    if not isinstance(msg, dict):
        raise ProtocolError(f"{PROTOCOL} step 3 (set sizes): expected an object, got {type(msg).__name__}")
    n_peer = _check_count(msg.get("distinct"), "the peer's number of distinct items")
    n_s, n_r = (n, n_peer) if role == "sender" else (n_peer, n)
    ell = tag_bytes(n_s, n_r)
    params = dict(params, tag_bits=8 * ell, sender_distinct=n_s, receiver_distinct=n_r)

    def finish(indices, inter):
        ph.stop()
        st = ch.stats.since(stats0)
        return PsiResult(indices=indices, items=n_items, distinct=n, peer_distinct=n_peer, intersection=inter,
                         params=params, seconds=ph.seconds, bytes_sent=st.bytes_sent,
                         bytes_received=st.bytes_received)

    empty = np.zeros(0, dtype=np.int64)
    if n_s == 0 or n_r == 0:
        # Both sides know both sizes, so both stop here without further messages.
        return finish(empty if (role == "receiver" or reveal_to_sender) else None, 0)
    m = cuckoo.num_bins(n_r)
    params["bins"] = m
    crk = kkrt.code_round_keys(code_keys)
    if role == "receiver":
        return finish(*_receiver(ch, ids, inverse, m, pos_key, crk, n_s, ell, reveal_to_sender, base_ot, rng,
                                 chunk, ph))
    return finish(*_sender(ch, ids, inverse, m, pos_key, crk, n_r, ell, reveal_to_sender, base_ot, rng, chunk, ph))


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


def _tag_words(out: np.ndarray, ell: int) -> np.ndarray:
    """``(n, 2)`` uint64: the first ``ell`` bytes of each 16-byte value, zero above."""
    t = np.zeros((out.shape[0], 16), dtype=np.uint8)
    t[:, :ell] = out[:, :ell]
    return t.view(np.uint64)


def _bucket_bits(n: int, ell: int) -> tuple[int, int]:
    """(bits, shift): bucket values by their top ``bits`` bits (≈ 4 values per bucket)."""
    bits = int(min(20, max(1, (max(n, 1)).bit_length() - 2)))
    return bits, 8 * min(ell, 8) - bits


@njit(cache=True, nogil=True)
def _sorted_values(tw, ell, bits, shift, order, out):
    """Sort the values by (word 0, word 1) — a bucket pass on the top bits of word 0,
    then insertion sort inside each (tiny: the values are pseudorandom) — and
    write the first ``ell`` bytes of each, in order, to ``out``."""
    n = tw.shape[0]
    nbk = 1 << bits
    sh = np.uint64(shift)
    start = np.zeros(nbk + 1, dtype=np.int64)
    for i in range(n):
        start[np.int64(tw[i, 0] >> sh) + 1] += 1
    for b in range(nbk):
        start[b + 1] += start[b]
    fill = start[:-1].copy()
    for i in range(n):
        b = np.int64(tw[i, 0] >> sh)
        order[fill[b]] = i
        fill[b] += 1
    for b in range(nbk):
        lo = start[b]
        for a in range(lo + 1, start[b + 1]):
            x = order[a]
            k = a - 1
            while k >= lo and (tw[order[k], 0] > tw[x, 0]
                               or (tw[order[k], 0] == tw[x, 0] and tw[order[k], 1] > tw[x, 1])):
                order[k + 1] = order[k]
                k -= 1
            order[k + 1] = x
    raw = tw.view(np.uint8).reshape(n, 16)
    for k in range(n):
        src = order[k]
        for j in range(ell):
            out[k, j] = raw[src, j]


@njit(cache=True, nogil=True)
def _is_sorted(tw):
    for i in range(1, tw.shape[0]):
        if tw[i, 0] < tw[i - 1, 0] or (tw[i, 0] == tw[i - 1, 0] and tw[i, 1] < tw[i - 1, 1]):
            return False
    return True


@njit(cache=True, nogil=True)
def _lookup(sorted_tw, queries, bits, shift, found):
    """Position of each query in the sorted values, or -1 (bucket index, then a short scan)."""
    n = sorted_tw.shape[0]
    nbk = 1 << bits
    sh = np.uint64(shift)
    start = np.zeros(nbk + 1, dtype=np.int64)
    for i in range(n):
        start[np.int64(sorted_tw[i, 0] >> sh) + 1] += 1
    for b in range(nbk):
        start[b + 1] += start[b]
    for r in range(queries.shape[0]):
        q0 = queries[r, 0]
        q1 = queries[r, 1]
        b = np.int64(q0 >> sh)
        found[r] = -1
        for p in range(start[b], start[b + 1]):
            if sorted_tw[p, 0] == q0 and sorted_tw[p, 1] == q1:
                found[r] = p
                break


def _receiver(ch, ids, inverse, m, pos_key, crk, n_s, ell, reveal, base_ot, rng, chunk, ph):
    ph.start("cuckoo", "cuckoo hashing")
    pos = cuckoo.positions(ids, m, pos_key)
    try:
        table, hidx = cuckoo.insert(pos, m)
    except cuckoo.CuckooError as exc:
        ch.send_json({"ok": False, "error": str(exc)})
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
    hits_distinct = []
    for i in range(cuckoo.NUM_HASHES):
        theirs = ch.recv_array(np.uint8, (n_s, ell), f"{PROTOCOL} step 6 (sender values, hash function {i})")
        tw = _tag_words(theirs, ell)
        if not _is_sorted(tw):
            raise ProtocolError(f"{PROTOCOL} step 6 (sender values, hash function {i}): values are not sorted")
        bins = occupied[hidx[occupied] == i]
        mine = _tag_words(out[bins], ell)
        found = np.empty(bins.shape[0], dtype=np.int64)
        _lookup(tw, mine, *_bucket_bits(n_s, ell), found)
        hits_distinct.append(table[bins[found >= 0]])
    hits = np.concatenate(hits_distinct)
    if reveal:
        # The ids of the matched items, sorted: a function of the intersection alone. Anything
        # per hash function (which list, which position) would tell the sender where the
        # receiver's cuckoo table put each item, which depends on its whole set and its order.
        ch.send(_sorted_ids(ids, hits))
    return keys.members_of(inverse, hits), int(hits.shape[0])


def _sorted_ids(ids: np.ndarray, which: np.ndarray) -> np.ndarray:
    """``(k, 16)`` uint8: ``ids[which]`` sorted as the step-6 values are (bytes 0–7, then 8–15, as u64le)."""
    sel = np.ascontiguousarray(ids[which])
    k = sel.shape[0]
    out = np.empty((k, 16), dtype=np.uint8)
    if k:
        _sorted_values(sel.view(np.uint64), 16, *_bucket_bits(k, 16), np.empty(k, dtype=np.int64), out)
    return out


@njit(cache=True, nogil=True)
def _strictly_increasing(tw):
    for i in range(1, tw.shape[0]):
        if tw[i, 0] < tw[i - 1, 0] or (tw[i, 0] == tw[i - 1, 0] and tw[i, 1] <= tw[i - 1, 1]):
            return False
    return True


def _sender(ch, ids, inverse, m, pos_key, crk, n_r, ell, reveal, base_ot, rng, chunk, ph):
    ph.start("cuckoo", "simple hashing")
    n = ids.shape[0]
    pos = cuckoo.positions(ids, m, pos_key)
    words = np.concatenate([_hash_words(ids, i) for i in range(cuckoo.NUM_HASHES)])
    bins = np.ascontiguousarray(pos.T).reshape(-1)
    del pos
    status = ch.recv_json(f"{PROTOCOL} step 4 (receiver's cuckoo status)")
    if not isinstance(status, dict) or status.get("ok") is not True:
        why = status.get("error") if isinstance(status, dict) else None
        if isinstance(why, str):
            raise PeerAbort(f"the receiver stopped: {why[:300]}")
        raise ProtocolError(f"{PROTOCOL} step 4 (receiver's cuckoo status): unexpected message")

    ph.start("oprf", "OPRF (base OTs + extension)")
    out = kkrt.oprf_send(ch, m, words, bins, crk, base_ot, rng, chunk, progress=ph.update)
    del words, bins

    ph.start("compare", "sending values")
    msg = np.empty((n, ell), dtype=np.uint8)
    for i in range(cuckoo.NUM_HASHES):
        tw = _tag_words(out[i * n:(i + 1) * n], ell)
        order = np.empty(n, dtype=np.int64)
        _sorted_values(tw, ell, *_bucket_bits(n, ell), order, msg)
        ch.send(msg)
    del out
    if not reveal:
        return None, None
    step = f"{PROTOCOL} step 7 (ids of the matched items)"
    got = ch.recv_array(np.uint8, (-1, 16), step)
    if got.shape[0] > min(n, n_r):
        raise ProtocolError(f"{step}: {got.shape[0]} matches, more than the smaller set ({min(n, n_r)})")
    k = got.shape[0]
    if not k:
        return keys.members_of(inverse, np.zeros(0, dtype=np.int64)), 0
    gw = got.view(np.uint64)
    if not _strictly_increasing(gw):
        raise ProtocolError(f"{step}: ids are not sorted or repeat")
    mine = np.empty((n, 16), dtype=np.uint8)
    order = np.empty(n, dtype=np.int64)
    _sorted_values(np.ascontiguousarray(ids).view(np.uint64), 16, *_bucket_bits(n, 16), order, mine)
    found = np.empty(k, dtype=np.int64)
    _lookup(mine.view(np.uint64), gw, *_bucket_bits(n, 16), found)
    if np.any(found < 0):
        raise ProtocolError(f"{step}: an id that is not one of the sender's items")
    hits = order[found]
    return keys.members_of(inverse, hits), k
