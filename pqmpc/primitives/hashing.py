"""Hashes from fixed-key AES (Guo–Katz–Wang–Yu, CRYPTO 2020) and SHAKE.

With π a fixed-key AES permutation, modelled as a random permutation:

* ``cr(x)   = π(x) ⊕ x``                          correlation robust
* ``ccr(x)  = cr(σ(x))``, ``σ(xL‖xR) = (xL⊕xR)‖xL``  circular correlation robust
* ``tccr(x, i) = π(π(x) ⊕ i) ⊕ π(x)``              tweakable CCR (garbling, OT extension)

Blocks are little-endian 128-bit values (docs/conventions.md): in the
``(n, 2) uint64`` view, word 0 is the low half ``xR`` and word 1 the high
half ``xL``. A tweak given as integers fills the low word, the high word is 0.

Post-quantum note: these are symmetric-key constructions; Grover's search
halves their bit security, which is why the 256-bit mode exists.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..errors import ParameterError
from .aes import as_blocks, default_permutation


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
    return perm.permute(x) ^ x


def sigma(x) -> np.ndarray:
    """The linear orthomorphism σ(xL‖xR) = (xL⊕xR)‖xL."""
    w = as_blocks(x).view(np.uint64)
    out = np.empty_like(w)
    out[:, 0] = w[:, 1]
    out[:, 1] = w[:, 0] ^ w[:, 1]
    return out.view(np.uint8)


def ccr(x, perm=None) -> np.ndarray:
    return cr(sigma(x), perm)


def tccr(x, tweak, perm=None) -> np.ndarray:
    """π(π(x) ⊕ i) ⊕ π(x) for every row, with two bulk AES calls."""
    x = as_blocks(x)
    perm = perm or default_permutation()
    px = perm.permute(x)
    t = _tweak_blocks(tweak, x.shape[0])
    y = perm.permute(px ^ t)
    y ^= px
    return y


def shake(data: bytes, outlen: int, domain: bytes = b"") -> bytes:
    """SHAKE-256 of a length-prefixed domain tag followed by ``data``."""
    h = hashlib.shake_256(len(domain).to_bytes(2, "little") + domain)
    h.update(data)
    return h.digest(outlen)
