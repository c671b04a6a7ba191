"""Payload (labeled) PSI: the receiver learns the sender's payloads of exactly its matching items.

Any OPRF-based PSI fits: the sender can evaluate the OPRF ``F`` on its own
items, the receiver learns ``F`` on its items only. The sender attaches to
each of its rows an encrypted entry keyed by ``F(y)``; the receiver can find
and open only the entries of items it holds. The OPRF plugs in through one
small interface (what :func:`seal_iter` and :func:`open_entries` take):

* sender: ``values[c]`` — ``(n, 16)``, the OPRF value of each of its ``n``
  distinct items under *candidate* ``c`` (KKRT: one candidate per cuckoo hash
  function, 3 lists; RR22, one value per item: 1 list);
* receiver: for each of its distinct items, its one OPRF value and the
  candidate list it must be looked up in.

Sender row ``r`` (distinct item ``d``), ``t`` the rank of ``r`` among the rows
holding the same item (a random order, see below), ``pt`` its plaintext::

    pt  = u32 len ‖ u32 k ‖ payload ‖ zeros         (8 + W bytes; k = rows of item d)

``seal(x, T)``, the one AEAD here, encrypts ``pt`` under a 16-byte key ``x``
with tweaks ``(t·2^8 + j, T)``::

    H_j = TCCR(x, (t·2^8 + j, T))                  j = 0, 1, ..., B + 2
    ct  = pt ⊕ (H_1 ‖ ... ‖ H_B)                   (B = ⌈(8 + W)/16⌉)
    mac = H_{B+2} ⊕ Σ_b ct_b · H_{B+1}^{B-b}        (GF(2^128), ct zero-padded to B blocks)

**One list** (RR22): entry = ``H_0[:ℓ] ‖ ct ‖ mac`` of ``seal(F(y), T_item)``
— tag, ciphertext and MAC all keyed by the one OPRF value.

**Several lists** (KKRT): the payload is encrypted once per row, under a
fresh random row key ``k_r``: ``C_r = ct ‖ mac`` of ``seal(k_r, T_row)``
(``t = 0``), all rows' ``C_r`` in one block in a random order (``p_r`` = the
position of ``C_r``). Each list then carries, per row, only
``H_0[:ℓ] ‖ k_r ⊕ H_1 ‖ u32 p_r`` with ``H_j = TCCR(F_c(y), (t·2^8 + j, T_item))``:
the payload travels once instead of once per hash function. The pointer is
in the clear: it names a random position, and the entries of one row in the
other lists (which share it) are pseudorandom to a receiver without the item.
A changed key or pointer opens the wrong ciphertext or under the wrong key:
the MAC fails.

The MAC is a one-time Carter–Wegman MAC (GHASH's polynomial under a key
pair used once): a changed ciphertext passes with probability at most
``B / 2^128``. ``H`` is the tweakable correlation-robust hash over fixed-key
AES (:func:`pqmpc.primitives.hashing.tccr`) under its own protocol tags, so
tags, keystreams and MAC keys are domain-separated hashes of ``F(y)`` (or of
``k_r``); for an item the receiver does not hold, ``F(y)`` is pseudorandom to
it and so is the whole entry. Everything is computed in bulk (numba/AES-NI
and PCLMUL kernels, or array passes over OpenSSL): no per-row Python.

Each list is sent sorted by tag, so its order is a function of the entries
only, never of the sender's input order. A sender item on ``k`` rows has
``k`` entries per list (``t = 0 .. k-1``, ranks drawn at random so that they
say nothing about where the rows were); the receiver opens ``t = 0``, reads
``k`` from it, then looks up ``t = 1 .. k-1``: one output pair per (receiver
row, sender row), as a SQL inner join.

Leaks: the receiver learns the sender's number of *rows* (not only of
distinct items), the agreed width ``W`` (public) and, for each item it holds,
all of the sender's payloads and their number. Payload lengths below ``W``
are hidden (padding); longer payloads are refused before anything is sent.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from ..errors import ParameterError, ProtocolError
from ..primitives import gf128
from ..primitives.hashing import TAG_PSI, make_tag, tccr
from . import keys, payload_kernels, values
from .payload_join import (
    HEADER,
    PayloadJoin,
    distinct_sorted,
    join_pairs,
    pack_columns,
    payload_bytes,
    sort_key_order,
    take_rows,
    unpack_columns,
)

__all__ = ["DEFAULT_WIDTH", "MAX_WIDTH", "HEADER", "KEY_BYTES", "PTR_BYTES", "TWEAK_ITEM", "TWEAK_ROW",
           "PayloadJoin", "check_width", "encode_payloads", "pad_payloads", "nblocks", "entry_bytes",
           "cipher_bytes", "wrapped_bytes", "seal_rows", "open_rows", "wrap_rows", "unwrap_rows", "tags_of",
           "row_ranks", "random_permutation", "seal_iter", "seal", "check_sorted", "index_sorted", "open_entries",
           "join_pairs", "pack_columns", "unpack_columns", "payload_bytes", "sort_key_order", "distinct_sorted"]

#: Payload bytes per row both sides agree on unless told otherwise.
DEFAULT_WIDTH = 32
#: Largest agreed width (64 KiB per row).
MAX_WIDTH = 1 << 16
#: A row key and a pointer into the block of row ciphertexts (several-list layout).
KEY_BYTES, PTR_BYTES = 16, 4
#: Word 1 of the tweaks keyed by OPRF values (TAG_PSI instance 1; plain PSI's values use none) ...
TWEAK_ITEM = make_tag(TAG_PSI, 1)
#: ... and of those keyed by the random row keys of the several-list layout (instance 2).
TWEAK_ROW = make_tag(TAG_PSI, 2)
#: Rows per chunk of the reference derivation (bounds the temporaries at a few tens of MB).
_CHUNK = 1 << 16


def nblocks(width: int) -> int:
    """``B``: 16-byte blocks of a plaintext (header + ``width``)."""
    return -(-(HEADER + width) // 16)


def entry_bytes(ell: int, width: int) -> int:
    """Bytes of one one-list entry on the wire: tag, ciphertext (header + width), MAC."""
    return ell + cipher_bytes(width)


def cipher_bytes(width: int) -> int:
    """Bytes of one row ciphertext: header + width, MAC."""
    return HEADER + width + 16


def wrapped_bytes(ell: int) -> int:
    """Bytes of one several-list entry: tag, wrapped row key, pointer."""
    return ell + KEY_BYTES + PTR_BYTES


def check_width(width) -> int:
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or not 0 <= width <= MAX_WIDTH:
        raise ParameterError(f"payload_width must be an integer in [0, {MAX_WIDTH}], not {width!r}")
    return int(width)


def encode_payloads(payload, n_rows: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """``(data, offsets)`` of the caller's payloads (one ``str``/``bytes`` per row), checked against ``width``.

    Any container :func:`.keys.encode_items` takes: a list, a numpy str/bytes/object array,
    a pandas Series (anything with ``to_numpy()``), or an encoded ``(data, offsets)`` pair."""
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


def _material(f: np.ndarray, ranks: np.ndarray, per: int, tag: int) -> np.ndarray:
    """``(n, per, 16)``: ``H_j = TCCR(f, (rank·2^8 + j, tag))`` for ``j < per``."""
    n = f.shape[0]
    x = np.repeat(f, per, axis=0)
    tw = (np.repeat(ranks.astype(np.uint64), per) << np.uint64(8)) | np.tile(np.arange(per, dtype=np.uint64), n)
    return tccr(x, tw, tag=tag).reshape(n, per, 16)


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


def seal_rows(f, ranks, pt, ell, nblk, backend: str = "auto", item=None, prow=None, tag: int = TWEAK_ITEM,
              workers: int = 1):
    """``tag ‖ ct ‖ mac`` (the first ``ell`` bytes of H_0, then ``seal``): row ``k`` under key
    ``f[item[k]]``, rank ``ranks[k]``, plaintext ``pt[prow[k]]`` (``item``, ``prow`` default to the identity).

    ``backend``: ``"fused"`` (one numba pass, AES-NI + PCLMUL, on ``workers`` threads),
    ``"reference"`` (array passes over ``tccr``/``gf128_mul``) or ``"auto"``; same bytes.
    """
    if _fused(backend):
        n = ranks.shape[0]
        if workers <= 1 or n < _CHUNK:
            return payload_kernels.seal_rows(f, ranks, pt, ell, nblk, tag, item, prow)
        item = np.arange(n, dtype=np.int64) if item is None else np.ascontiguousarray(item, dtype=np.int64)
        prow = np.arange(n, dtype=np.int64) if prow is None else np.ascontiguousarray(prow, dtype=np.int64)
        out = np.empty((n, ell + pt.shape[1] + 16), dtype=np.uint8)
        cuts = np.linspace(0, n, workers + 1).astype(np.int64)
        values.in_threads(lambda a, b: payload_kernels.seal_rows(f, ranks[a:b], pt, ell, nblk, tag, item[a:b],
                                                                 prow[a:b], out[a:b]),
                          [(int(cuts[i]), int(cuts[i + 1])) for i in range(workers)])
        return out
    if item is not None:
        f = f[item]
    if prow is not None:
        pt = pt[prow]
    n, plen = pt.shape
    out = np.empty((n, ell + plen + 16), dtype=np.uint8)
    for a in range(0, n, _CHUNK):
        b = min(n, a + _CHUNK)
        mat = _material(f[a:b], ranks[a:b], nblk + 3, tag)
        out[a:b, :ell] = mat[:, 0, :ell]
        ct = pt[a:b] ^ mat[:, 1:1 + nblk].reshape(b - a, -1)[:, :plen]
        out[a:b, ell:ell + plen] = ct
        out[a:b, ell + plen:] = _mac(ct, np.ascontiguousarray(mat[:, nblk + 1]),
                                     np.ascontiguousarray(mat[:, nblk + 2]), nblk)
    return out


def open_rows(f, ranks, entries, ell, plen, nblk, step, backend: str = "auto", tag: int = TWEAK_ITEM,
              erow=None, frow=None):
    """Plaintexts of entries ``erow`` (default: all) whose tags were found for ``(f[frow], ranks)``
    (``frow`` default: all of ``f``, in order); ProtocolError if a MAC fails."""
    if _fused(backend):
        pt, bad = payload_kernels.open_rows(f, ranks, entries, ell, plen, nblk, tag, erow, frow)
        if bad >= 0:
            raise ProtocolError(f"{step}: a matching entry fails authentication (tampered payload)")
        return pt
    if frow is not None:
        f = f[frow]
    if erow is not None:
        entries = take_rows(entries, erow)
    n = f.shape[0]
    pt = np.empty((n, plen), dtype=np.uint8)
    for a in range(0, n, _CHUNK):
        b = min(n, a + _CHUNK)
        mat = _material(f[a:b], ranks[a:b], nblk + 3, tag)
        ct = entries[a:b, ell:ell + plen]
        mac = _mac(ct, np.ascontiguousarray(mat[:, nblk + 1]), np.ascontiguousarray(mat[:, nblk + 2]), nblk)
        if not np.array_equal(mac, entries[a:b, ell + plen:]):
            raise ProtocolError(f"{step}: a matching entry fails authentication (tampered payload)")
        pt[a:b] = ct ^ mat[:, 1:1 + nblk].reshape(b - a, -1)[:, :plen]
    return pt


def wrap_rows(f, item, ranks, row_keys, ptr, ell, backend: str = "auto") -> np.ndarray:
    """Several-list entries: row ``k`` is ``H_0[:ell] ‖ row_keys[ptr[k]] ⊕ H_1 ‖ u32 ptr[k]`` with
    ``H_j = TCCR(f[item[k]], (ranks[k]·2^8 + j, TWEAK_ITEM))``."""
    if _fused(backend):
        return payload_kernels.wrap_rows(f, item, ranks, row_keys, ptr, ell, TWEAK_ITEM)
    n = ranks.shape[0]
    out = np.empty((n, wrapped_bytes(ell)), dtype=np.uint8)
    for a in range(0, n, _CHUNK):
        b = min(n, a + _CHUNK)
        mat = _material(f[item[a:b]], ranks[a:b], 2, TWEAK_ITEM)
        out[a:b, :ell] = mat[:, 0, :ell]
        out[a:b, ell:ell + KEY_BYTES] = row_keys[ptr[a:b]] ^ mat[:, 1]
        out[a:b, ell + KEY_BYTES:] = ptr[a:b].astype("<u4").view(np.uint8).reshape(-1, PTR_BYTES)
    return out


def unwrap_rows(f, ranks, entries, ell, backend: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """``(row keys, pointers)`` of several-list entries found for ``(f, ranks)``."""
    if _fused(backend):
        return payload_kernels.unwrap_rows(f, ranks, entries, ell, TWEAK_ITEM)
    n = f.shape[0]
    row_keys = np.empty((n, KEY_BYTES), dtype=np.uint8)
    for a in range(0, n, _CHUNK):
        b = min(n, a + _CHUNK)
        row_keys[a:b] = entries[a:b, ell:ell + KEY_BYTES] ^ _material(f[a:b], ranks[a:b], 2, TWEAK_ITEM)[:, 1]
    ptr = np.ascontiguousarray(entries[:, ell + KEY_BYTES:]).view("<u4").reshape(-1).astype(np.int64)
    return row_keys, ptr


def tags_of(f, ranks, ell, nblk=None) -> np.ndarray:
    """The ℓ-byte tags of ``(f, rank)`` pairs (what the receiver looks up; ``nblk`` is unused)."""
    out = np.empty((f.shape[0], ell), dtype=np.uint8)
    for a in range(0, f.shape[0], _CHUNK):
        b = min(f.shape[0], a + _CHUNK)
        tw = np.ascontiguousarray(ranks[a:b], dtype=np.uint64) << np.uint64(8)
        out[a:b] = tccr(f[a:b], tw, tag=TWEAK_ITEM)[:, :ell]
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


@njit(cache=True, nogil=True)
def _shuffle_kernel(rand, perm):
    """Fisher–Yates: ``j`` is the 128-bit number of ``rand[i]`` mod ``i + 1`` (bias below 2^-97 per step)."""
    n = perm.shape[0]
    for i in range(n):
        perm[i] = i
    for i in range(n - 1, 0, -1):
        m = np.uint64(i + 1)  # < 2^31, so each step below stays under 2^63
        x = rand[i, 0] % m
        x = ((x << np.uint64(32)) | (rand[i, 1] >> np.uint64(32))) % m
        x = ((x << np.uint64(32)) | (rand[i, 1] & np.uint64(0xFFFFFFFF))) % m
        j = np.int64(x)
        perm[i], perm[j] = perm[j], perm[i]


def random_permutation(n: int, rng) -> np.ndarray:
    """A uniformly random permutation of ``0 .. n-1`` from ``rng`` (linear time)."""
    perm = np.empty(n, dtype=np.int64)
    _shuffle_kernel(rng.blocks(n).view(np.uint64).reshape(n, 2), perm)
    return perm


def _sorted_by_tag(entries: np.ndarray, ell: int, workers: int = 1) -> np.ndarray:
    return values.sort_rows_by_tag(entries, ell, workers if entries.shape[0] >= _CHUNK else 1)


def seal_iter(value_lists, inverse, data, offsets, width: int, ell: int, rng, workers: int = 2, pool=None):
    """Sender: the messages of the entries (see the module docstring), yielded in order as soon as
    each is ready — one list: its entries; several: the block of row ciphertexts, then each list.

    ``value_lists[c]`` is ``(n_distinct, 16)``; ``inverse[r]`` the distinct item of row ``r``;
    ``(data, offsets)`` the rows' payloads. Lists are sealed on ``workers`` threads (the
    kernels release the GIL), so the first one can be on the wire while the others are sealed.
    ``pool`` (a ``ScratchPool``): the one-list entries are sealed in its buffers (each message valid
    until the pool's next use: send it before asking for the next).
    """
    n_distinct = value_lists[0].shape[0] if value_lists else 0
    n = inverse.shape[0]
    nblk = nblocks(width)
    if len(value_lists) == 1 and _fused("auto"):
        if n == n_distinct:  # no duplicates: every rank 0, every count 1, as constants (no memory)
            rank = np.broadcast_to(np.zeros(1, dtype=np.int64), (n,))
            mult = np.broadcast_to(np.ones(1, dtype=np.int64), (n_distinct,))
        else:
            rank, mult = row_ranks(inverse, n_distinct, rng)
        # Tags first, their order from the keys alone, then each row sealed (padding built in
        # registers) in input order, straight into its sorted place: reads stay sequential.
        yield payload_kernels.seal_sorted(value_lists[0], inverse, rank, data, offsets, mult, width, ell, nblk,
                                          TWEAK_ITEM, *values.bucket_bits(n, ell), workers=workers, pool=pool)
        return
    rank, mult = row_ranks(inverse, n_distinct, rng)
    pt = pad_payloads(data, offsets, width, mult, inverse)
    if len(value_lists) == 1:
        yield _sorted_by_tag(seal_rows(np.ascontiguousarray(value_lists[0]), rank, pt, ell, nblk, item=inverse,
                                       workers=workers), ell, workers)
        return
    # Row ciphertexts in a random order: position i holds row perm[i], under key row_keys[i].
    r = rng.fork("psi/payload-rows")
    perm = random_permutation(n, r)
    ptr = np.empty(n, dtype=np.int64)
    ptr[perm] = np.arange(n, dtype=np.int64)
    row_keys = r.blocks(n)
    yield seal_rows(row_keys, np.zeros(n, dtype=np.int64), pt, 0, nblk, prow=perm, tag=TWEAK_ROW, workers=workers)
    del pt

    def one(vals):
        return _sorted_by_tag(wrap_rows(np.ascontiguousarray(vals), inverse, rank, row_keys, ptr, ell), ell)

    if workers <= 1:
        for vals in value_lists:
            yield one(vals)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pqmpc-seal") as ex:
        futures = [ex.submit(one, vals) for vals in value_lists]
        for fut in futures:
            yield fut.result()


def seal(value_lists, inverse, data, offsets, width: int, ell: int, rng) -> list[np.ndarray]:
    """All messages of :func:`seal_iter` at once."""
    return list(seal_iter(value_lists, inverse, data, offsets, width, ell, rng, workers=1))


def check_sorted(entries: np.ndarray, ell: int, step: str) -> np.ndarray:
    tw = values.tag_words(entries, ell)
    if not values.is_sorted(tw):
        raise ProtocolError(f"{step}: entries are not sorted by tag")
    return tw


def index_sorted(entries: np.ndarray, ell: int, step: str, pool=None):
    """``(tw, index)``: :func:`check_sorted` and the bucket index :func:`open_entries` looks tags up in,
    in one pass where the fused kernels run (``index`` None elsewhere). With ``pool`` (a
    ``ScratchPool``) both are its buffers, valid until its next use."""
    if not _fused("auto"):
        return check_sorted(entries, ell, step), None
    bits, shift = values.bucket_bits(entries.shape[0], ell)
    if pool is None:
        tw = np.empty((entries.shape[0], 2), dtype=np.uint64)
        index = np.zeros((1 << bits) + 1, dtype=np.int64)
    else:
        tw = pool.get("payload entry tags", (entries.shape[0], 2), np.uint64)
        index = pool.get("payload entry index", ((1 << bits) + 1,), np.int64)
        index.fill(0)
    if not payload_kernels.index_sorted(np.ascontiguousarray(entries), ell, bits, shift, tw, index):
        raise ProtocolError(f"{step}: entries are not sorted by tag")
    return tw, index


def open_entries(entries, tw, f, ell: int, width: int, n_rows: int, step: str, block=None, workers: int = 1,
                 index=None):
    """Receiver, one list: open the entries of the items with OPRF values ``f``.

    ``entries`` is the list as received, ``tw`` its tag words (:func:`check_sorted`);
    ``block`` the row ciphertexts of the several-list layout (``None``: one-list entries).
    Returns ``(item, pt)``: for each sender row found, which of the ``f`` rows it
    belongs to and its plaintext (header + padded payload), grouped by item.
    ``workers`` threads take a share of ``f`` each (the kernels release the GIL); ``index``
    is the bucket index from :func:`index_sorted` (built here if not given).
    """
    nq = f.shape[0]
    if index is None and _fused("auto"):  # one index, shared by the threads
        index = values.bucket_starts(tw, *values.bucket_bits(entries.shape[0], ell))
    if workers <= 1 or nq < _CHUNK:
        return _open_entries(entries, tw, f, ell, width, n_rows, step, block, index)
    cuts = np.linspace(0, nq, workers + 1).astype(np.int64)
    parts = [(int(cuts[i]), int(cuts[i + 1])) for i in range(workers)]
    got = [None] * workers

    def one(a, b):
        item, pt = _open_entries(entries, tw, np.ascontiguousarray(f[a:b]), ell, width, n_rows, step, block, index)
        got[int(np.searchsorted(cuts, a))] = (item + a, pt)

    values.in_threads(one, parts)
    return np.concatenate([g[0] for g in got]), np.concatenate([g[1] for g in got])


def _by_place(found: np.ndarray, n: int) -> np.ndarray:
    """The queries with ``found >= 0``, ordered by ``found`` (their entry), in linear time."""
    hit = np.flatnonzero(found >= 0)
    slot = np.full(n, -1, dtype=np.int32 if n < 1 << 31 else np.int64)  # half the fresh memory
    slot[found[hit]] = hit
    order = slot[slot >= 0].astype(np.int64)
    if order.shape[0] != hit.shape[0]:  # two queries on one entry (a false tag match): keep both
        order = hit[np.argsort(found[hit], kind="stable")]
    return order


def _open_entries(entries, tw, f, ell, width, n_rows, step, block, index=None):
    nblk = nblocks(width)
    plen = HEADER + width
    bits = values.bucket_bits(entries.shape[0], ell)

    def find(fq, rk):
        found = np.empty(fq.shape[0], dtype=np.int64)
        if not fq.shape[0]:
            return found
        if index is not None:
            values.lookup_in(index, tw, payload_kernels.query_tags(fq, rk, ell, TWEAK_ITEM), bits[1], found)
        else:
            values.lookup(tw, values.tag_words(tags_of(fq, rk, ell), ell), *bits, found)
        return found

    def open_(frow, rk, found):
        if block is None:  # keys read where they are (f[frow]), not gathered first
            return open_rows(f, rk, entries, ell, plen, nblk, step, erow=found, frow=frow)
        row_keys, ptr = unwrap_rows(np.ascontiguousarray(f[frow]), rk, take_rows(entries, found), ell)
        if ptr.size and int(ptr.max()) >= block.shape[0]:
            raise ProtocolError(f"{step}: an entry points past the {block.shape[0]} row ciphertexts")
        return open_rows(row_keys, np.zeros(ptr.shape[0], dtype=np.int64), block, 0, plen, nblk, step,
                         tag=TWEAK_ROW, erow=ptr)

    q = np.arange(f.shape[0], dtype=np.int64)
    found = find(f, np.zeros(f.shape[0], dtype=np.int64))
    # Opened in entry order: the entries are then read forward, not at random (~4x faster).
    hit = _by_place(found, entries.shape[0])
    first = open_(hit, np.zeros(hit.shape[0], dtype=np.int64), found[hit])
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
    frow = hit[m_items]
    found2 = find(np.ascontiguousarray(f[frow]), rk)
    if np.any(found2 < 0):
        raise ProtocolError(f"{step}: an item announced {int(mult.max())} rows but an entry is missing")
    o = _by_place(found2, entries.shape[0])
    m_items, rk, frow, found2 = m_items[o], rk[o], frow[o], found2[o]
    rest = open_(frow, rk, found2)
    hdr2 = np.ascontiguousarray(rest[:, :HEADER]).view("<u4").reshape(-1, 2).astype(np.int64)
    if np.any(hdr2[:, 0] > width) or np.any(hdr2[:, 1] != mult[m_items]):
        raise ProtocolError(f"{step}: rows of one item disagree on their number, or a payload is too long")
    if not m_items.shape[0]:
        return q[hit], first
    return np.concatenate([q[hit], q[hit[m_items]]]), np.concatenate([first, rest])
