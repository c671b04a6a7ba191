"""Hashes from fixed-key AES (Guo–Katz–Wang–Yu, CRYPTO 2020) and SHAKE: one API, bulk and njit.

With π a fixed-key AES permutation, modelled as a random permutation:

* ``cr(x)   = π(x) ⊕ x``                          correlation robust
* ``ccr(x)  = cr(σ(x))``, ``σ(xL‖xR) = (xL⊕xR)‖xL``  circular correlation robust
* ``tccr(x, T) = π(π(x) ⊕ T) ⊕ π(x)``              tweakable CCR (garbling, OT extension)
* ``tccr_wide(x, T) = AES256_x(T) ‖ AES256_x(T ⊕ 2^127)`` for ``(n, 32)``
  blocks (κ = 256): AES-256 keyed by the row itself, see :func:`tccr_wide`.

Blocks are little-endian 128-bit values (docs/conventions.md): in the
``(n, 2) uint64`` view, word 0 is the low half ``xR`` and word 1 the high
half ``xL``.

Tweak layout and protocol tags
------------------------------
Every TCCR user hashes under the same fixed key, so two protocols (or two
uses inside one) that reach the same tweak would hand each other correlated
outputs. The 128-bit tweak block ``T`` is therefore split::

    word 0 (bits 0..63)     the caller's counter i (OT index, gate index 2k / 2k+1, bin, ...)
    word 1 (bits 64..127)   the tag:
        bits 64..95          protocol tag: one of the TAG_* constants below
        bits 96..126         free for the caller's instance number (e.g. a garbling
                             or session index), see :func:`make_tag`
        bit  127             must be 0: tccr_wide uses it to tell its two halves apart

Integer tweaks (``(n,)`` arrays) take the ``tag=`` argument as word 1; tag 0
reproduces the bytes of the untagged hash (vectors recorded before tags
existed). Block tweaks (``(n, 16)``) carry their own word 1 and refuse a
non-zero ``tag=``. The njit :func:`tccr_block` takes ``(i, tag)`` the same way.
No current user puts anything but its counter in word 0 (checked: IKNP /
Ferret / random OT from COT count OTs, half-gates uses 2k and 2k+1, KKRT
uses bin·w/128 + b); the 256-bit garbling kernel uses bit 127 for the two
halves exactly as :func:`tccr_wide` does.

Backends: with AES-NI the bulk hashes are fused numba kernels (VAES where
present); without it they are bulk OpenSSL calls (constant time, any CPU),
same bytes. The njit building blocks (``cr_block``, ``tccr_block``, ...) use
the bound AES of :mod:`.aes_kernels` (table AES without AES-NI: not
constant time, so call the bulk functions on such CPUs for secret inputs).

Post-quantum note: these are symmetric-key constructions; Grover's search
halves their bit security, which is why the 256-bit mode exists.
"""

from __future__ import annotations

import hashlib

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from numba import njit, types
from numba.extending import overload

from ..errors import ParameterError
from .aes import DEFAULT_KEY, FixedKeyAES, openssl_ecb
from .aes_kernels import aes256_encrypt, aes256_expand, aes_encrypt, round_keys_cached
from .aes_unrolled import (
    cr_ni_loop,
    cr_vaes_loop,
    tccr_ni_loop,
    tccr_vaes_loop,
    tccr_wide_ni_loop,
    tccr_wide_vaes_loop,
    tccr_wide_zmm_loop,
)
from .blocks import as_blocks, check_key, out_blocks
from .cpu import HAVE_AESNI, HAVE_ZMM, use_native, use_vaes
from .llvm_ir import bxor

__all__ = ["PROTOCOL_TAGS", "TAG_FERRET", "TAG_GC", "TAG_IKNP", "TAG_KKRT", "TAG_NONE", "TAG_PSI", "TAG_RANDOM_OT",
           "TAG_SPCOT", "TAG_YAO", "ccr", "ccr_block", "cr", "cr_block", "make_tag", "shake", "sigma", "sigma_block",
           "tccr", "tccr_block", "tccr_block_t", "tccr_wide", "tccr_wide_block", "tccr_kernel_specs", "tweak_block"]

# --------------------------------------------------------------------------
# Protocol tags (word 1 of the tweak, bits 64..95)
# --------------------------------------------------------------------------

#: No tag: the bytes of the hash as recorded before tags existed.
TAG_NONE = 0
#: IKNP correlated OT → random OT (``ot/ext/iknp.py`` through ``cot.hash_rows``).
TAG_IKNP = 1
#: KKRT 1-out-of-N OPRF (``H(j, v) = ⊕_b TCCR(v_b, j·w/128 + b)``).
TAG_KKRT = 2
#: Ferret-style LPN random correlated OT → random OT.
TAG_FERRET = 3
#: SPCOT / GGM punctured-tree leaf hashing inside Ferret.
TAG_SPCOT = 4
#: Half-gates garbling (gate tweaks 2k, 2k+1); a garbling instance number goes in bits 96..126.
TAG_GC = 5
#: PSI-level hashing outside the OPRF (e.g. deriving tags from OPRF outputs).
TAG_PSI = 6
#: The generic "random OT from correlated OT" derivation of the OT interface ladder.
TAG_RANDOM_OT = 7
#: Yao 2PC glue outside the garbling engine (input-label OTs hashed to labels).
TAG_YAO = 8

#: Name → value of every protocol tag (each distinct and below 2^32).
PROTOCOL_TAGS = {"none": TAG_NONE, "iknp": TAG_IKNP, "kkrt": TAG_KKRT, "ferret": TAG_FERRET, "spcot": TAG_SPCOT,
                 "gc": TAG_GC, "psi": TAG_PSI, "random_ot": TAG_RANDOM_OT, "yao": TAG_YAO}
assert len(set(PROTOCOL_TAGS.values())) == len(PROTOCOL_TAGS)

_TAG_LIMIT = 1 << 63
_TOP = np.uint64(1) << np.uint64(63)


def make_tag(protocol: int, instance: int = 0) -> int:
    """Word 1 of a tweak: ``protocol`` (a TAG_* constant, < 2^32) in bits 0..31, ``instance`` (< 2^31) above."""
    if not (0 <= protocol < 1 << 32 and 0 <= instance < 1 << 31):
        raise ParameterError(f"protocol tag must be < 2^32 and instance < 2^31, got {protocol}, {instance}")
    return protocol | (instance << 32)


def _check_tag(tag) -> np.uint64:
    tag = int(tag)
    if not 0 <= tag < _TAG_LIMIT:
        raise ParameterError(f"tag must be in [0, 2^63) (bit 127 of the tweak is reserved), got {tag}")
    return np.uint64(tag)


# --------------------------------------------------------------------------
# Tweaks
# --------------------------------------------------------------------------


def tweak_block(tw, i):
    """Tweak ``i`` as a block: ``(tw[i], 0)`` for an ``(n,)`` integer array, row ``i`` for ``(n, 2)`` uint64."""
    if tw.ndim == 1:
        return (np.uint64(tw[i]), np.uint64(0))
    return (tw[i, 0], tw[i, 1])


@overload(tweak_block)
def _ov_tweak_block(tw, i):
    if isinstance(tw, types.Array) and tw.ndim == 1:
        return lambda tw, i: (np.uint64(tw[i]), np.uint64(0))
    if isinstance(tw, types.Array) and tw.ndim == 2:
        return lambda tw, i: (tw[i, 0], tw[i, 1])


def _tweak_arg(tweak, n, tag=0):
    """``(n,)`` uint64 or ``(n, 2)`` uint64 view of the caller's tweak (no copy when possible) and the tag."""
    tag = _check_tag(tag)
    t = np.asarray(tweak)
    if t.ndim == 2:
        if t.shape[0] != n:
            _bad_tweak(n)
        if tag:
            raise ParameterError("tag= goes with integer tweaks; a block tweak carries its own high word")
        return as_blocks(t, name="tweak").view(np.uint64), tag
    if t.ndim != 1 or t.shape[0] != n or t.dtype.kind not in "ui":
        _bad_tweak(n)
    return np.ascontiguousarray(t, dtype=np.uint64), tag


def _bad_tweak(n):
    raise ParameterError(f"tweak must be (n,) integers or (n, 16) uint8 blocks for n = {n}")


def _tweak_blocks_np(tw, tag):
    if tw.ndim == 2:
        return tw
    t = np.empty((tw.shape[0], 2), dtype=np.uint64)
    t[:, 0] = tw
    t[:, 1] = tag
    return t


def _key_of(perm, key):
    """The AES key of a ``perm``/``key`` pair, or None for a generic permutation object."""
    if key is not None:
        if perm is not None:
            raise ParameterError("give perm or key, not both")
        return check_key(key)
    if perm is None:
        return DEFAULT_KEY
    if isinstance(perm, (bytes, bytearray, memoryview)):
        return check_key(perm)
    if isinstance(perm, FixedKeyAES):
        return perm.key
    return None


# --------------------------------------------------------------------------
# njit building blocks
# --------------------------------------------------------------------------


@njit
def sigma_block(x):
    """σ(xL‖xR) = (xL⊕xR)‖xL on one block (word 0 = xR, word 1 = xL)."""
    return (x[1], x[0] ^ x[1])


@njit
def cr_block(ks, x):
    """π(x) ⊕ x with π = AES under round keys ``ks`` (njit)."""
    return bxor(aes_encrypt(ks, x), x)


@njit
def ccr_block(ks, x):
    """cr(σ(x)) (njit)."""
    return cr_block(ks, sigma_block(x))


@njit
def tccr_block_t(ks, x, t):
    """π(π(x) ⊕ t) ⊕ π(x) for a full tweak block ``t`` (njit)."""
    p = aes_encrypt(ks, x)
    return bxor(aes_encrypt(ks, bxor(p, t)), p)


@njit
def tccr_block(ks, x, i, tag):
    """TCCR of block ``x`` with counter ``i`` and protocol ``tag``: the tweak block ``(i, tag)`` (njit).

    Same bytes as row ``k`` of ``tccr(x, tweak, tag=tag)`` with ``tweak[k] == i``.
    """
    return tccr_block_t(ks, x, (np.uint64(i), np.uint64(tag)))


@njit
def tccr_wide_block(k0, k1, i, tag):
    """:func:`tccr_wide` of one 32-byte row given as its two halves ``k0``, ``k1``: two blocks (njit)."""
    ks = aes256_expand(k0, k1)
    t = (np.uint64(i), np.uint64(tag))
    return aes256_encrypt(ks, t), aes256_encrypt(ks, (t[0], t[1] | _TOP))


# --------------------------------------------------------------------------
# Bulk: CR / CCR
# --------------------------------------------------------------------------


def sigma(x) -> np.ndarray:
    """The linear orthomorphism σ(xL‖xR) = (xL⊕xR)‖xL, row by row."""
    w = as_blocks(x).view(np.uint64)
    out = np.empty_like(w)
    out[:, 0] = w[:, 1]
    out[:, 1] = w[:, 0] ^ w[:, 1]
    return out.view(np.uint8)


def _cr(x, key, use_sigma, out, backend):
    x = as_blocks(x, name="x")
    out = out_blocks(out, x.shape[0])
    if use_native(backend, HAVE_AESNI):
        xv, ov = x.view(np.uint64), out.view(np.uint64)
        rk = round_keys_cached(key)
        done = cr_vaes_loop(rk, xv, ov, bool(use_sigma)) if use_vaes(backend) else 0
        cr_ni_loop(rk, xv[done:], ov[done:], bool(use_sigma))
        return out
    y = sigma(x) if use_sigma else x
    openssl_ecb(key, y, out)
    out ^= y
    return out


def cr(x, perm=None, *, key=None, out=None, backend: str = "auto") -> np.ndarray:
    """``π(x) ⊕ x`` per row. π: ``perm`` (a :class:`FixedKeyAES`, a 16/32-byte key, or any object with
    ``permute``) or ``key=``; default the project's fixed key."""
    k = _key_of(perm, key)
    if k is None:
        x = as_blocks(x)
        y = perm.permute(x) ^ x
        if out is not None:
            out_blocks(out, x.shape[0])[:] = y
            return out
        return y
    return _cr(x, k, False, out, backend)


def ccr(x, perm=None, *, key=None, out=None, backend: str = "auto") -> np.ndarray:
    """``cr(σ(x))`` per row (circular correlation robust); arguments as :func:`cr`."""
    k = _key_of(perm, key)
    if k is None:
        return cr(sigma(x), perm, out=out)
    return _cr(x, k, True, out, backend)


# --------------------------------------------------------------------------
# Bulk: TCCR
# --------------------------------------------------------------------------


def tccr(x, tweak, perm=None, *, key=None, out=None, backend: str = "auto", tag: int = 0) -> np.ndarray:
    """Tweakable circular correlation-robust hash ``π(π(x) ⊕ T) ⊕ π(x)`` row by row.

    ``tweak``: ``(n,)`` integers (tweak block ``T = (tweak[i], tag)``, see the
    module docstring for the layout; pass your protocol's ``TAG_*``) or
    ``(n, 16)`` uint8 blocks (then ``tag`` must be 0). π as in :func:`cr`;
    a 32-byte key gives AES-256. One fused kernel with AES-NI, two bulk
    OpenSSL calls otherwise; a generic ``perm`` object gets two ``permute``
    calls. ``out`` may alias ``x``.
    """
    k = _key_of(perm, key)
    x = as_blocks(x, name="x")
    n = x.shape[0]
    tw, tg = _tweak_arg(tweak, n, tag)
    if k is None:
        px = perm.permute(x)
        y = perm.permute(px ^ _tweak_blocks_np(tw, tg).view(np.uint8).reshape(n, 16))
        y ^= px
        if out is not None:
            out_blocks(out, n)[:] = y
            return out
        return y
    out = out_blocks(out, n)
    if use_native(backend, HAVE_AESNI):
        xv, ov = x.view(np.uint64), out.view(np.uint64)
        rk = round_keys_cached(k)
        done = tccr_vaes_loop(rk, xv, tw, ov, tg) if use_vaes(backend) else 0
        tccr_ni_loop(rk, xv[done:], tw[done:], ov[done:], tg)
        return out
    px = openssl_ecb(k, x)
    y = px.view(np.uint64) ^ _tweak_blocks_np(tw, tg)
    openssl_ecb(k, y.view(np.uint8), out)
    out ^= px
    return out


# --------------------------------------------------------------------------
# Bulk: wide TCCR for 32-byte blocks (the 256-bit "doubled key" mode)
# --------------------------------------------------------------------------


def _tccr_wide_openssl(x, tw, tag, out):
    # One OpenSSL context per row (the row is the key): constant time wherever
    # OpenSSL is, unlike a table AES, at ~1-3 us per row.
    pt = np.empty((x.shape[0], 4), dtype=np.uint64)
    pt[:, :2] = _tweak_blocks_np(tw, tag)
    pt[:, 2:] = pt[:, :2]
    pt[:, 3] |= _TOP
    ptb = pt.view(np.uint8)
    buf = np.empty(48, dtype=np.uint8)
    for i in range(x.shape[0]):
        enc = Cipher(algorithms.AES(x[i].tobytes()), modes.ECB()).encryptor()
        enc.update_into(ptb[i], buf)
        out[i] = buf[:32]
    return out


def tccr_wide(x, tweak, out=None, backend: str = "auto", tag: int = 0) -> np.ndarray:
    """Tweakable correlation-robust hash of ``(n, 32)`` blocks to ``(n, 32)``, for κ = 256.

    Definition: with ``E_k`` AES-256 under the 32-byte key ``k`` and ``T`` the
    tweak block (as in :func:`tccr`, including ``tag``)::

        H(x, T) = E_x(T) ‖ E_x(T + 2^127)        (each half 16 bytes)

    i.e. the row ``x`` itself is the AES-256 key and the two plaintexts are the
    tweak with its top bit (bit 7 of byte 15) clear and set. Block tweaks must
    therefore have that bit clear (``ParameterError`` otherwise); integer
    tweaks and tags below 2^63 always do.

    Why it is correlation robust at the 128-bit post-quantum level: in the
    ideal-cipher model every key selects an independent random permutation.
    The protocol evaluates H at ``x ⊕ Δ`` for a secret uniform 256-bit Δ; an
    adversary learns nothing about ``E_{x⊕Δ}`` unless one of its own offline
    cipher evaluations uses exactly the key ``x ⊕ Δ``, which takes ~2^256
    classical or ~2^128 quantum (Grover) work — unlike fixed-key AES-128
    constructions, whose 128-bit permutation inputs fall to ~2^64 Grover.
    The plaintexts ``(T, j)`` are distinct for distinct (tweak, half), so
    outputs for one key are distinct values of one random permutation
    (distance 2^-128 from independent). Related-key caveat: the keys the
    oracle uses differ by attacker-chosen XORs, and AES-256 has related-key
    boomerang attacks (Biryukov–Khovratovich 2009), but those need ~2^99.5
    related-key *oracle* queries, i.e. 2^99.5 protocol OTs, far outside any
    run; offline they give nothing.

    Cost: one in-kernel AES-256 key schedule plus two 14-round encryptions
    per 32 bytes; measured ~1.5-1.6x :func:`tccr`'s time per byte (ymm VAES and
    xmm AES-NI alike); with AVX-512 four rows share each AES instruction (zmm),
    ~1.9x the ymm rate. Without AES-NI (``backend="fallback"``, what "auto"
    picks there) every row gets its own OpenSSL AES-256 context: constant
    time, but ~0.5 M rows/s because of the per-row key schedule and Python
    call. The row is a secret (a label or an OT pad), so no table AES is
    offered; ``backend="table"`` is accepted as an old name of "fallback".
    """
    x = as_blocks(x, width=32, name="x")
    n = x.shape[0]
    tw, tg = _tweak_arg(tweak, n, tag)
    if tw.ndim == 2 and n and np.any(tw[:, 1] & _TOP):
        raise ParameterError("tccr_wide block tweaks must have the top bit (bit 7 of byte 15) clear")
    out = out_blocks(out, n, 32)
    if backend == "table":
        backend = "fallback"
    if not use_native(backend, HAVE_AESNI):
        return _tccr_wide_openssl(x, tw, tg, out)
    xv, ov = x.view(np.uint64), out.view(np.uint64)
    done = 0
    if use_vaes(backend):
        # four rows per AES instruction with AVX-512 (1.9x), then pairs, then single rows
        if HAVE_ZMM:
            done = tccr_wide_zmm_loop(xv, tw, ov, tg)
        done += tccr_wide_vaes_loop(xv[done:], tw[done:], ov[done:], tg)
    tccr_wide_ni_loop(xv[done:], tw[done:], ov[done:], tg)
    return out


# --------------------------------------------------------------------------
# SHAKE
# --------------------------------------------------------------------------


def shake(data: bytes, outlen: int, domain: bytes = b"") -> bytes:
    """SHAKE-256 of a length-prefixed domain tag followed by ``data``:
    ``SHAKE256(len(domain) as 2 bytes little-endian ‖ domain ‖ data)``."""
    h = hashlib.shake_256(len(domain).to_bytes(2, "little") + domain)
    h.update(data)
    return h.digest(outlen)


def tccr_kernel_specs() -> list:
    """The kernels :func:`tccr` calls on 16-byte rows with the default backend (none
    without AES-NI), for :func:`pqmpc.primitives.preload.preload`."""
    if not use_native("auto", HAVE_AESNI):
        return []
    from .preload import U64, arr

    sig = (arr("uint64", 2), arr("uint64", 2), arr("uint64", 1), arr("uint64", 2), U64)
    return [(tccr_vaes_loop, sig)] * use_vaes("auto") + [(tccr_ni_loop, sig)]
