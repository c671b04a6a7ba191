"""AES-128/256 in numba: njit building blocks for other kernels, round keys, and bulk ECB.

Why these exist: bulk OpenSSL calls are fast for one long ECB/CTR stream,
but the dependent chains of TCCR, garbling and GGM trees need two or more
AES calls per block plus glue; fusing them into one numba loop that issues
``aesenc`` directly roughly doubles their throughput (PERFORMANCE.md).

Building blocks for njit kernels (blocks are ``UniTuple(uint64, 2)``,
``(x[i, 0], x[i, 1])`` of the ``(n, 2) uint64`` view):

* ``key_tuple(key)`` (Python) → round keys as a tuple of 11/15 blocks, pass it
  as a kernel argument; or in-kernel ``aes128_load_keys(rk)`` /
  ``aes256_load_keys(rk)`` from the ``(11, 2)`` / ``(15, 2)`` uint64 array of
  :func:`round_keys` (:func:`fixed_key_schedule` for the project's fixed key).
* ``aes_encrypt(ks, b)`` (AES-128/256 by ``len(ks)``), ``aes128_encrypt``,
  ``aes256_encrypt``, ``aes_encrypt8(ks, (b0, ..., b7))`` (eight independent
  blocks, round-interleaved: for dependent chains such as half-gates).
* ``aes256_expand(k0, k1)`` → 15 round keys from a 32-byte key's halves.
* ``bxor(a, b)``.

They are bound at import to the AES-NI versions when :data:`HAVE_AESNI` and
to the table AES of :mod:`.aes_table` otherwise (same bytes; that one is not
constant time, so this module warns once at import and a caller must route
secret keys or data to the bulk functions on such CPUs: :func:`ecb_encrypt`,
:mod:`.hashing`, :mod:`.ggm`, :mod:`.prg` all fall back to OpenSSL).

Example::

    from numba import njit
    from pqmpc.primitives import aes_kernels as K

    @njit(cache=True)
    def my_kernel(ks, x, out):
        for i in range(x.shape[0]):
            b = (x[i, 0], x[i, 1])
            y = K.bxor(K.aes_encrypt(ks, b), b)
            out[i, 0] = y[0]
            out[i, 1] = y[1]

    my_kernel(K.key_tuple(key), x.view(np.uint64), out.view(np.uint64))

Caveat: numba's cache keys a kernel on its own file only, so after this
package changes, clear the caller's ``__pycache__/*.nbi`` to pick up new code.
"""

from __future__ import annotations

import warnings

import numpy as np
from numba import njit, types
from numba.extending import overload

from ..errors import ParameterError
from .aes import DEFAULT_KEY, expand_key, openssl_ecb
from .aes_table import aes128_encrypt_soft, aes256_encrypt_soft, aes256_expand_soft
from .aes_unrolled import ecb_ni_loop, ecb_vaes_loop
from .blocks import as_blocks, check_key, out_blocks
from .cpu import HAVE_AESNI, use_native, use_vaes
from .llvm_ir import aes128_expand_ni, aes256_expand_ni, aesenc, aesenclast, bxor

__all__ = ["HAVE_AESNI", "aes128_encrypt", "aes128_encrypt8_ni", "aes128_encrypt_ni", "aes128_load_keys",
           "aes256_encrypt", "aes256_encrypt8_ni", "aes256_encrypt_ni", "aes256_expand", "aes256_load_keys",
           "aes_encrypt", "aes_encrypt8", "aes_encrypt8_ni", "aes_encrypt8_soft", "aes_encrypt_ni",
           "aes_encrypt_soft", "bxor", "ecb_encrypt", "fixed_key_schedule", "fixed_key_tuple", "key_tuple",
           "expand_kernel_specs", "round_keys", "round_keys_cached", "round_keys_many", "TABLE_AES_ACTIVE"]

#: True when the njit building blocks run on the (not constant time) table AES.
TABLE_AES_ACTIVE: bool = not HAVE_AESNI
if TABLE_AES_ACTIVE:
    warnings.warn(
        "pqmpc: numba cannot use AES-NI on this CPU/target; pqmpc's bulk AES primitives use OpenSSL "
        "(constant time), but njit kernels built on pqmpc.primitives.aes_kernels use a table AES that is "
        "not constant time (cache-timing leaks of keys and data); see SECURITY.md",
        RuntimeWarning, stacklevel=2)


# --------------------------------------------------------------------------
# Round keys: hoisted into tuples so the rounds see registers, not loads
# --------------------------------------------------------------------------

def round_keys(key: bytes) -> np.ndarray:
    """FIPS 197 key schedule as ``(11, 2)`` (AES-128) or ``(15, 2)`` (AES-256) uint64.

    Computed in-kernel with AES-NI where available (constant time: the keys
    may be secret, e.g. PRG seeds), else by the byte-wise FIPS 197 routine.
    """
    key = check_key(key)
    return round_keys_many(np.frombuffer(key, dtype=np.uint8).reshape(1, -1))[0]


def round_keys_many(keys) -> np.ndarray:
    """Key schedules of the rows of ``keys`` (``(m, 16)`` or ``(m, 32)`` uint8): ``(m, 11|15, 2)`` uint64."""
    keys = np.asarray(keys)
    if keys.dtype != np.uint8 or keys.ndim != 2 or keys.shape[1] not in (16, 32):
        raise ParameterError(f"keys must be (m, 16) or (m, 32) uint8, got {keys.dtype} {keys.shape}")
    m, nrk = keys.shape[0], 11 if keys.shape[1] == 16 else 15
    out = np.empty((m, nrk, 2), dtype=np.uint64)
    if m == 0:
        return out
    if HAVE_AESNI:
        kv = np.ascontiguousarray(keys).view(np.uint64)
        (_expand128_many if nrk == 11 else _expand256_many)(kv, out)
    else:
        for j in range(m):
            out[j] = expand_key(keys[j].tobytes()).view(np.uint64)
    return out


# In-kernel schedules (compiled only behind HAVE_AESNI, from round_keys_many).
@njit(cache=True, nogil=True)
def _expand128_many(keys, out):
    for j in range(keys.shape[0]):
        ks = aes128_expand_ni((keys[j, 0], keys[j, 1]))
        for r in range(11):
            out[j, r, 0] = ks[r][0]
            out[j, r, 1] = ks[r][1]


@njit(cache=True, nogil=True)
def _expand256_many(keys, out):
    for j in range(keys.shape[0]):
        ks = aes256_expand_ni((keys[j, 0], keys[j, 1]), (keys[j, 2], keys[j, 3]))
        for r in range(15):
            out[j, r, 0] = ks[r][0]
            out[j, r, 1] = ks[r][1]


@njit
def _k(rk, r):
    return (rk[r, 0], rk[r, 1])


@njit
def aes128_load_keys(rk):
    """(11, 2) uint64 round keys → 11-tuple of blocks (njit; call once, outside the loop)."""
    return (_k(rk, 0), _k(rk, 1), _k(rk, 2), _k(rk, 3), _k(rk, 4), _k(rk, 5),
            _k(rk, 6), _k(rk, 7), _k(rk, 8), _k(rk, 9), _k(rk, 10))


@njit
def aes256_load_keys(rk):
    """(15, 2) uint64 round keys → 15-tuple of blocks (njit)."""
    return (_k(rk, 0), _k(rk, 1), _k(rk, 2), _k(rk, 3), _k(rk, 4), _k(rk, 5),
            _k(rk, 6), _k(rk, 7), _k(rk, 8), _k(rk, 9), _k(rk, 10), _k(rk, 11),
            _k(rk, 12), _k(rk, 13), _k(rk, 14))


# --------------------------------------------------------------------------
# Block encryption with AES-NI (straight-line rounds)
# --------------------------------------------------------------------------


@njit
def aes128_encrypt_ni(ks, b):
    b = bxor(b, ks[0])
    b = aesenc(b, ks[1])
    b = aesenc(b, ks[2])
    b = aesenc(b, ks[3])
    b = aesenc(b, ks[4])
    b = aesenc(b, ks[5])
    b = aesenc(b, ks[6])
    b = aesenc(b, ks[7])
    b = aesenc(b, ks[8])
    b = aesenc(b, ks[9])
    return aesenclast(b, ks[10])


@njit
def aes256_encrypt_ni(ks, b):
    b = bxor(b, ks[0])
    b = aesenc(b, ks[1])
    b = aesenc(b, ks[2])
    b = aesenc(b, ks[3])
    b = aesenc(b, ks[4])
    b = aesenc(b, ks[5])
    b = aesenc(b, ks[6])
    b = aesenc(b, ks[7])
    b = aesenc(b, ks[8])
    b = aesenc(b, ks[9])
    b = aesenc(b, ks[10])
    b = aesenc(b, ks[11])
    b = aesenc(b, ks[12])
    b = aesenc(b, ks[13])
    return aesenclast(b, ks[14])


# The names other kernels call: bound once, here, to what this machine can run.
if HAVE_AESNI:
    aes128_encrypt = aes128_encrypt_ni
    aes256_encrypt = aes256_encrypt_ni
    aes256_expand = aes256_expand_ni
else:
    aes128_encrypt = aes128_encrypt_soft
    aes256_encrypt = aes256_encrypt_soft
    aes256_expand = aes256_expand_soft



# --------------------------------------------------------------------------
# Eight-block interleaving: independent chains keep the AES unit busy
# --------------------------------------------------------------------------


@njit
def _x8(k, b):
    b0, b1, b2, b3, b4, b5, b6, b7 = b
    return bxor(b0, k), bxor(b1, k), bxor(b2, k), bxor(b3, k), bxor(b4, k), bxor(b5, k), bxor(b6, k), bxor(b7, k)


@njit
def _r8(k, b):
    b0, b1, b2, b3, b4, b5, b6, b7 = b
    return (aesenc(b0, k), aesenc(b1, k), aesenc(b2, k), aesenc(b3, k),
            aesenc(b4, k), aesenc(b5, k), aesenc(b6, k), aesenc(b7, k))


@njit
def _l8(k, b):
    b0, b1, b2, b3, b4, b5, b6, b7 = b
    return (aesenclast(b0, k), aesenclast(b1, k), aesenclast(b2, k), aesenclast(b3, k),
            aesenclast(b4, k), aesenclast(b5, k), aesenclast(b6, k), aesenclast(b7, k))


@njit
def aes128_encrypt8_ni(ks, b):
    """Eight blocks (an 8-tuple) through AES-128, round by round across the blocks."""
    b = _x8(ks[0], b)
    b = _r8(ks[1], b)
    b = _r8(ks[2], b)
    b = _r8(ks[3], b)
    b = _r8(ks[4], b)
    b = _r8(ks[5], b)
    b = _r8(ks[6], b)
    b = _r8(ks[7], b)
    b = _r8(ks[8], b)
    b = _r8(ks[9], b)
    return _l8(ks[10], b)


@njit
def aes256_encrypt8_ni(ks, b):
    b = _x8(ks[0], b)
    b = _r8(ks[1], b)
    b = _r8(ks[2], b)
    b = _r8(ks[3], b)
    b = _r8(ks[4], b)
    b = _r8(ks[5], b)
    b = _r8(ks[6], b)
    b = _r8(ks[7], b)
    b = _r8(ks[8], b)
    b = _r8(ks[9], b)
    b = _r8(ks[10], b)
    b = _r8(ks[11], b)
    b = _r8(ks[12], b)
    b = _r8(ks[13], b)
    return _l8(ks[14], b)


def aes_encrypt_ni(ks, b):
    """AES-128 or AES-256 by the number of round keys in ``ks`` (resolved at compile time in njit code)."""
    return aes128_encrypt_ni(ks, b) if len(ks) == 11 else aes256_encrypt_ni(ks, b)


def aes_encrypt8_ni(ks, b):
    """Eight blocks through AES-128 or AES-256, by ``len(ks)``."""
    return aes128_encrypt8_ni(ks, b) if len(ks) == 11 else aes256_encrypt8_ni(ks, b)


def aes_encrypt(ks, b):
    """AES-128/256 of one block by ``len(ks)``: AES-NI where available, table AES otherwise."""
    if len(ks) == 11:
        return aes128_encrypt(ks, b)
    return aes256_encrypt(ks, b)


def aes_encrypt_soft(ks, b):
    """AES-128/256 of one block by ``len(ks)`` with the table AES (any CPU)."""
    if len(ks) == 11:
        return aes128_encrypt_soft(ks, b)
    return aes256_encrypt_soft(ks, b)


def _by_key_count(f128, f256):
    def typer(ks, b):
        if isinstance(ks, types.BaseTuple) and len(ks) in (11, 15):
            return f128 if len(ks) == 11 else f256
        return None
    return typer


@overload(aes_encrypt_ni)
def _ov_enc_ni(ks, b):
    f = _by_key_count(aes128_encrypt_ni, aes256_encrypt_ni)(ks, b)
    if f is not None:
        return lambda ks, b: f(ks, b)


@overload(aes_encrypt8_ni)
def _ov_enc8_ni(ks, b):
    f = _by_key_count(aes128_encrypt8_ni, aes256_encrypt8_ni)(ks, b)
    if f is not None:
        return lambda ks, b: f(ks, b)


@overload(aes_encrypt_soft)
def _ov_enc_soft(ks, b):
    f = _by_key_count(aes128_encrypt_soft, aes256_encrypt_soft)(ks, b)
    if f is not None:
        return lambda ks, b: f(ks, b)


@overload(aes_encrypt)
def _ov_enc(ks, b):
    f = _by_key_count(aes128_encrypt, aes256_encrypt)(ks, b)
    if f is not None:
        return lambda ks, b: f(ks, b)


def aes_encrypt8_soft(ks, b):
    """Eight blocks (an 8-tuple) through the table AES, by ``len(ks)``."""
    return (aes_encrypt_soft(ks, b[0]), aes_encrypt_soft(ks, b[1]), aes_encrypt_soft(ks, b[2]),
            aes_encrypt_soft(ks, b[3]), aes_encrypt_soft(ks, b[4]), aes_encrypt_soft(ks, b[5]),
            aes_encrypt_soft(ks, b[6]), aes_encrypt_soft(ks, b[7]))


def aes_encrypt8(ks, b):
    """Eight independent blocks (an 8-tuple) through AES-128/256 by ``len(ks)``, round by round
    across the blocks with AES-NI (table AES otherwise). For dependent chains such as garbling,
    where the core cannot find the parallelism itself."""
    return aes_encrypt8_ni(ks, b) if HAVE_AESNI else aes_encrypt8_soft(ks, b)


@overload(aes_encrypt8_soft)
def _ov_enc8_soft(ks, b):
    if isinstance(ks, types.BaseTuple) and len(ks) in (11, 15):
        return lambda ks, b: (aes_encrypt_soft(ks, b[0]), aes_encrypt_soft(ks, b[1]), aes_encrypt_soft(ks, b[2]),
                              aes_encrypt_soft(ks, b[3]), aes_encrypt_soft(ks, b[4]), aes_encrypt_soft(ks, b[5]),
                              aes_encrypt_soft(ks, b[6]), aes_encrypt_soft(ks, b[7]))


@overload(aes_encrypt8)
def _ov_enc8(ks, b):
    if isinstance(ks, types.BaseTuple) and len(ks) in (11, 15):
        if HAVE_AESNI:
            return lambda ks, b: aes_encrypt8_ni(ks, b)
        return lambda ks, b: aes_encrypt8_soft(ks, b)


_KEY_TUPLES: dict = {}
_KEY_ARRAYS: dict = {}


def _rk_array(key: bytes) -> np.ndarray:
    rk = _KEY_ARRAYS.get(key)
    if rk is None:
        rk = round_keys(key)
        if len(_KEY_ARRAYS) < 64:
            _KEY_ARRAYS[key] = rk
    return rk


def key_tuple(key: bytes) -> tuple:
    """Round keys of ``key`` as a tuple of 11 or 15 ``(uint64, uint64)`` blocks: pass it straight to a kernel."""
    key = bytes(key)
    kt = _KEY_TUPLES.get(key)
    if kt is None:
        rk = round_keys(key)
        kt = tuple((np.uint64(rk[r, 0]), np.uint64(rk[r, 1])) for r in range(rk.shape[0]))
        if len(_KEY_TUPLES) < 64:
            _KEY_TUPLES[key] = kt
    return kt




def round_keys_cached(key: bytes) -> np.ndarray:
    """:func:`round_keys` of ``key`` from a small cache (read-only array: do not write it)."""
    return _rk_array(bytes(key))


_FIXED: dict = {}


def fixed_key_schedule(key: bytes | None = None) -> np.ndarray:
    """Round keys of the project's public fixed key (:data:`.aes.DEFAULT_KEY`) as ``(11, 2)`` uint64.

    The one cached schedule for the fixed-key permutation π that garbling,
    KKRT and SPCOT feed to their kernels (``aes128_load_keys(rk)``).
    Read-only. ``key``: another public key, cached the same way.
    """
    key = DEFAULT_KEY if key is None else check_key(key)
    rk = _FIXED.get(key)
    if rk is None:
        rk = round_keys(key)
        rk.flags.writeable = False
        if len(_FIXED) < 16:
            _FIXED[key] = rk
    return rk


def fixed_key_tuple(key: bytes | None = None) -> tuple:
    """:func:`key_tuple` of the fixed key (or another public ``key``)."""
    return key_tuple(DEFAULT_KEY if key is None else key)


# --------------------------------------------------------------------------
# ECB
# --------------------------------------------------------------------------


def ecb_encrypt(key: bytes, x, out=None, backend: str = "auto") -> np.ndarray:
    """AES-ECB of the ``(n, 16)`` rows of ``x`` under a 16- or 32-byte ``key``.

    Same bytes as ``cryptography``'s AES-ECB. ``backend``: ``"auto"`` (AES-NI
    kernel when available, OpenSSL otherwise), ``"native"`` (insist on it),
    ``"aesni"`` (no VAES), ``"fallback"`` (OpenSSL). Constant time on every
    path. ``out`` may alias ``x``.
    """
    key = check_key(key)
    x = as_blocks(x, name="x")
    out = out_blocks(out, x.shape[0])
    if not use_native(backend, HAVE_AESNI):
        return openssl_ecb(key, x, out)
    xv, ov = x.view(np.uint64), out.view(np.uint64)
    rk = _rk_array(key)
    done = ecb_vaes_loop(rk, xv, ov) if use_vaes(backend) else 0
    ecb_ni_loop(rk, xv[done:], ov[done:])
    return out


def expand_kernel_specs(key_bytes: int = 16) -> list:
    """The in-kernel key schedules :func:`round_keys_many` calls (none without AES-NI),
    for :func:`pqmpc.primitives.preload.preload`."""
    if not HAVE_AESNI:
        return []
    from .preload import arr

    k = _expand128_many if key_bytes == 16 else _expand256_many
    return [(k, (arr("uint64", 2), arr("uint64", 3))), (k, (arr("uint64", 2, True), arr("uint64", 3)))]
