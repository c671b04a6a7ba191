"""ML-KEM's SampleNTT on the batched Keccak: uniform coefficients mod q by rejection.

The Keccak permutation and sponge live in :mod:`pqmpc.primitives.keccak`; this
module adds the one ML-KEM-specific reader of the SHAKE-128 stream and re-exports
the hashes ML-KEM uses, so ``mlkem`` reads them from one place.

Python and numba cannot promise constant time; rejection sampling branches only
on public XOF output.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..primitives.keccak import (  # noqa: F401
    DS_SHAKE,
    RATE_SHAKE128,
    _absorb8,
    _extract8,
    _padded_words,
    _permute8,
    _rows,
    keccak_batch,
    sha3_256,
    sha3_512,
    shake128,
    shake256,
)

Q = 3329


@njit(cache=True, nogil=True)
def _xof_uniform_words(words, ncoeffs):
    n = words.shape[0]
    out = np.empty((n, ncoeffs), dtype=np.uint16)
    st = np.zeros(200, dtype=np.uint64)
    blk = np.zeros(8 * 168, dtype=np.uint8)
    # Candidates are stored unconditionally and the cursor advances only on accept
    # (no branch per candidate); the slack holds one block's worth of overshoot.
    acc = np.empty((8, ncoeffs + 112), dtype=np.int32)
    got = np.zeros(8, dtype=np.int64)
    rate = RATE_SHAKE128
    for r0 in range(0, n, 8):
        cnt = min(8, n - r0)
        _absorb8(st, words, r0, cnt, rate // 8)
        got[:] = 0
        while True:
            _extract8(st, rate, blk)
            done = True
            for l in range(cnt):
                g = got[l]
                if g < ncoeffs:
                    base = l * rate
                    for j in range(0, rate, 3):
                        b0 = np.int32(blk[base + j])
                        b1 = np.int32(blk[base + j + 1])
                        b2 = np.int32(blk[base + j + 2])
                        d1 = b0 | ((b1 & 15) << 8)
                        d2 = (b1 >> 4) | (b2 << 4)
                        acc[l, g] = d1
                        g += np.int64(d1 < Q)
                        acc[l, g] = d2
                        g += np.int64(d2 < Q)
                    got[l] = g
                if g < ncoeffs:
                    done = False
            if done:
                break
            _permute8(st)
        for l in range(cnt):
            for i in range(ncoeffs):
                out[r0 + l, i] = acc[l, i]
    return out


def xof_uniform_batch(msgs, ncoeffs):
    """SHAKE-128 of each row, read as 12-bit pairs, rejection-sampled into [0, q).

    This is FIPS 203 SampleNTT when rows are ``ρ ‖ j ‖ i`` and ``ncoeffs = 256``;
    with longer inputs and ``ncoeffs = 256 k`` it is the uniform hash-to-key map.
    The stream is squeezed as long as needed, so no input can fail (the CCTV
    "unlucky" vectors need more than 575 bytes).
    """
    return _xof_uniform_words(_padded_words(_rows(msgs), RATE_SHAKE128, DS_SHAKE), ncoeffs)
