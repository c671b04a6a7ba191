"""AES in bulk through OpenSSL (``cryptography``): fixed-key permutation, ECB, CTR, key schedule.

OpenSSL is constant time and hardware accelerated wherever it runs (AES-NI
on x86, the ARMv8 crypto extensions on ARM), so it is the path for every
secret key or secret block on a CPU where numba cannot issue AES-NI.

Every call takes all ``n`` blocks at once and writes with ``update_into``
into a preallocated buffer: the allocating ``update`` is ~10x slower at
these sizes (see the performance notes in docs/).
"""

from __future__ import annotations

import threading

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..errors import ParameterError
from .blocks import as_blocks, check_key, out_blocks

__all__ = ["DEFAULT_KEY", "FixedKeyAES", "aes_ctr", "aes_ecb", "as_blocks", "cbc_mac", "ctr_keystream_into",
           "default_permutation", "ecb_into", "expand_key", "openssl_ecb", "sbox_table"]

#: Public fixed key of the permutation π (first half of
#: SHA-256("pqmpc fixed-key AES permutation v1")). Fixed-key hashing models AES
#: under a public key as a random permutation, so the key is not secret.
DEFAULT_KEY = bytes.fromhex("433de2b3262a79f5cd44e57b70cf9efe")

_TLS = threading.local()


def _ecb_context(key: bytes):
    # OpenSSL contexts are not safe to share between threads: one per thread and key.
    encs = getattr(_TLS, "encs", None)
    if encs is None:
        encs = _TLS.encs = {}
    enc = encs.get(key)
    if enc is None:
        if len(encs) > 64:
            encs.clear()
        enc = encs[key] = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc


def _ecb_update(enc, x: np.ndarray, out: np.ndarray) -> np.ndarray:
    # ``update_into`` wants 15 spare output bytes; rather than going through a
    # scratch copy of the whole batch, all blocks but the last are written in
    # place (n-1 blocks + 15 bytes fit in n blocks) and the last goes through
    # a 32-byte buffer.
    n = x.shape[0]
    if n == 0:
        return out
    src, dst = x.reshape(-1), out.reshape(-1)
    if n > 1:
        enc.update_into(src[:-16], dst)
    tail = np.empty(32, dtype=np.uint8)
    enc.update_into(src[-16:], tail)
    dst[-16:] = tail[:16]
    return out


def openssl_ecb(key: bytes, x, out: np.ndarray | None = None) -> np.ndarray:
    """AES-ECB of all ``(n, 16)`` rows of ``x`` under ``key`` (16 or 32 bytes), one OpenSSL call.

    The one OpenSSL ECB wrapper of the package: constant time, any CPU.
    ``out`` may alias ``x``. Contexts are cached per thread and key.
    """
    key = check_key(key)
    x = as_blocks(x, name="x")
    out = out_blocks(out, x.shape[0])
    return _ecb_update(_ecb_context(key), x, out)


def ecb_into(encryptor, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Encrypt all rows of ``x`` (n, 16) with a caller's ``cryptography`` ECB encryptor into ``out``."""
    x = as_blocks(x, name="x")
    return _ecb_update(encryptor, x, out_blocks(out, x.shape[0]))


class FixedKeyAES:
    """The permutation π(x) = AES_k(x) under a public key, over many blocks.

    A 16-byte key gives AES-128, a 32-byte key AES-256 (still 16-byte
    blocks). Instances are safe to share between threads.
    """

    def __init__(self, key: bytes | None = None):
        self.key = DEFAULT_KEY if key is None else check_key(key)

    def permute(self, x, out: np.ndarray | None = None) -> np.ndarray:
        return openssl_ecb(self.key, x, out)

    __call__ = permute

    def round_keys(self) -> np.ndarray:
        """The expanded encryption key schedule as ``(rounds + 1, 16)`` uint8."""
        return expand_key(self.key)


_DEFAULT = None


def default_permutation() -> FixedKeyAES:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = FixedKeyAES()
    return _DEFAULT


def aes_ecb(key: bytes, blocks) -> np.ndarray:
    """AES-ECB encryption of ``(n, 16)`` blocks under ``key`` (16 or 32 bytes), through OpenSSL."""
    return openssl_ecb(key, blocks)


def ctr_keystream_into(enc, out: np.ndarray, zeros: np.ndarray | None = None) -> np.ndarray:
    """Continue the keystream of the ``cryptography`` CTR encryptor ``enc`` into the 1-D uint8 ``out``.

    The one place the package drives OpenSSL's CTR mode (:func:`aes_ctr` and
    :mod:`.prg` both come here). ``zeros``: an optional zero buffer at least
    ``out.size`` long to encrypt, so repeated calls do not re-allocate it.
    """
    n = out.size
    if n == 0:
        return out
    if zeros is None or zeros.size < n:
        zeros = np.zeros(n, dtype=np.uint8)
    # Same 15-spare-bytes rule as ECB; CTR is a stream, so the split point is free.
    head = n - 16 if n > 16 else 0
    if head:
        enc.update_into(zeros[:head], out)
    tail = np.empty(n - head + 16, dtype=np.uint8)
    enc.update_into(zeros[:n - head], tail)
    out[head:] = tail[:n - head]
    return out


def aes_ctr(key: bytes, nbytes: int, nonce: bytes = bytes(16)) -> np.ndarray:
    """``nbytes`` of AES-CTR keystream (initial counter block ``nonce``, 128-bit big-endian counter)."""
    enc = Cipher(algorithms.AES(check_key(key)), modes.CTR(bytes(nonce))).encryptor()
    return ctr_keystream_into(enc, np.empty(nbytes, dtype=np.uint8))


def cbc_mac(key: bytes, blocks, starts) -> np.ndarray:
    """CBC-MAC (zero IV, no padding of its own) of many messages at once, through OpenSSL.

    ``blocks``: ``(m, 16)`` uint8, the blocks of all messages one after the
    other; message ``i`` is ``blocks[starts[i]:starts[i + 1]]`` (``starts``:
    ``(n + 1,)`` non-decreasing, ``starts[0] == 0``, ``starts[n] == m``). Returns
    ``(n, 16)``; an empty message gives the zero block. One bulk OpenSSL call per
    block position (all messages still running take that step together), so
    the cost is ``max length`` calls, not one per message. Encoding the
    messages prefix-free (e.g. a length block first) is the caller's job.
    """
    key = check_key(key)
    blocks = as_blocks(blocks, name="blocks")
    starts = np.asarray(starts, dtype=np.int64)
    if starts.ndim != 1 or starts.size < 1 or starts[0] != 0 or starts[-1] != blocks.shape[0] \
            or np.any(np.diff(starts) < 0):
        raise ParameterError("starts must be (n + 1,) non-decreasing offsets from 0 to the number of blocks")
    n = starts.size - 1
    lengths = np.diff(starts)
    state = np.zeros((n, 16), dtype=np.uint8)
    # Longest messages first, so the messages still running at step p are a prefix of the order.
    order = np.argsort(-lengths, kind="stable")
    run = state[order]
    first = starts[:-1][order]
    left = lengths[order]
    enc = _ecb_context(key)
    for p in range(int(left[0]) if n else 0):
        k = int(np.searchsorted(-left, -p, side="left"))  # left[:k] > p
        cur = run[:k]
        cur ^= blocks[first[:k] + p]
        _ecb_update(enc, cur, cur)
    state[order] = run
    return state


_SBOX = None


def sbox_table() -> np.ndarray:
    """The AES S-box (FIPS 197) as a 256-entry uint8 table."""
    return _sbox()


def _sbox() -> np.ndarray:
    global _SBOX
    if _SBOX is None:
        # Derived (not tabulated) from the GF(2^8) inverse and the affine map of FIPS 197.
        inv = [0] * 256
        for a in range(1, 256):
            for b in range(1, 256):
                if _gmul(a, b) == 1:
                    inv[a] = b
                    break
        box = []
        for a in range(256):
            b = inv[a]
            s = b
            for k in range(1, 5):
                s ^= ((b << k) | (b >> (8 - k))) & 0xFF
            box.append(s ^ 0x63)
        _SBOX = np.array(box, dtype=np.uint8)
    return _SBOX


def _gmul(a: int, b: int) -> int:
    r = 0
    while b:
        if b & 1:
            r ^= a
        a = ((a << 1) ^ 0x1B) & 0xFF if a & 0x80 else a << 1
        b >>= 1
    return r


def expand_key(key: bytes) -> np.ndarray:
    """FIPS 197 key expansion: ``(11, 16)`` for AES-128, ``(15, 16)`` for AES-256.

    Kernels that run AES rounds themselves (AES-NI in numba) need the round
    keys; OpenSSL keeps its own inside the context.
    """
    nk = len(key) // 4
    if len(key) not in (16, 32):
        raise ParameterError("AES key must be 16 or 32 bytes")
    rounds = nk + 6
    sbox = _sbox()
    words = [list(key[4 * i:4 * i + 4]) for i in range(nk)]
    rcon = 1
    for i in range(nk, 4 * (rounds + 1)):
        t = list(words[i - 1])
        if i % nk == 0:
            t = [sbox[b] for b in t[1:] + t[:1]]
            t[0] ^= rcon
            rcon = _gmul(rcon, 2)
        elif nk > 6 and i % nk == 4:
            t = [sbox[b] for b in t]
        words.append([a ^ int(b) for a, b in zip(words[i - nk], t)])
    return np.array(words, dtype=np.uint8).reshape(rounds + 1, 16)
