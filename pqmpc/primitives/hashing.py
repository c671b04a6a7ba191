"""Hashes from fixed-key AES (Guo–Katz–Wang–Yu, CRYPTO 2020) and SHAKE.

With π a fixed-key AES permutation, modelled as a random permutation:

* ``cr(x)   = π(x) ⊕ x``                          correlation robust
* ``ccr(x)  = cr(σ(x))``, ``σ(xL‖xR) = (xL⊕xR)‖xL``  circular correlation robust
* ``tccr(x, i) = π(π(x) ⊕ i) ⊕ π(x)``              tweakable CCR (garbling, OT extension)

Blocks are little-endian 128-bit values (docs/conventions.md): in the
``(n, 2) uint64`` view, word 0 is the low half ``xR`` and word 1 the high
half ``xL``. A tweak given as integers fills the low word, the high word is 0.

* ``tccr_wide(x, i)`` for ``(n, 32)`` blocks (κ = 256): AES-256 keyed by the
  row itself, see :func:`pqmpc.primitives.aesni.tccr_wide` for the argument.

Post-quantum note: these are symmetric-key constructions; Grover's search
halves their bit security, which is why the 256-bit mode exists.

Speed: with the default (or any) :class:`FixedKeyAES` the hashes run as fused
numba kernels with AES-NI (``aesni``), or as bulk OpenSSL calls where the
CPU/numba target lacks AES-NI; both give the same bytes.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..errors import ParameterError
from . import aesni
from .aes import FixedKeyAES, as_blocks, default_permutation


def _tweak_blocks(tweak, n: int) -> np.ndarray:
    t = np.asarray(tweak)
    if t.ndim == 2:
        return as_blocks(t, name="tweak")
    if t.ndim != 1 or t.shape[0] != n or t.dtype.kind not in "ui":
        raise ParameterError(f"tweak must be (n,) integers or (n, 16) blocks for n = {n}")
    out = np.zeros((n, 2), dtype=np.uint64)
    out[:, 0] = t.astype(np.uint64)
    return out.view(np.uint8).reshape(n, 16)


def cr(x, perm=None) -> np.ndarray:
    x = as_blocks(x)
    perm = perm or default_permutation()
    if isinstance(perm, FixedKeyAES):
        return aesni.cr(x, key=perm.key)
    return perm.permute(x) ^ x


def sigma(x) -> np.ndarray:
    """The linear orthomorphism σ(xL‖xR) = (xL⊕xR)‖xL."""
    w = as_blocks(x).view(np.uint64)
    out = np.empty_like(w)
    out[:, 0] = w[:, 1]
    out[:, 1] = w[:, 0] ^ w[:, 1]
    return out.view(np.uint8)


def ccr(x, perm=None) -> np.ndarray:
    x = as_blocks(x)
    perm = perm or default_permutation()
    if isinstance(perm, FixedKeyAES):
        return aesni.cr(x, key=perm.key, sigma=True)
    return cr(sigma(x), perm)


def tccr(x, tweak, perm=None) -> np.ndarray:
    """π(π(x) ⊕ i) ⊕ π(x) for every row.

    ``tweak``: ``(n,)`` integers (the block ``i`` little-endian in the low 8
    bytes) or ``(n, 16)`` blocks. One fused kernel for :class:`FixedKeyAES`
    permutations; any other object with ``permute`` gets two bulk calls.
    """
    x = as_blocks(x)
    perm = perm or default_permutation()
    if isinstance(perm, FixedKeyAES):
        t = np.asarray(tweak)
        if t.ndim == 1 and t.dtype.kind not in "ui":
            raise ParameterError(f"tweak must be (n,) integers or (n, 16) blocks for n = {x.shape[0]}")
        return aesni.tccr(x, tweak, key=perm.key)
    px = perm.permute(x)
    t = _tweak_blocks(tweak, x.shape[0])
    y = perm.permute(px ^ t)
    y ^= px
    return y


def tccr_wide(x, tweak) -> np.ndarray:
    """Tweakable correlation-robust hash of ``(n, 32)`` blocks → ``(n, 32)`` (256-bit mode).

    ``H(x, T) = AES256_x(T) ‖ AES256_x(T + 2^127)``: the row is the AES-256 key,
    the tweak block ``T`` (as in :func:`tccr`; block tweaks need the top bit
    clear). Security argument and costs: :func:`pqmpc.primitives.aesni.tccr_wide`.
    """
    return aesni.tccr_wide(x, tweak)


def shake(data: bytes, outlen: int, domain: bytes = b"") -> bytes:
    """SHAKE-256 of a length-prefixed domain tag followed by ``data``."""
    h = hashlib.shake_256(len(domain).to_bytes(2, "little") + domain)
    h.update(data)
    return h.digest(outlen)
