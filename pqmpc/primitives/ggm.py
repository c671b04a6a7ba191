"""GGM tree expansion: one level at a time in bulk, and the two children of one seed in njit.

A parent seed ``s`` (secret in every use: SPCOT's punctured trees) has the
children::

    left  = π(s) ⊕ s
    right = π(s ⊕ c) ⊕ s ⊕ c,   c = GGM_C (the block with only bit 0 set)

with π AES under a public key (default the project's fixed key), i.e. the
correlation-robust ``cr`` at ``s`` and ``s ⊕ c``: a length-doubling PRG for
uniform secret ``s`` when π is modelled as a random permutation.

:func:`ggm_expand_level` runs the unrolled AES-NI/VAES kernel, or OpenSSL
(constant time) where numba has no AES-NI. :func:`ggm_children` is the njit
building block for callers' own tree walks; it uses the bound AES of
:mod:`.aes_kernels` (table AES without AES-NI: not constant time, so call
:func:`ggm_expand_level` level by level on such CPUs).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .aes import DEFAULT_KEY, openssl_ecb
from .aes_kernels import aes_encrypt, round_keys_cached
from .aes_unrolled import GGM_OFFSET, ggm_ni_loop, ggm_vaes_loop
from .blocks import as_blocks, check_key, out_blocks
from .cpu import HAVE_AESNI, use_native, use_vaes
from .llvm_ir import bxor

__all__ = ["GGM_C", "ggm_children", "ggm_expand_level"]

#: The public offset of the right child: ``c`` = the block 0x01 00 .. 00 (bit 0 set).
GGM_C = GGM_OFFSET


@njit
def ggm_children(ks, s):
    """njit building block: the two children of seed block ``s`` exactly as :func:`ggm_expand_level`
    computes them (``ks`` from :func:`.aes_kernels.key_tuple`; AES-NI or table AES as available)."""
    r = bxor(s, GGM_C)
    return bxor(aes_encrypt(ks, s), s), bxor(aes_encrypt(ks, r), r)


def ggm_expand_level(parents, key: bytes | None = None, out=None, backend: str = "auto") -> np.ndarray:
    """One level of a GGM tree: ``(m, 16)`` parents → ``(2m, 16)`` children.

    Parent ``j``'s children are rows ``2j`` (left) and ``2j + 1`` (right), as
    in the module docstring. ``out`` must not alias ``parents``.
    """
    key = DEFAULT_KEY if key is None else check_key(key)
    s = as_blocks(parents, name="parents")
    m = s.shape[0]
    out = out_blocks(out, 2 * m)
    if use_native(backend, HAVE_AESNI):
        sv, ov = s.view(np.uint64), out.view(np.uint64)
        rk = round_keys_cached(key)
        done = ggm_vaes_loop(rk, sv, ov) if use_vaes(backend) else 0
        ggm_ni_loop(rk, sv[done:], ov[2 * done:])
        return out
    both = out.view(np.uint64).reshape(m, 2, 2)
    both[:, 0] = s.view(np.uint64)
    both[:, 1] = both[:, 0]
    both[:, 1, 0] ^= GGM_C[0]
    both[:, 1, 1] ^= GGM_C[1]
    inp = out.copy()
    openssl_ecb(key, inp, out)
    out ^= inp
    return out
