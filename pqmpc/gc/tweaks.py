"""Tweak layout of the garbling hash, and Δ with the garbling ids spent under it.

Every AND gate hashes with two tweak blocks. A tweak block is 128 bits, seen as two
little-endian 64-bit words (docs/conventions.md; the shared layout of
:mod:`pqmpc.primitives.hashing`)::

    word 0 (bits 0-63)     2k or 2k+1        k: the AND gate's number in its garbling
    word 1 (bits 64-95)    TAG_GC            the protocol tag of garbling
           (bits 96-126)   garbling id       ("tweak base": one per garbling under a Δ)
           (bit 127)       0                 reserved: half selector of the κ = 256 hash

Two garblings under one Δ with the same garbling id would query the hash on the same
(tweak, input) pairs: for the same circuit ``TG₁ ⊕ TG₂ = Δ`` on the first AND gate,
which hands Δ to the evaluator. So the id is not optional bookkeeping; :class:`Delta`
owns it. Every garbling under a :class:`Delta` spends an id, and an id is never
handed out twice for the same Δ value in this process:

* ``Delta(rng=..., kappa=...)``: a fresh random Δ; ids are allocated from the object.
* ``Delta(value)``: a caller-supplied Δ (e.g. from correlated OT). Objects are shared
  per value: ``Delta(v) is Delta(v)``, so two garblers that are handed the same bytes
  share one allocator. Such a Δ stays registered for the life of the process (one small
  record per distinct caller-supplied Δ): a long-running service should create one
  :class:`Delta` per session and pass the object.

The one hole: the bytes of a *fresh* Δ handed in again after its :class:`Delta` object
was garbage collected are not recognised (the registry holds fresh objects weakly so
that sessions do not accumulate).
"""

from __future__ import annotations

import hashlib
import os
import threading
import weakref

import numpy as np

from pqmpc.errors import ParameterError
from pqmpc.primitives.hashing import TAG_GC, make_tag
from pqmpc.rng import Rng

__all__ = ["Delta", "MAX_TWEAK_BASE", "TAG_GC", "tweak_high"]

#: Garbling ids fill bits 96-126 of the tweak.
MAX_TWEAK_BASE = (1 << 31) - 1


def tweak_high(base: int, tag: int = TAG_GC) -> int:
    """Word 1 of the tweaks of garbling ``base`` (see the module docstring for the layout)."""
    if isinstance(base, bool) or not 0 <= int(base) <= MAX_TWEAK_BASE:
        raise ParameterError(f"tweak_base must be in [0, 2^31), got {base!r}")
    return make_tag(int(tag), int(base))


_LOCK = threading.Lock()
_KEY = os.urandom(32)  # the registry stores keyed fingerprints, never Δ or a plain hash
_LIVE: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_PINNED: dict[bytes, Delta] = {}


def _fingerprint(value: bytes) -> bytes:
    return hashlib.blake2b(value, key=_KEY, digest_size=16).digest()


def _delta_array(value, kappa) -> np.ndarray:
    if isinstance(value, (bytes, bytearray, memoryview)):
        d = np.frombuffer(bytes(value), dtype=np.uint8).copy()
    else:
        d = np.array(value, dtype=np.uint8)
    width = d.size if kappa is None else kappa // 8
    if kappa is not None and kappa not in (128, 256):
        raise ParameterError(f"kappa must be 128 or 256, not {kappa!r}")
    if d.shape not in ((width,), (1, width)) or width not in (16, 32):
        raise ParameterError(f"delta must be {width if kappa else '16 or 32'} bytes"
                             + (f" for kappa = {kappa}" if kappa else ""))
    d = d.reshape(width)
    if not d[0] & 1:
        raise ParameterError("delta must have its least significant bit set "
                             "(point-and-permute needs lsb(Δ) = 1)")
    return d


class Delta:
    """The garbler's free-XOR offset Δ (lsb 1) and the garbling ids spent under it.

    ``Delta(rng=None, kappa=128)`` draws a fresh Δ; ``Delta(value)`` wraps a supplied
    one (16 or 32 bytes; ``kappa`` checks the width). :meth:`reserve` hands out
    garbling ids (``tweak_base`` of :class:`pqmpc.gc.Garbler`) and refuses one already
    spent. Thread-safe.
    """

    def __new__(cls, value=None, *, kappa: int | None = None, rng: Rng | None = None):
        if value is None:
            k = 128 if kappa is None else kappa
            if k not in (128, 256):
                raise ParameterError(f"kappa must be 128 or 256, not {kappa!r}")
            d = Rng.ensure(rng).blocks(1, k // 8)[0]
            d[0] |= 1
            obj = cls._make(d)
            with _LOCK:
                _LIVE[obj._fp] = obj
            return obj
        if isinstance(value, Delta):
            if kappa is not None and value.kappa != kappa:
                raise ParameterError(f"delta is {value.kappa}-bit but kappa = {kappa}")
            return value
        d = _delta_array(value, kappa)
        fp = _fingerprint(d.tobytes())
        with _LOCK:
            obj = _LIVE.get(fp)
            if obj is None:
                obj = cls._make(d, fp)
                _LIVE[fp] = obj
            # a supplied value may come back as bytes at any time: keep its record
            _PINNED[fp] = obj
        return obj

    @classmethod
    def _make(cls, d: np.ndarray, fp: bytes | None = None) -> Delta:
        obj = object.__new__(cls)
        obj._value = d
        obj._value.flags.writeable = False
        obj._fp = fp if fp is not None else _fingerprint(d.tobytes())
        obj._used: list[list[int]] = []  # sorted disjoint [start, end) ranges of spent ids
        obj._lock = threading.Lock()
        return obj

    @property
    def value(self) -> np.ndarray:
        """Δ as a ``(label_bytes,)`` uint8 array (a copy)."""
        return self._value.copy()

    @property
    def label_bytes(self) -> int:
        return int(self._value.shape[0])

    @property
    def kappa(self) -> int:
        return 8 * self.label_bytes

    def reserve(self, base: int | None = None, count: int = 1) -> int:
        """Spend ``count`` consecutive garbling ids and return the first.

        ``base=None`` takes the ids after the highest one spent so far; an explicit
        ``base`` must not overlap any id already spent under this Δ (``ParameterError``
        otherwise: reusing an id would repeat hash tweaks and reveal Δ).
        """
        count = int(count)
        if count < 1:
            raise ParameterError("count must be >= 1")
        with self._lock:
            used = self._used
            top = used[-1][1] if used else 0  # ranges are sorted and disjoint: the last ends highest
            start = top if base is None else int(base)
            end = start + count
            if start < 0 or end - 1 > MAX_TWEAK_BASE:
                raise ParameterError(f"tweak_base range [{start}, {end}) outside [0, 2^31)")
            if start >= top:  # the common case (the next ids): no overlap possible
                if used and start == top:
                    used[-1][1] = end
                else:
                    used.append([start, end])
                return start
            for a, b in used:
                if start < b and a < end:
                    raise ParameterError(
                        f"tweak_base {start}" + (f"..{end - 1}" if count > 1 else "")
                        + " was already used under this Δ: garbling twice with one Δ and one "
                        "tweak base repeats hash tweaks and reveals Δ to the evaluator; pass "
                        "tweak_base=None (the next free one) or a fresh Δ")
            self._insert(start, end)
        return start

    def _insert(self, start: int, end: int) -> None:
        used = self._used
        i = 0
        while i < len(used) and used[i][0] < start:
            i += 1
        used.insert(i, [start, end])
        # merge neighbours that touch, so a long run of consecutive ids stays one record
        j = max(i - 1, 0)
        while j + 1 < len(used):
            if used[j][1] >= used[j + 1][0]:
                used[j][1] = max(used[j][1], used[j + 1][1])
                del used[j + 1]
            else:
                j += 1

    def __repr__(self) -> str:
        return f"Delta(kappa={self.kappa}, ids spent={sum(b - a for a, b in self._used)})"
