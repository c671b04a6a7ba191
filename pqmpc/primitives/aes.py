"""AES in bulk through OpenSSL (AES-NI): fixed-key permutation, ECB, CTR.

Every call takes all ``n`` blocks at once and writes with ``update_into``
into a preallocated buffer: the allocating ``update`` is ~10x slower at
these sizes (see the performance notes in docs/).
"""

from __future__ import annotations

import threading

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..errors import ParameterError

#: Public fixed key of the permutation π (first half of
#: SHA-256("pqmpc fixed-key AES permutation v1")). Fixed-key hashing models AES
#: under a public key as a random permutation, so the key is not secret.
DEFAULT_KEY = bytes.fromhex("433de2b3262a79f5cd44e57b70cf9efe")


def as_blocks(x, width: int = 16, name: str = "blocks") -> np.ndarray:
    """Check and return ``x`` as a C-contiguous ``(n, width)`` uint8 array."""
    x = np.asarray(x)
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != width:
        raise ParameterError(f"{name} must be a (n, {width}) uint8 array, got {x.dtype} {x.shape}")
    return np.ascontiguousarray(x)


def _cipher(key: bytes):
    if len(key) not in (16, 32):
        raise ParameterError(f"AES key must be 16 or 32 bytes, got {len(key)}")
    return algorithms.AES(key)


class _Encryptor:
    """A per-thread OpenSSL context (contexts are not safe to share across threads)."""

    def __init__(self, key: bytes, mode):
        self._algo = _cipher(key)
        self._mode = mode
        self._local = threading.local()

    def get(self):
        enc = getattr(self._local, "enc", None)
        if enc is None:
            enc = self._local.enc = Cipher(self._algo, self._mode).encryptor()
        return enc


def ecb_into(encryptor, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Encrypt all rows of ``x`` (n, 16) into ``out`` (n, 16) with one OpenSSL call."""
    n = x.shape[0]
    src = x.reshape(-1)
    # update_into needs 15 spare bytes beyond the data: allocate them with a
    # fresh result, or go through a scratch buffer when ``out`` is given.
    if out is None:
        buf = np.empty(src.size + 16, dtype=np.uint8)
        if n:
            encryptor.update_into(src, buf)
        return buf[:src.size].reshape(n, 16)
    if n:
        scratch = np.empty(src.size + 16, dtype=np.uint8)
        encryptor.update_into(src, scratch)
        out.reshape(-1)[:] = scratch[:src.size]
    return out


class FixedKeyAES:
    """The permutation π(x) = AES_k(x) under a public key, over many blocks.

    A 16-byte key gives AES-128, a 32-byte key AES-256 (still 16-byte
    blocks). Instances are safe to share between threads.
    """

    def __init__(self, key: bytes | None = None):
        self.key = DEFAULT_KEY if key is None else bytes(key)
        self._enc = _Encryptor(self.key, modes.ECB())

    def permute(self, x, out: np.ndarray | None = None) -> np.ndarray:
        x = as_blocks(x)
        return ecb_into(self._enc.get(), x, out)

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
    """AES-ECB encryption of ``(n, 16)`` blocks under ``key`` (16 or 32 bytes)."""
    blocks = as_blocks(blocks)
    return ecb_into(Cipher(_cipher(key), modes.ECB()).encryptor(), blocks)


def aes_ctr(key: bytes, nbytes: int, nonce: bytes = bytes(16)) -> np.ndarray:
    """``nbytes`` of AES-CTR keystream (initial counter block ``nonce``)."""
    enc = Cipher(_cipher(key), modes.CTR(nonce)).encryptor()
    out = np.zeros(nbytes + 15, dtype=np.uint8)
    if nbytes:
        enc.update_into(out[:nbytes], out)
    return out[:nbytes]


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
