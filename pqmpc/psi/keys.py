"""Set elements → fixed-width 128-bit identifiers, in bulk.

PSI works on 16-byte blocks, while user keys are strings or bytes of any
length. Three steps, each batched:

1. :func:`encode_items` turns a sequence of ``str``/``bytes`` (or a numpy
   array or pandas column of them) into one flat byte buffer plus offsets
   (UTF-8 for ``str``). This is the only per-item Python work: one list
   comprehension, none for a list of ``bytes``.
2. :func:`item_ids` maps every key to a 128-bit identifier with a
   length-prefixed CBC-MAC under AES-128 in one numba loop (AES-NI when the
   CPU has it). The key of that MAC is fresh per session and agreed by both
   parties after their inputs are fixed, so for any two distinct keys the
   identifiers collide with probability about ``(ℓ/16)² / 2^128`` (CBC-MAC is
   a PRF on prefix-free messages, and a leading length block makes every
   encoding prefix-free). This relies on the semi-honest model: a party who
   could choose its keys *after* seeing the session key could search for
   collisions; no such party exists in that model. A collision would only
   cause a false match, never a leak.
3. :func:`dedup_ids` finds the distinct identifiers and maps every input
   position to its distinct representative, so that the protocol runs on
   distinct keys and duplicates are mapped back afterwards.

Why not SHAKE or hashlib: per-key hashlib calls cost ~1.8 µs each in a Python
loop and the batched numba Keccak ~0.8 µs per key here, against tens of
nanoseconds for a few AES-NI rounds; keys must be hashed for 2^20 items well
within a second.

:func:`combine_columns` builds one unambiguous key from several CSV columns:
every column value is prefixed by its UTF-8 length, so ``("a,b", "c")`` and
``("a", "b,c")`` give different keys.

Python cannot promise constant time; the kernels here have no branches on
key contents beyond the key lengths. Where numba has no AES-NI (and would use
a table AES, leaking the items through cache timing), item ids are computed
with bulk OpenSSL calls instead (:func:`item_ids`, same bytes).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ParameterError
from ..ot.ext.lpn_codes import prefetch
from ..primitives import aes, aes_kernels
from ..primitives.buffers import ScratchPool

_DOMAIN = np.uint64(0x7071_6D70_6370_7369)  # "pqmpcpsi": separates this MAC from other AES uses


def encode_items(items, what: str = "items") -> tuple[np.ndarray, np.ndarray]:
    """``(data, offsets)``: item ``i`` is ``data[offsets[i]:offsets[i + 1]]``.

    ``items`` is an iterable of ``str`` (encoded as UTF-8) or bytes-like
    objects, a one-dimensional numpy array of ``str``, ``bytes`` or objects,
    or anything with a ``to_numpy()`` method giving one (a pandas ``Series``
    or ``Index``, a polars ``Series``). Numpy's fixed-width ``str``/``bytes``
    arrays cannot hold trailing NUL characters (numpy drops them); the items
    are what the array's elements are.
    """
    items = _as_list(items, what)
    fast = _encode_uniform(items)
    if fast is None:
        enc = [_encode_one(x, i, what) for i, x in enumerate(items)]
        joined, lengths = b"".join(enc), np.fromiter(map(len, enc), dtype=np.int64, count=len(enc))
    else:
        joined, lengths = fast
    offsets = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return np.frombuffer(joined, dtype=np.uint8), offsets


def _encode_uniform(items: list):
    """``(joined, lengths)`` for the common all-bytes or all-str lists in bulk calls, else ``None``."""
    try:
        joined = b"".join(items)  # every item exposes a buffer: bytes, bytearray, memoryview, ...
        lengths = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
        # len() never exceeds a buffer's byte size, so equal sums mean every item is its bytes
        # (not, say, a numpy str scalar, whose buffer holds 4 bytes per character).
        return (joined, lengths) if int(lengths.sum()) == len(joined) else None
    except TypeError:
        pass
    try:
        enc = [x.encode("utf-8") for x in items]
        return b"".join(enc), np.fromiter(map(len, enc), dtype=np.int64, count=len(enc))
    except (AttributeError, TypeError, UnicodeEncodeError):  # mixed, odd or unencodable: item by item
        return None


def is_encoded(items) -> bool:
    """Whether ``items`` is a ``(data, offsets)`` pair from :func:`encode_items` (not a tuple of keys)."""
    return (isinstance(items, tuple) and len(items) == 2 and all(isinstance(a, np.ndarray) for a in items)
            and items[0].dtype == np.uint8 and items[1].dtype == np.int64 and items[1].ndim == 1)


def _as_list(items, what: str) -> list:
    if isinstance(items, (str, bytes, bytearray, memoryview)):
        raise ParameterError(f"{what} must be a sequence of str or bytes, not a single {type(items).__name__}")
    if isinstance(items, list):
        return items
    if not isinstance(items, np.ndarray):
        to_numpy = getattr(items, "to_numpy", None)  # pandas/polars without importing them
        if callable(to_numpy):
            try:
                items = to_numpy()
            except Exception as exc:  # a library's own conversion error: say what we were given
                raise ParameterError(f"{what}: {type(items).__name__}.to_numpy() failed ({exc})") from None
    if isinstance(items, np.ndarray):
        if items.ndim != 1:
            raise ParameterError(f"{what} must be one-dimensional, got an array of shape {items.shape}")
        if items.dtype.kind not in "USO":
            raise ParameterError(f"{what} must hold str or bytes, got a numpy array of {items.dtype} "
                                 f"(convert the values to strings first)")
        return items.tolist()  # Python str/bytes/objects, at C speed
    try:
        return list(items)
    except TypeError:
        raise ParameterError(f"{what} must be a sequence of str or bytes, not {type(items).__name__}") from None


def _encode_one(x, i: int, what: str) -> bytes:
    if isinstance(x, str):
        try:
            return x.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ParameterError(f"{what}: item {i} cannot be encoded as UTF-8 ({exc.reason})") from None
    if isinstance(x, (bytes, bytearray, memoryview)):
        return bytes(x)
    if x is None or (isinstance(x, float) and x != x) or type(x).__name__ in ("NAType", "NaTType"):
        raise ParameterError(f"{what}: item {i} is a missing value ({x!r}); drop or fill missing values first")
    raise ParameterError(f"{what} must contain only str or bytes, found {type(x).__name__} at item {i}")


def combine_columns(columns: list[list[str]]) -> list[bytes]:
    """One key per row from several columns, each value length-prefixed.

    ``columns[c][r]`` is the value of column ``c`` in row ``r``; every column
    must have the same number of rows.
    """
    if not columns:
        raise ParameterError("at least one key column is needed")
    rows = len(columns[0])
    if any(len(c) != rows for c in columns):
        raise ParameterError("key columns differ in length")
    if len(columns) == 1:
        return [len(b).to_bytes(4, "little") + b for b in (v.encode("utf-8") for v in columns[0])]
    out = []
    for values in zip(*columns):
        parts = []
        for v in values:
            b = v.encode("utf-8")
            parts.append(len(b).to_bytes(4, "little"))
            parts.append(b)
        out.append(b"".join(parts))
    return out


@njit(cache=True, nogil=True)
def _combine_kernel(data, offsets, pos, out):
    """Write each value's u32 little-endian length and bytes at ``pos[i]``; advance ``pos``."""
    for i in range(offsets.shape[0] - 1):
        a = offsets[i]
        n = offsets[i + 1] - a
        p = pos[i]
        for k in range(4):
            out[p + k] = np.uint8((n >> (8 * k)) & 0xFF)
        for j in range(n):
            out[p + 4 + j] = data[a + j]
        pos[i] = p + 4 + n


def combine_encoded(columns) -> tuple[np.ndarray, np.ndarray]:
    """:func:`combine_columns` on already-encoded columns, in bulk: ``columns[c] = (data, offsets)``.

    Returns the ``(data, offsets)`` that ``encode_items(combine_columns(...))`` gives for the
    same UTF-8 values (each value prefixed by its u32 little-endian byte length).
    """
    if not columns:
        raise ParameterError("at least one key column is needed")
    rows = columns[0][1].shape[0] - 1
    if any(o.shape[0] - 1 != rows for _, o in columns):
        raise ParameterError("key columns differ in length")
    lengths = sum(np.diff(np.asarray(o, dtype=np.int64)) + 4 for _, o in columns)
    offsets = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    out = np.empty(int(offsets[-1]), dtype=np.uint8)
    pos = offsets[:-1].copy()
    for d, o in columns:
        _combine_kernel(np.ascontiguousarray(d, dtype=np.uint8), np.ascontiguousarray(o, dtype=np.int64), pos, out)
    return out, offsets


@njit(cache=True, nogil=True)
def _cbc_mac_kernel(rk, data, offsets, out):
    ks = aes_kernels.aes128_load_keys(rk)
    n = offsets.shape[0] - 1
    for i in range(n):
        start = offsets[i]
        length = offsets[i + 1] - start
        # Length block first: makes the encoding prefix-free (and zero padding unambiguous).
        st = aes_kernels.aes128_encrypt(ks, (np.uint64(length), _DOMAIN))
        pos = 0
        while pos < length:
            lo = np.uint64(0)
            hi = np.uint64(0)
            take = min(16, length - pos)
            for k in range(take):
                byte = np.uint64(data[start + pos + k])
                if k < 8:
                    lo |= byte << np.uint64(8 * k)
                else:
                    hi |= byte << np.uint64(8 * (k - 8))
            st = aes_kernels.aes128_encrypt(ks, (st[0] ^ lo, st[1] ^ hi))
            pos += 16
        out[i, 0] = st[0]
        out[i, 1] = st[1]


@njit(cache=True, nogil=True)
def _mac_blocks_kernel(data, offsets, starts, blocks):
    """The CBC-MAC input of every item as blocks: its length block, then its zero-padded pieces.

    Only lengths decide where bytes go (no AES, no table indexed by data)."""
    bw = blocks.view(np.uint64)
    for i in range(offsets.shape[0] - 1):
        b = starts[i]
        bw[b, 0] = np.uint64(offsets[i + 1] - offsets[i])
        bw[b, 1] = _DOMAIN
        for j in range(offsets[i + 1] - offsets[i]):
            blocks[b + 1 + j // 16, j % 16] = data[offsets[i] + j]


def item_ids(data: np.ndarray, offsets: np.ndarray, key: bytes, backend: str = "auto",
             out: np.ndarray | None = None) -> np.ndarray:
    """``(n, 16)`` uint8: the session-keyed 128-bit identifier of every item.

    ``backend``: ``"kernel"`` (one numba loop, AES-NI), ``"openssl"`` (bulk
    OpenSSL calls, constant time everywhere) or ``"auto"``: the kernel when
    it runs on AES-NI, OpenSSL when numba would fall back to a table AES,
    whose lookups indexed by the (secret) items would leak them through the
    cache. Both give the same bytes. ``out``: an ``(n, 16)`` uint8 array to write them to.
    """
    if len(key) != 16:
        raise ParameterError("item-id key must be 16 bytes")
    if backend not in ("auto", "kernel", "openssl"):
        raise ParameterError(f"backend must be 'auto', 'kernel' or 'openssl', not {backend!r}")
    n = offsets.shape[0] - 1
    data = np.ascontiguousarray(data, dtype=np.uint8)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    if not n:
        return np.empty((0, 16), dtype=np.uint8)
    if backend == "openssl" or (backend == "auto" and aes_kernels.TABLE_AES_ACTIVE):
        starts = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(1 + (np.diff(offsets) + 15) // 16, out=starts[1:])
        blocks = np.zeros((int(starts[-1]), 16), dtype=np.uint8)
        _mac_blocks_kernel(data, offsets, starts, blocks)
        if out is None:
            return aes.cbc_mac(key, blocks, starts)
        out[:] = aes.cbc_mac(key, blocks, starts)
        return out
    out = np.empty((n, 16), dtype=np.uint8) if out is None else out
    _cbc_mac_kernel(aes_kernels.round_keys(key), data, offsets, out.view(np.uint64))
    return out


#: Ids ahead of the current one whose first slot is prefetched (the table is far larger than the cache).
_AHEAD = 16


@njit(cache=True, nogil=True)
def _dedup_kernel(w, slots, inverse, reps):
    # Open addressing on the low word (ids are pseudorandom, so it is a good
    # slot index); equal ids meet at their first probe whatever their number.
    mask = slots.shape[0] - 1
    n = w.shape[0]
    ndist = 0
    for i in range(min(_AHEAD, n)):
        prefetch(slots, np.int64(w[i, 0] & np.uint64(mask)))
    for i in range(n):
        if i + _AHEAD < n:
            prefetch(slots, np.int64(w[i + _AHEAD, 0] & np.uint64(mask)))
        s = np.int64(w[i, 0] & np.uint64(mask))
        while True:
            r = slots[s]
            if r < 0:
                slots[s] = ndist
                reps[ndist] = i
                inverse[i] = ndist
                ndist += 1
                break
            j = reps[r]
            if w[j, 0] == w[i, 0] and w[j, 1] == w[i, 1]:
                inverse[i] = r
                break
            s = (s + 1) & mask
    return ndist


def dedup_ids(ids: np.ndarray, pool: ScratchPool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(reps, inverse)``: ``ids[reps]`` are the distinct ids (in order of
    first occurrence) and ``inverse[i]`` is the position of ``ids[i]`` among them.

    Linear time. Nothing derived from this order reaches the peer unmasked:
    the sender sorts its values, the receiver's table is hidden by the OT.
    ``pool``: the hash table (2n to 4n slots) and the results are views of its buffers instead of
    fresh memory (valid until its next use by this function).
    """
    n = ids.shape[0]
    w = np.ascontiguousarray(ids).view(np.uint64)
    inverse = np.empty(n, dtype=np.int64) if pool is None else pool.get("dedup inverse", (n,), np.int64)
    reps = np.empty(n, dtype=np.int64) if pool is None else pool.get("dedup reps", (n,), np.int64)
    if not n:
        return reps, inverse
    size = 1 << (2 * n - 1).bit_length()
    # int32 slots (n ≤ 2^30): half the table to miss on
    if pool is None:
        slots = np.full(size, -1, dtype=np.int32)
    else:
        slots = pool.get("dedup slots", (size,), np.int32)
        slots.fill(-1)
    ndist = _dedup_kernel(w, slots, inverse, reps)
    return reps[:ndist], inverse


def members_of(inverse: np.ndarray, distinct_hits: np.ndarray) -> np.ndarray:
    """Sorted input positions whose distinct key is among ``distinct_hits``."""
    mask = np.zeros(int(inverse.max()) + 1 if inverse.size else 0, dtype=bool)
    mask[distinct_hits] = True
    return np.flatnonzero(mask[inverse]) if inverse.size else np.zeros(0, dtype=np.int64)
