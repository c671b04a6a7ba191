"""Correlated-OT plumbing shared by the OT extensions (IKNP, Ferret).

A correlated OT (COT) with global offset Δ gives the sender ``q`` and the
receiver ``t = q ⊕ b·Δ``. Everything else the API offers comes from it:

* random OT: ``m0 = H(q, i)``, ``m1 = H(q ⊕ Δ, i)``, ``m_b = H(t, i)`` — the
  tweakable correlation-robust hash breaks the correlation; the tweak ``i``
  is a per-session counter that never repeats;
* COT under a caller-chosen Δ' from a session with offset Δ: the sender
  sends ``d = H(q, i) ⊕ H(q ⊕ Δ, i) ⊕ Δ'`` (one block per OT) and both sides
  move to ``q' = H(q, i)``, ``t' = H(t, i) ⊕ b·d``.

Hashes: ``tccr`` for 16-byte rows (fixed-key AES-128, TCCR of
Guo–Katz–Wang–Yu) and ``tccr_wide`` for 32-byte rows (AES-256 keyed by the
row, the 256-bit mode), both from :mod:`pqmpc.primitives.hashing`, under the
calling protocol's tag in the high tweak word (``TAG_IKNP``, ``TAG_FERRET``,
... : every TCCR user shares one fixed key, so the tag keeps their tweak
spaces apart). Security of the derived random OT rests
on that hash being tweakable correlation robust (an ideal-permutation /
ideal-cipher assumption); with 16-byte rows a quantum adversary gains a
Grover square root, which is why κ = 256 uses the wide hash.
"""

from __future__ import annotations

from numba import njit

from ...primitives.transpose_kernels import transpose_into
from ..derive import (  # noqa: F401  (the derivation kernels live below the interfaces; old names kept here)
    hash_rows,
    random_ot_from_cot,
    select_xor_into,
    tweak_range,
    xor_with_delta_into,
)
from ..interfaces import check_delta  # noqa: F401  (old home of the Δ checker)

#: Rows per chunk of OT extension: PRG → transpose → hash of one chunk stays in cache.
CHUNK = 1 << 16


def block_width(kappa: int) -> int:
    return kappa // 8


@njit(cache=True, nogil=True)
def transpose_nogil(mat, out):
    """:func:`transpose_into` with the GIL released, so both parties of an
    in-process run (two threads) transpose at the same time."""
    transpose_into(mat, out)


def kernel_specs() -> list:
    """The transpose kernel the extensions call, for :func:`pqmpc.primitives.preload.preload`."""
    from ...primitives.preload import arr

    return [(transpose_nogil, (arr("uint8", 2), arr("uint8", 2)))]
