"""ML-KEM's SampleNTT on the batched Keccak: uniform coefficients mod q by rejection.

The Keccak permutation and sponge live in :mod:`pqmpc.primitives.keccak`; this
module adds the one ML-KEM-specific reader of the SHAKE-128 stream and re-exports
the hashes ML-KEM uses, so ``mlkem`` reads them from one place. It uses only the
public batch hashes: every row is squeezed to a length that almost always holds
enough accepted candidates, and the rare rows that do not are hashed again with
twice the length (SHAKE's output is a prefix of any longer output, so the result
equals reading one unbounded stream).

Python and numba cannot promise constant time; rejection sampling branches only
on public XOF output.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..primitives.keccak import RATE_SHAKE128, sha3_256, sha3_512, shake128, shake256

__all__ = ["Q", "kernel_specs", "sha3_256", "sha3_512", "shake128", "shake256", "xof_uniform_batch"]

Q = 3329
#: Candidates (12-bit pairs from 3 bytes) per SHAKE-128 block, and the share accepted.
_CANDIDATES_PER_BLOCK = RATE_SHAKE128 // 3 * 2
_ACCEPT = Q / 4096
_PIECE_BYTES = 1 << 18


@njit(cache=True, nogil=True)
def _reject_rows(stream, ncoeffs, out, row0, ok):
    # Candidates go to a small scratch row unconditionally and the cursor advances
    # only on accept (no branch per candidate); enough coefficients is checked once
    # per block. Row r of stream fills out[row0 + r].
    rate = RATE_SHAKE128
    acc = np.empty(ncoeffs + rate, dtype=np.int32)
    for r in range(stream.shape[0]):
        g = 0
        for base in range(0, stream.shape[1], rate):
            for j in range(base, base + rate, 3):
                b0 = np.int32(stream[r, j])
                b1 = np.int32(stream[r, j + 1])
                b2 = np.int32(stream[r, j + 2])
                d1 = b0 | ((b1 & 15) << 8)
                d2 = (b1 >> 4) | (b2 << 4)
                acc[g] = d1
                g += np.int64(d1 < Q)
                acc[g] = d2
                g += np.int64(d2 < Q)
            if g >= ncoeffs:
                break
        ok[r] = g >= ncoeffs
        if g >= ncoeffs:
            for i in range(ncoeffs):
                out[row0 + r, i] = acc[i]


def _first_blocks(ncoeffs: int) -> int:
    # A little above the mean: about 0.7% of rows need a second pass for 256
    # coefficients, far fewer for the longer hash-to-key rows.
    return max(1, math.ceil(1.06 * ncoeffs / (_ACCEPT * _CANDIDATES_PER_BLOCK)))


def xof_uniform_batch(msgs, ncoeffs):
    """SHAKE-128 of each row, read as 12-bit pairs, rejection-sampled into [0, q).

    This is FIPS 203 SampleNTT when rows are ``ρ ‖ j ‖ i`` and ``ncoeffs = 256``;
    with longer inputs and ``ncoeffs = 256 k`` it is the uniform hash-to-key map.
    The stream is squeezed as long as needed, so no input can fail (the CCTV
    "unlucky" vectors need more than 575 bytes).
    """
    msgs = np.ascontiguousarray(msgs, dtype=np.uint8)
    n = msgs.shape[0]
    result = np.empty((n, ncoeffs), dtype=np.uint16)
    blocks = _first_blocks(ncoeffs)
    # Pieces of rows keep the squeezed stream in cache between hashing and reading.
    step = max(8, _PIECE_BYTES // (blocks * RATE_SHAKE128)) // 8 * 8
    short = []
    for lo in range(0, n, step):
        stream = shake128(msgs[lo:lo + step], blocks * RATE_SHAKE128)
        ok = np.empty(stream.shape[0], dtype=np.bool_)
        _reject_rows(stream, ncoeffs, result, lo, ok)
        if not ok.all():
            short.append(lo + np.flatnonzero(~ok))
    todo = np.concatenate(short) if short else np.empty(0, dtype=np.int64)
    while todo.size:
        blocks *= 2
        stream = shake128(msgs[todo], blocks * RATE_SHAKE128)
        ok = np.empty(todo.size, dtype=np.bool_)
        part = np.empty((todo.size, ncoeffs), dtype=np.uint16)
        _reject_rows(stream, ncoeffs, part, 0, ok)
        result[todo[ok]] = part[ok]
        todo = todo[~ok]
    return result


def kernel_specs() -> list:
    """The kernels of ML-KEM's hashing and sampling (Keccak, rejection sampling),
    for :func:`pqmpc.primitives.preload.preload`."""
    from ..primitives import keccak
    from ..primitives.preload import I64, arr

    return keccak.kernel_specs() + [(_reject_rows, (arr("uint8", 2), I64, arr("uint16", 2), I64, arr("bool", 1)))]
