"""X-Wing: the hybrid ML-KEM-768 + X25519 KEM (draft-connolly-cfrg-xwing-kem).

Every primitive comes from ``cryptography`` (OpenSSL): ML-KEM-768, X25519,
SHAKE-256 and SHA3-256. This module only arranges them as the draft says:

* a secret key is a 32-byte seed, expanded with SHAKE-256 to 96 bytes:
  bytes 0..63 are the ML-KEM-768 seed ``d ‖ z``, bytes 64..95 the X25519 key;
* a public key is ``pk_M (1184) ‖ pk_X (32)``, a ciphertext ``ct_M (1088) ‖ ct_X (32)``;
* the shared secret is ``SHA3-256(ss_M ‖ ss_X ‖ ct_X ‖ pk_X ‖ "\\./" "/^\\")``.

OpenSSL's ML-KEM encapsulation draws its own coins, so a derandomised
encapsulation (known-answer tests, seeded handshake vectors) needs an
``encaps_derand(pk_M, m) -> (ss_M, ct_M)`` supplied by the caller.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from ...errors import ParameterError, ProtocolError

LABEL = b"\\./" + b"/^\\"
assert LABEL.hex() == "5c2e2f2f5e5c"
SEED_BYTES = 32
PK_M_BYTES = 1184
CT_M_BYTES = 1088
PK_BYTES = PK_M_BYTES + 32
CT_BYTES = CT_M_BYTES + 32
SS_BYTES = 32
ESEED_BYTES = 64

EncapsDerand = Callable[[bytes, bytes], "tuple[bytes, bytes]"]


def _shake256(data: bytes, n: int) -> bytes:
    h = hashes.Hash(hashes.SHAKE256(n))
    h.update(data)
    return h.finalize()


def _sha3_256(*parts: bytes) -> bytes:
    h = hashes.Hash(hashes.SHA3_256())
    for p in parts:
        h.update(p)
    return h.finalize()


def combiner(ss_m: bytes, ss_x: bytes, ct_x: bytes, pk_x: bytes) -> bytes:
    return _sha3_256(ss_m, ss_x, ct_x, pk_x, LABEL)


class XWingPrivateKey:
    """An X-Wing decapsulation key held as its 32-byte seed (plus the expanded keys)."""

    __slots__ = ("_seed", "_sk_m", "_sk_x", "public_bytes", "_pk_x")

    def __init__(self, seed: bytes):
        seed = bytes(seed)
        if len(seed) != SEED_BYTES:
            raise ParameterError(f"an X-Wing secret key is {SEED_BYTES} bytes, got {len(seed)}")
        expanded = _shake256(seed, 96)
        self._seed = seed
        self._sk_m = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
        self._sk_x = x25519.X25519PrivateKey.from_private_bytes(expanded[64:96])
        self._pk_x = self._sk_x.public_key().public_bytes_raw()
        self.public_bytes = self._sk_m.public_key().public_bytes_raw() + self._pk_x

    @classmethod
    def generate(cls, seed: bytes | None = None) -> XWingPrivateKey:
        return cls(os.urandom(SEED_BYTES) if seed is None else seed)

    def seed_bytes(self) -> bytes:
        return self._seed

    def decapsulate(self, ct: bytes) -> bytes:
        if len(ct) != CT_BYTES:
            raise ProtocolError(f"X-Wing ciphertext must be {CT_BYTES} bytes, got {len(ct)}")
        ct = bytes(ct)
        ct_x = ct[CT_M_BYTES:]
        try:
            ss_m = self._sk_m.decapsulate(ct[:CT_M_BYTES])
            ss_x = self._sk_x.exchange(x25519.X25519PublicKey.from_public_bytes(ct_x))
        except (ValueError, InvalidKey) as exc:  # all-zero X25519 output and the like
            raise ProtocolError(f"X-Wing ciphertext rejected ({exc})") from None
        return combiner(ss_m, ss_x, ct_x, self._pk_x)


def check_public(pk: bytes) -> tuple[mlkem.MLKEM768PublicKey, x25519.X25519PublicKey]:
    if len(pk) != PK_BYTES:
        raise ProtocolError(f"X-Wing public key must be {PK_BYTES} bytes, got {len(pk)}")
    try:
        return (mlkem.MLKEM768PublicKey.from_public_bytes(bytes(pk[:PK_M_BYTES])),
                x25519.X25519PublicKey.from_public_bytes(bytes(pk[PK_M_BYTES:])))
    except ValueError as exc:  # ML-KEM's modulus check on the encapsulation key
        raise ProtocolError(f"X-Wing public key rejected ({exc})") from None


def encapsulate(pk: bytes, eseed: bytes | None = None,
                encaps_derand: EncapsDerand | None = None) -> tuple[bytes, bytes]:
    """``(ss, ct)`` for public key ``pk``; fresh coins unless ``eseed`` (64 bytes) is given."""
    pk = bytes(pk)
    pk_m, pk_x = check_public(pk)
    pk_x_bytes = pk[PK_M_BYTES:]
    if eseed is None:
        ek_x = x25519.X25519PrivateKey.generate()
        ss_m, ct_m = pk_m.encapsulate()
    else:
        if len(eseed) != ESEED_BYTES:
            raise ParameterError(f"X-Wing eseed is {ESEED_BYTES} bytes")
        if encaps_derand is None:
            raise ParameterError("derandomised X-Wing encapsulation needs an ML-KEM encaps_derand function")
        ek_x = x25519.X25519PrivateKey.from_private_bytes(bytes(eseed[32:64]))
        ss_m, ct_m = encaps_derand(pk[:PK_M_BYTES], bytes(eseed[:32]))
    ct_x = ek_x.public_key().public_bytes_raw()
    try:
        ss_x = ek_x.exchange(pk_x)
    except (ValueError, InvalidKey) as exc:
        raise ProtocolError(f"X-Wing public key rejected ({exc})") from None
    return combiner(ss_m, ss_x, ct_x, pk_x_bytes), ct_m + ct_x
