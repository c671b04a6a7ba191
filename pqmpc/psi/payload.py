"""Payload (labeled) PSI: the receiver learns the sender's payloads of exactly its matching items.

Any OPRF-based PSI fits: the sender can evaluate the OPRF ``F`` on its own
items, the receiver learns ``F`` on its items only. The sender attaches to
each of its rows an encrypted entry keyed by ``F(y)``; the receiver can find
and open only the entries of items it holds. The OPRF plugs in through one
small interface (what :func:`seal` and :func:`open_entries` take):

* sender: ``values[c]`` — ``(n, 16)``, the OPRF value of each of its ``n``
  distinct items under *candidate* ``c`` (KKRT: one candidate per cuckoo hash
  function, 3 lists; an OPRF with one value per item, such as RR22's: 1 list);
* receiver: for each of its distinct items, its one OPRF value and the
  candidate list it must be looked up in.

Entry of sender row ``r`` (distinct item ``d``, candidate ``c``), with
``f = values[c][d]`` and ``t`` the rank of ``r`` among the rows holding the
same item (a random order, see below)::

    H_j = TCCR(f, (t·2^8 + j, TAG_PSI | 1 << 32))       j = 0, 1, ..., B + 2
    tag = first ℓ bytes of H_0
    pt  = u32 len ‖ u32 k ‖ payload ‖ zeros             (8 + W bytes; k = rows of item d)
    ct  = pt ⊕ (H_1 ‖ ... ‖ H_B)                         (B = ⌈(8 + W)/16⌉)
    mac = H_{B+2} ⊕ Σ_b ct_b · H_{B+1}^{B-b}              (GF(2^128), ct zero-padded to B blocks)
    entry = tag ‖ ct ‖ mac

The MAC is a one-time Carter–Wegman MAC (GHASH's polynomial under a key
pair used once): a changed ciphertext passes with probability at most
``B / 2^128``. ``H`` is the tweakable correlation-robust hash over fixed-key
AES (:func:`pqmpc.primitives.hashing.tccr`) under its own protocol tag, so
tag, keystream and MAC keys are domain-separated hashes of ``F(y)``; for an
item the receiver does not hold, ``F(y)`` is pseudorandom to it and so is
the whole entry. Everything is computed in bulk (chunks of rows, numba/AES-NI
and PCLMUL kernels): no per-row Python.

Each candidate list is sent sorted by tag, so its order is a function of the
entries only, never of the sender's input order. A sender item on ``k`` rows
has ``k`` entries per list (``t = 0 .. k-1``, ranks drawn at random so that
they say nothing about where the rows were); the receiver opens ``t = 0``,
reads ``k`` from it, then looks up ``t = 1 .. k-1``: one output pair per
(receiver row, sender row), as a SQL inner join.

Leaks: the receiver learns the sender's number of *rows* (not only of
distinct items), the agreed width ``W`` (public) and, for each item it holds,
all of the sender's payloads and their number. Payload lengths below ``W``
are hidden (padding); longer payloads are refused before anything is sent.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numba import njit

from ..errors import ParameterError, ProtocolError
from ..primitives import gf128
from ..primitives.hashing import TAG_PSI, make_tag, tccr
from . import keys, payload_kernels, values

__all__ = ["DEFAULT_WIDTH", "MAX_WIDTH", "HEADER", "PayloadJoin", "encode_payloads", "pad_payloads", "seal_iter",
           "entry_bytes", "seal", "open_entries", "join_pairs", "pack_columns", "unpack_columns"]

#: Payload bytes per row both sides agree on unless told otherwise.
DEFAULT_WIDTH = 32
#: Largest agreed width (64 KiB per row).
MAX_WIDTH = 1 << 16
#: The plaintext header: payload length and the item's number of rows, u32 little-endian each.
HEADER = 8
#: Word 1 of every tweak here (TAG_PSI instance 1; the comparison values of plain PSI use none).
_TWEAK_TAG = make_tag(TAG_PSI, 1)
#: Rows per chunk of the derivation (bounds the temporaries at a few tens of MB).
_CHUNK = 1 << 16


def _blocks(width: int) -> int:
    return -(-(HEADER + width) // 16)


def entry_bytes(ell: int, width: int) -> int:
    """Bytes of one entry on the wire: tag, ciphertext (header + width), MAC."""
    return ell + HEADER + width + 16


def check_width(width) -> int:
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or not 0 <= width <= MAX_WIDTH:
        raise ParameterError(f"payload_width must be an integer in [0, {MAX_WIDTH}], not {width!r}")
    return int(width)


def encode_payloads(payload, n_rows: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """``(data, offsets)`` of the caller's payloads (one ``str``/``bytes`` per row), checked against ``width``."""
    data, offsets = payload if keys.is_encoded(payload) else keys.encode_items(payload, "payload")
    if offsets.shape[0] - 1 != n_rows:
        raise ParameterError(f"payload has {offsets.shape[0] - 1} entries but there are {n_rows} items: "
                             f"give exactly one payload per item")
    lengths = np.diff(offsets)
    if lengths.size and int(lengths.max()) > width:
        i = int(np.argmax(lengths > width))
        raise ParameterError(f"the payload of item {i} is {int(lengths[i])} bytes, longer than the agreed "
                             f"payload_width of {width} bytes (raise payload_width on both sides)")
    return data, offsets


@njit(cache=True, nogil=True)
def _pad_kernel(data, offsets, mult, group, out):
    for r in range(offsets.shape[0] - 1):
        a = offsets[r]
        n = offsets[r + 1] - a
        m = mult[group[r]]
        for k in range(4):
            out[r, k] = np.uint8((n >> (8 * k)) & 0xFF)
            out[r, 4 + k] = np.uint8((m >> (8 * k)) & 0xFF)
        for j in range(n):
            out[r, HEADER + j] = data[a + j]
        for j in range(HEADER + n, out.shape[1]):
            out[r, j] = 0


def pad_payloads(data, offsets, width: int, mult, group=None) -> np.ndarray:
    """``(rows, 8 + width)`` plaintexts: header (length, ``mult[group[r]]``) and the zero-padded payload."""
    n = offsets.shape[0] - 1
    out = np.empty((n, HEADER + width), dtype=np.uint8)
    group = np.arange(n, dtype=np.int64) if group is None else np.ascontiguousarray(group, dtype=np.int64)
    _pad_kernel(np.ascontiguousarray(data), np.ascontiguousarray(offsets, dtype=np.int64),
                np.ascontiguousarray(mult, dtype=np.int64), group, out)
    return out


def _material(f: np.ndarray, ranks: np.ndarray, nblk: int) -> np.ndarray:
    """``(n, nblk + 3, 16)``: H_0 (tag), H_1..H_B (keystream), H_{B+1} (MAC key), H_{B+2} (MAC mask)."""
    n = f.shape[0]
    per = nblk + 3
    x = np.repeat(f, per, axis=0)
    tw = (np.repeat(ranks.astype(np.uint64), per) << np.uint64(8)) | np.tile(np.arange(per, dtype=np.uint64), n)
    return tccr(x, tw, tag=_TWEAK_TAG).reshape(n, per, 16)


def _mac(ct: np.ndarray, h: np.ndarray, s: np.ndarray, nblk: int) -> np.ndarray:
    n = ct.shape[0]
    padded = np.zeros((n, nblk * 16), dtype=np.uint8)
    padded[:, :ct.shape[1]] = ct
    acc = np.zeros((n, 16), dtype=np.uint8)
    for b in range(nblk):  # Horner, all rows at once
        acc ^= padded[:, 16 * b:16 * (b + 1)]
        acc = gf128.gf128_mul(acc, h)
    acc ^= s
    return acc


def _fused(backend: str) -> bool:
    if backend not in ("auto", "fused", "reference"):
        raise ParameterError(f"backend must be 'auto', 'fused' or 'reference', not {backend!r}")
    return backend == "fused" or (backend == "auto" and payload_kernels.AVAILABLE)


def seal_rows(f, ranks, pt, ell, nblk, backend: str = "auto", item=None, prow=None):
    """Entries (tag ‖ ct ‖ mac): entry ``k`` for OPRF value ``f[item[k]]``, ``ranks[k]`` and
    plaintext ``pt[prow[k]]`` (``item``, ``prow`` default to the identity).

    ``backend``: ``"fused"`` (one numba pass, AES-NI + PCLMUL), ``"reference"``
    (array passes over ``tccr``/``gf128_mul``) or ``"auto"``; same bytes.
    """
    if _fused(backend):
        return payload_kernels.seal_rows(f, ranks, pt, ell, nblk, _TWEAK_TAG, item, prow)
    if item is not None:
        f = f[item]
    if prow is not None:
        pt = pt[prow]
    n, plen = pt.shape
    out = np.empty((n, ell + plen + 16), dtype=np.uint8)
    for a in range(0, n, _CHUNK):
        b = min(n, a + _CHUNK)
        mat = _material(f[a:b], ranks[a:b], nblk)
        out[a:b, :ell] = mat[:, 0, :ell]
        ct = pt[a:b] ^ mat[:, 1:1 + nblk].reshape(b - a, -1)[:, :plen]
        out[a:b, ell:ell + plen] = ct
        out[a:b, ell + plen:] = _mac(ct, np.ascontiguousarray(mat[:, nblk + 1]),
                                     np.ascontiguousarray(mat[:, nblk + 2]), nblk)
    return out


def open_rows(f, ranks, entries, ell, plen, nblk, step, backend: str = "auto"):
    """Plaintexts of entries whose tags were found for ``(f, ranks)``; ProtocolError if a MAC fails."""
    if _fused(backend):
        pt, bad = payload_kernels.open_rows(f, ranks, entries, ell, plen, nblk, _TWEAK_TAG)
        if bad >= 0:
            raise ProtocolError(f"{step}: a matching entry fails authentication (tampered payload)")
        return pt
    n = f.shape[0]
    pt = np.empty((n, plen), dtype=np.uint8)
    for a in range(0, n, _CHUNK):
        b = min(n, a + _CHUNK)
        mat = _material(f[a:b], ranks[a:b], nblk)
        ct = entries[a:b, ell:ell + plen]
        mac = _mac(ct, np.ascontiguousarray(mat[:, nblk + 1]), np.ascontiguousarray(mat[:, nblk + 2]), nblk)
        if not np.array_equal(mac, entries[a:b, ell + plen:]):
            raise ProtocolError(f"{step}: a matching entry fails authentication (tampered payload)")
        pt[a:b] = ct ^ mat[:, 1:1 + nblk].reshape(b - a, -1)[:, :plen]
    return pt


def tags_of(f, ranks, ell, nblk) -> np.ndarray:
    """The ℓ-byte tags of ``(f, rank)`` pairs (what the receiver looks up)."""
    out = np.empty((f.shape[0], ell), dtype=np.uint8)
    for a in range(0, f.shape[0], _CHUNK):
        b = min(f.shape[0], a + _CHUNK)
        x = f[a:b]
        tw = np.ascontiguousarray(ranks[a:b], dtype=np.uint64) << np.uint64(8)
        out[a:b] = tccr(x, tw, tag=_TWEAK_TAG)[:, :ell]
    return out


@njit(cache=True, nogil=True)
def _rank_kernel(inverse, order, counter, rank):
    for k in range(order.shape[0]):
        r = order[k]
        d = inverse[r]
        rank[r] = counter[d]
        counter[d] += 1


def row_ranks(inverse: np.ndarray, n_distinct: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """``(rank, mult)`` per row: a random rank among the rows of the same item, and their number."""
    n = inverse.shape[0]
    mult = np.bincount(inverse, minlength=n_distinct).astype(np.int64)
    rank = np.zeros(n, dtype=np.int64)
    if n == n_distinct:
        return rank, mult
    dup = np.flatnonzero(mult[inverse] > 1)
    if dup.shape[0]:
        # A random order among the rows of one item, so ranks say nothing about input positions.
        order = dup[rng.fork("psi/payload-ranks").integers(dup.shape[0], 1 << 62).argsort(kind="stable")]
        _rank_kernel(inverse, order, np.zeros(n_distinct, dtype=np.int64), rank)
    return rank, mult


def seal_iter(value_lists, inverse, data, offsets, width: int, ell: int, rng, workers: int = 2):
    """Sender: one list of entries per candidate, each sorted by tag (see the module docstring),
    yielded in order as soon as each is ready.

    ``value_lists[c]`` is ``(n_distinct, 16)``; ``inverse[r]`` the distinct item of row ``r``;
    ``(data, offsets)`` the rows' payloads. Lists are sealed on ``workers`` threads (the
    kernels release the GIL), so the first one can be on the wire while the others are sealed.
    """
    n_distinct = value_lists[0].shape[0] if value_lists else 0
    rank, mult = row_ranks(inverse, n_distinct, rng)
    pt = pad_payloads(data, offsets, width, mult, inverse)
    nblk = _blocks(width)

    def one(vals):
        # Sealed in input order (sequential reads), then moved to tag order in one gather:
        # sealing straight into sorted places reads rows at random and is ~3x slower.
        entries = seal_rows(np.ascontiguousarray(vals), rank, pt, ell, nblk, item=inverse)
        n, width_ = entries.shape
        order = np.empty(n, dtype=np.int64)
        if n:
            values.sort_values(values.tag_words(entries, ell), ell, *values.bucket_bits(n, ell), order,
                               np.empty((n, ell), dtype=np.uint8))
        # Rows as one opaque item each: numpy's row gather is ~2x slower on (n, width) uint8.
        return entries.view(f"V{width_}").reshape(n)[order].view(np.uint8).reshape(n, width_)

    if workers <= 1 or len(value_lists) <= 1:
        for vals in value_lists:
            yield one(vals)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pqmpc-seal") as ex:
        futures = [ex.submit(one, vals) for vals in value_lists]
        for fut in futures:
            yield fut.result()


def seal(value_lists, inverse, data, offsets, width: int, ell: int, rng) -> list[np.ndarray]:
    """All lists of :func:`seal_iter` at once."""
    return list(seal_iter(value_lists, inverse, data, offsets, width, ell, rng, workers=1))


def check_sorted(entries: np.ndarray, ell: int, step: str) -> np.ndarray:
    tw = values.tag_words(entries, ell)
    if not values.is_sorted(tw):
        raise ProtocolError(f"{step}: entries are not sorted by tag")
    return tw


def _rows(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``a[idx]`` for a C-contiguous ``(n, w)`` uint8 array, each row moved as one item (faster)."""
    n, w = a.shape
    if not w:
        return np.zeros((idx.shape[0], 0), dtype=a.dtype)
    return np.ascontiguousarray(a).view(f"V{w}").reshape(n)[idx].view(np.uint8).reshape(-1, w)


def open_entries(entries, tw, f, ell: int, width: int, n_rows: int, step: str):
    """Receiver, one candidate list: open the entries of the items with OPRF values ``f``.

    ``entries`` is the list as received, ``tw`` its tag words (:func:`check_sorted`).
    Returns ``(item, pt)``: for each sender row found, which of the ``f`` rows it
    belongs to and its plaintext (header + padded payload), grouped by item.
    """
    nblk = _blocks(width)
    plen = HEADER + width
    bits = values.bucket_bits(entries.shape[0], ell)

    def find(fq, rk):
        found = np.empty(fq.shape[0], dtype=np.int64)
        if fq.shape[0]:
            values.lookup(tw, values.tag_words(tags_of(fq, rk, ell, nblk), ell), *bits, found)
        return found

    q = np.arange(f.shape[0], dtype=np.int64)
    found = find(f, np.zeros(f.shape[0], dtype=np.int64))
    hit = np.flatnonzero(found >= 0)
    first = open_rows(np.ascontiguousarray(f[hit]), np.zeros(hit.shape[0], dtype=np.int64),
                       _rows(entries, found[hit]), ell, plen, nblk, step)
    hdr = np.ascontiguousarray(first[:, :HEADER]).view("<u4").reshape(-1, 2).astype(np.int64)
    mult = hdr[:, 1]
    if np.any(hdr[:, 0] > width):
        raise ProtocolError(f"{step}: a payload longer than the agreed width")
    if np.any(mult < 1) or int(mult.sum()) > n_rows:
        raise ProtocolError(f"{step}: row counts are inconsistent with the {n_rows} rows announced")
    # The other rows of each item: ranks 1 .. k-1, found and opened in one batch.
    extra = mult - 1
    m_items = np.repeat(np.arange(hit.shape[0], dtype=np.int64), extra)
    rk = np.arange(m_items.shape[0], dtype=np.int64) - np.repeat(np.cumsum(extra) - extra, extra) + 1
    fq = np.ascontiguousarray(f[hit[m_items]])
    found2 = find(fq, rk)
    if np.any(found2 < 0):
        raise ProtocolError(f"{step}: an item announced {int(mult.max())} rows but an entry is missing")
    rest = open_rows(fq, rk, _rows(entries, found2), ell, plen, nblk, step)
    hdr2 = np.ascontiguousarray(rest[:, :HEADER]).view("<u4").reshape(-1, 2).astype(np.int64)
    if np.any(hdr2[:, 0] > width) or np.any(hdr2[:, 1] != mult[m_items]):
        raise ProtocolError(f"{step}: rows of one item disagree on their number, or a payload is too long")
    item = np.concatenate([q[hit], q[hit[m_items]]])
    pt = np.concatenate([first, rest])
    return item, pt


def payload_bytes(pt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(data, offsets)`` of the payloads inside plaintexts ``pt`` (header + padded payload)."""
    n, plen = pt.shape
    lengths = np.ascontiguousarray(pt[:, :4]).view("<u4").reshape(-1).astype(np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = np.empty(int(offsets[-1]), dtype=np.uint8)
    _gather(data, offsets, np.ascontiguousarray(pt).reshape(-1),
            np.arange(HEADER, n * plen + HEADER, plen, dtype=np.int64)[:n])
    return data, offsets


def sort_key_order(group: np.ndarray, pt: np.ndarray) -> np.ndarray:
    """Order of rows by (group, payload bytes, length): a function of the multiset, not of arrival."""
    if not pt.shape[0]:
        return np.zeros(0, dtype=np.int64)
    w = pt.shape[1] - HEADER
    padded = np.zeros((pt.shape[0], -(-w // 8) * 8), dtype=np.uint8)
    padded[:, :w] = pt[:, HEADER:]
    words = padded.view(">u8")
    length = np.ascontiguousarray(pt[:, :4]).view("<u4").reshape(-1)
    keys_ = [length] + [words[:, j] for j in range(words.shape[1] - 1, -1, -1)] + [group]
    return np.lexsort(keys_)


@dataclass
class PayloadJoin:
    """The peer's payloads joined to this side's rows, one pair per (own row, peer row) as a SQL inner join.

    ``rows[i]`` is this side's row (input position) of pair ``i`` (ascending; the
    pairs of one row ordered by payload bytes); its peer payload is
    ``data[offsets[j]:offsets[j + 1]]`` with ``j = payload_index[i]``. Rows
    holding the same key share their payload entries (no copies).
    """

    rows: np.ndarray
    payload_index: np.ndarray
    data: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    @property
    def indices(self) -> np.ndarray:
        """The sorted distinct rows that have at least one pair (the plain PSI result)."""
        return np.unique(self.rows)

    def payload(self, i: int) -> bytes:
        j = int(self.payload_index[i])
        return self.data[self.offsets[j]:self.offsets[j + 1]].tobytes()

    def payloads(self) -> list[bytes]:
        """Every pair's peer payload, in pair order."""
        blob = self.data.tobytes()
        o = self.offsets.tolist()
        return [blob[o[j]:o[j + 1]] for j in self.payload_index.tolist()]

    def pairs(self) -> list[tuple[int, bytes]]:
        return list(zip(self.rows.tolist(), self.payloads()))

    def join(self, n_rows: int, how: str = "inner") -> tuple[np.ndarray, np.ndarray]:
        """``(rows, payload_index)`` of the join: ``"inner"`` (the pairs) or ``"left"`` (every own row
        ``0 .. n_rows-1`` in order, unmatched ones once with ``payload_index`` -1)."""
        if how == "inner":
            return self.rows, self.payload_index
        if how != "left":
            raise ParameterError(f"how must be 'inner' or 'left', not {how!r}")
        matched = np.zeros(n_rows, dtype=bool)
        matched[self.rows] = True
        lone = np.flatnonzero(~matched)
        rows = np.concatenate([self.rows, lone])
        idx = np.concatenate([self.payload_index, np.full(lone.shape[0], -1, dtype=np.int64)])
        order = np.argsort(rows, kind="stable")
        return rows[order], idx[order]


def join_pairs(inverse: np.ndarray, item: np.ndarray, pt: np.ndarray) -> PayloadJoin:
    """Pairs (own row, peer payload) from the peer rows ``pt`` found for distinct items ``item``.

    ``inverse[r]`` is the distinct item of own row ``r``; every own row of an item gets
    every peer payload of that item.
    """
    if item.size and int(np.bincount(item).max()) > 1:
        order = sort_key_order(item, pt)
    else:  # one payload per item (no duplicates on the peer's side): order by item, in linear time
        slot = np.full(int(item.max()) + 1 if item.size else 0, -1, dtype=np.int64)
        slot[item] = np.arange(item.shape[0], dtype=np.int64)
        order = slot[slot >= 0]
    item, pt = item[order], _rows(pt, order)
    data, offsets = payload_bytes(pt)
    n_distinct = int(inverse.max()) + 1 if inverse.size else 0
    cnt = np.bincount(item, minlength=n_distinct) if n_distinct else np.zeros(0, dtype=np.int64)
    start = np.zeros(n_distinct + 1, dtype=np.int64)
    np.cumsum(cnt, out=start[1:])
    per_row = cnt[inverse] if n_distinct else np.zeros(0, dtype=np.int64)
    rows = np.repeat(np.arange(inverse.shape[0], dtype=np.int64), per_row)
    total = rows.shape[0]
    within = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    pidx = start[inverse[rows]] + within if total else np.zeros(0, dtype=np.int64)
    return PayloadJoin(rows=rows, payload_index=pidx, data=data, offsets=offsets)


def pack_columns(columns) -> tuple[np.ndarray, np.ndarray]:
    """One payload per row from several columns of ``str``/``bytes``: each value u32-length-prefixed.

    The inverse of :func:`unpack_columns`; what the CLI sends for ``--payload A --payload B``.
    """
    if not columns:
        raise ParameterError("at least one payload column is needed")
    enc = [keys.encode_items(c, "payload column") for c in columns]
    n = enc[0][1].shape[0] - 1
    if any(o.shape[0] - 1 != n for _, o in enc):
        raise ParameterError("payload columns differ in length")
    lens = np.stack([np.diff(o) for _, o in enc], axis=1)  # (n, c)
    row_len = (lens + 4).sum(axis=1)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(row_len, out=offsets[1:])
    data = np.empty(int(offsets[-1]), dtype=np.uint8)
    pos = offsets[:-1].copy()
    for c, (d, o) in enumerate(enc):
        prefix = lens[:, c].astype("<u4").view(np.uint8).reshape(n, 4)
        _scatter(data, pos, prefix.reshape(-1), np.arange(0, 4 * n + 1, 4, dtype=np.int64))
        pos += 4
        _scatter(data, pos, d, o)
        pos += lens[:, c]
    return data, offsets


@njit(cache=True, nogil=True)
def _scatter(dst, pos, src, offsets):
    for i in range(pos.shape[0]):
        a = offsets[i]
        for j in range(offsets[i + 1] - a):
            dst[pos[i] + j] = src[a + j]


@njit(cache=True, nogil=True)
def _split_kernel(data, offsets, ncols, starts, lens):
    for i in range(offsets.shape[0] - 1):
        p = offsets[i]
        end = offsets[i + 1]
        for c in range(ncols):
            if p + 4 > end:
                return i
            n = (np.int64(data[p]) | (np.int64(data[p + 1]) << 8) | (np.int64(data[p + 2]) << 16)
                 | (np.int64(data[p + 3]) << 24))
            p += 4
            if p + n > end:
                return i
            starts[i, c] = p
            lens[i, c] = n
            p += n
        if p != end:
            return i
    return -1


@njit(cache=True, nogil=True)
def _gather(dst, dst_offsets, src, src_starts):
    for i in range(src_starts.shape[0]):
        a = dst_offsets[i]
        b = src_starts[i]
        for j in range(dst_offsets[i + 1] - a):
            dst[a + j] = src[b + j]


def unpack_columns(data, offsets, ncols: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split packed payloads back into ``ncols`` columns, each as ``(data, offsets)``."""
    n = offsets.shape[0] - 1
    starts = np.zeros((n, ncols), dtype=np.int64)
    lens = np.zeros((n, ncols), dtype=np.int64)
    bad = _split_kernel(data, offsets, ncols, starts, lens)
    if bad >= 0:
        raise ProtocolError(f"payload {bad} is not {ncols} length-prefixed columns")
    out = []
    for c in range(ncols):
        o = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lens[:, c], out=o[1:])
        d = np.empty(int(o[-1]), dtype=np.uint8)
        _gather(d, o, data, np.ascontiguousarray(starts[:, c]))
        out.append((d, o))
    return out
