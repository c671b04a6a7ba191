"""NIST AES-256 CTR_DRBG as used by the NIST PQC known-answer-test generator.

SP 800-90A CTR_DRBG with AES-256, **no derivation function, no prediction
resistance**, a 48-byte seed (``seedlen`` = key 32 + block 16), exactly as in
the ``rng.c`` that NIST shipped with ``PQCgenKAT_kem.c`` for the PQC
submissions. It exists so that the Saber KEM here can be checked byte for byte
against the submission's KAT files:

* ``CtrDrbg(entropy_input)`` is ``randombytes_init(entropy_input, NULL, 256)``;
* ``drbg.bytes(n)`` (alias ``randombytes``) is one ``randombytes(n)`` call: it
  emits ``ceil(n/16)`` keystream blocks ``AES-256_K(V+1), AES-256_K(V+2), …``
  (``V`` a big-endian 128-bit counter), keeps the first ``n`` bytes and then
  runs ``Update`` with no additional input. Two calls are therefore *not* one
  contiguous stream.

The blocks ``V+1 … V+k`` followed by the three blocks ``Update`` needs are
exactly an AES-256-CTR keystream started at ``V+1`` (OpenSSL's CTR mode
increments the whole 128-bit block big-endian, wrapping mod 2^128), so each
call is one bulk OpenSSL call.

This generator is a test fixture for deterministic known answers. Protocols in
pqmpc take a :class:`pqmpc.rng.Rng`; a ``CtrDrbg`` offers the same ``bytes(n)``
method so the KEM can be driven by either. AES-256 keeps a 128-bit margin
against Grover search, so the construction is post-quantum in the usual sense;
no reseed counter limit is enforced because KAT use never approaches 2^48
requests. Python cannot promise constant time.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..errors import ParameterError

SEED_BYTES = 48
_KEY = 32
_BLOCK = 16
# SP 800-90A, table 3: at most 2^19 bits per request.
MAX_REQUEST_BYTES = 1 << 16


def _ctr_stream(key: bytes, v: bytes, nbytes: int) -> bytes:
    """Keystream AES_K(V+1) ‖ AES_K(V+2) ‖ … of ``nbytes`` (a multiple of 16)."""
    start = (int.from_bytes(v, "big") + 1) % (1 << 128)
    enc = Cipher(algorithms.AES256(key), modes.CTR(start.to_bytes(16, "big"))).encryptor()
    return enc.update(bytes(nbytes))


class CtrDrbg:
    """AES-256 CTR_DRBG without derivation function (NIST PQC ``randombytes``)."""

    __slots__ = ("_key", "_v", "reseed_counter")

    def __init__(self, entropy_input: bytes, personalization: bytes | None = None):
        entropy_input = bytes(entropy_input)
        if len(entropy_input) != SEED_BYTES:
            raise ParameterError(f"CTR_DRBG entropy input must be {SEED_BYTES} bytes, got {len(entropy_input)}")
        material = entropy_input
        if personalization is not None:
            personalization = bytes(personalization)
            if len(personalization) != SEED_BYTES:
                raise ParameterError(f"CTR_DRBG personalization must be {SEED_BYTES} bytes, got {len(personalization)}")
            material = bytes(a ^ b for a, b in zip(entropy_input, personalization))
        self._key = bytes(_KEY)
        self._v = bytes(_BLOCK)
        self._update(material)
        self.reseed_counter = 1

    def _update(self, provided: bytes) -> None:
        temp = _ctr_stream(self._key, self._v, SEED_BYTES)
        temp = (int.from_bytes(temp, "big") ^ int.from_bytes(provided, "big")).to_bytes(SEED_BYTES, "big")
        self._key, self._v = temp[:_KEY], temp[_KEY:]

    def bytes(self, n: int) -> bytes:
        """One ``randombytes(n)`` call: ``n`` output bytes, then ``Update``."""
        n = int(n)
        if n < 0 or n > MAX_REQUEST_BYTES:
            raise ParameterError(f"CTR_DRBG request must be 0..{MAX_REQUEST_BYTES} bytes, got {n}")
        nblocks = -(-n // _BLOCK)
        stream = _ctr_stream(self._key, self._v, nblocks * _BLOCK + SEED_BYTES)
        out = stream[:n]
        # The Update with empty additional input encrypts the next three counters,
        # which are the tail of the same CTR stream.
        temp = stream[nblocks * _BLOCK:]
        self._key, self._v = temp[:_KEY], temp[_KEY:]
        self.reseed_counter += 1
        return out

    randombytes = bytes

    @classmethod
    def kat_master(cls) -> "CtrDrbg":
        """The master generator of ``PQCgenKAT_kem.c``: entropy input 00 01 … 2f."""
        return cls(bytes(range(SEED_BYTES)))


def kat_seeds(count: int) -> list[bytes]:
    """The first ``count`` 48-byte per-record seeds of the NIST PQC KAT files."""
    master = CtrDrbg.kat_master()
    return [master.bytes(SEED_BYTES) for _ in range(count)]
