"""Post-quantum authenticated, encrypted channel (docs/secure-channel.md).

A PQNoise handshake (pqKK with pinned X-Wing identity keys, pqNNpsk0 with a
pre-shared key, or pqKKpsk0 with both) followed by AES-256-GCM records, all
primitives from ``cryptography``.
"""

from .channel import RECORD_BYTES, REKEY_RECORDS, SecureChannel
from .keys import Identity, PublicKey, fingerprint, generate_psk, load_psk, save_psk

__all__ = ["SecureChannel", "Identity", "PublicKey", "fingerprint", "generate_psk", "load_psk", "save_psk",
           "RECORD_BYTES", "REKEY_RECORDS"]
