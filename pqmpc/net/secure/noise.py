"""Noise symmetric state (Noise spec rev. 34, section 5) with the PQNoise KEM tokens.

Hash SHA-512 (HASHLEN 64), cipher AES-256-GCM, both through ``cryptography``.
``hkdf`` is Noise's HKDF, which is RFC 5869 HKDF with ``salt = ck`` and an
empty ``info``, so it is computed by ``cryptography``'s HKDF.
"""

from __future__ import annotations

import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HASHLEN = 64
KEYLEN = 32
TAGLEN = 16
MAX_NONCE = (1 << 64) - 1  # reserved by Noise for rekeying
_NONCE = struct.Struct(">4xQ")  # AESGCM nonce: 32 zero bits, 64-bit big-endian counter
_ZEROS = bytes(KEYLEN)


def sha512(*parts) -> bytes:
    h = hashes.Hash(hashes.SHA512())
    for p in parts:
        h.update(p)
    return h.finalize()


def hkdf(ck: bytes, ikm: bytes, n: int) -> list[bytes]:
    out = HKDF(algorithm=hashes.SHA512(), length=HASHLEN * n, salt=ck, info=b"").derive(ikm)
    return [out[i * HASHLEN:(i + 1) * HASHLEN] for i in range(n)]


class DecryptFailed(Exception):
    """An AEAD tag did not verify (the caller turns it into the right pqmpc error)."""


class CipherState:
    """One AEAD key and its nonce counter (Noise section 5.1)."""

    __slots__ = ("aead", "k", "n")

    def __init__(self, k: bytes | None = None):
        self.initialize_key(k)

    def initialize_key(self, k: bytes | None) -> None:
        self.k = k
        self.aead = None if k is None else AESGCM(k)
        self.n = 0

    def has_key(self) -> bool:
        return self.k is not None

    def _next_nonce(self) -> bytes:
        if self.n >= MAX_NONCE:
            raise OverflowError("nonce space exhausted")  # unreachable: records rekey long before
        nonce = _NONCE.pack(self.n)
        self.n += 1
        return nonce

    def encrypt_with_ad(self, ad: bytes, plaintext: bytes) -> bytes:
        if self.aead is None:
            return bytes(plaintext)
        return self.aead.encrypt(self._next_nonce(), bytes(plaintext), ad)

    def decrypt_with_ad(self, ad: bytes, ciphertext: bytes) -> bytes:
        if self.aead is None:
            return bytes(ciphertext)
        nonce = _NONCE.pack(self.n)
        try:
            out = self.aead.decrypt(nonce, bytes(ciphertext), ad)
        except InvalidTag:
            raise DecryptFailed() from None
        self.n += 1  # only a successful decryption advances (Noise 5.1)
        return out

    def encrypt_into(self, ad, plaintext, out) -> None:
        self.aead.encrypt_into(self._next_nonce(), plaintext, ad, out)

    def decrypt_into(self, ad, ciphertext, out) -> None:
        try:
            self.aead.decrypt_into(_NONCE.pack(self.n), ciphertext, ad, out)
        except InvalidTag:
            raise DecryptFailed() from None
        self.n += 1

    def rekey(self) -> None:
        """Noise's Rekey(): k = first 32 bytes of ENCRYPT(k, 2^64 - 1, empty, zeros); n is kept."""
        new = self.aead.encrypt(_NONCE.pack(MAX_NONCE), _ZEROS, b"")[:KEYLEN]
        n = self.n
        self.initialize_key(new)
        self.n = n


class SymmetricState:
    """ck, h and the handshake CipherState (Noise section 5.2)."""

    def __init__(self, protocol_name: bytes):
        self.h = protocol_name.ljust(HASHLEN, b"\0") if len(protocol_name) <= HASHLEN else sha512(protocol_name)
        self.ck = self.h
        self.cs = CipherState()

    def mix_key(self, ikm: bytes) -> None:
        self.ck, temp_k = hkdf(self.ck, ikm, 2)
        self.cs.initialize_key(temp_k[:KEYLEN])

    def mix_hash(self, data: bytes) -> None:
        self.h = sha512(self.h, data)

    def mix_key_and_hash(self, ikm: bytes) -> None:
        self.ck, temp_h, temp_k = hkdf(self.ck, ikm, 3)
        self.mix_hash(temp_h)
        self.cs.initialize_key(temp_k[:KEYLEN])

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        ct = self.cs.encrypt_with_ad(self.h, plaintext)
        self.mix_hash(ct)
        return ct

    def decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        pt = self.cs.decrypt_with_ad(self.h, ciphertext)
        self.mix_hash(ciphertext)
        return pt

    def overhead(self) -> int:
        """Bytes EncryptAndHash adds right now (a tag once a key is set)."""
        return TAGLEN if self.cs.has_key() else 0

    def split(self) -> tuple[CipherState, CipherState]:
        k1, k2 = hkdf(self.ck, b"", 2)
        return CipherState(k1[:KEYLEN]), CipherState(k2[:KEYLEN])
