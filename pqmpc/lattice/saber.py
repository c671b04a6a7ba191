"""Saber KEM (round-3 NIST submission): LightSaber, Saber, FireSaber.

Saber is a module-learning-with-rounding (Mod-LWR) KEM over
R_q = Z_{2^13}[x]/(x^256 + 1) with module rank ``l`` = 2, 3, 4. This module
follows the round-3 specification (D'Anvers, Karmakar, Roy, Vercauteren et
al., "SABER: Mod-LWR based KEM", round-3 document, 2020) and its public-domain
reference implementation (KULeuven-COSIC/SABER): the IND-CPA PKE
(``GenMatrix`` from SHAKE-128, binomial secrets, rounding q → p → T) wrapped
by the Fujisaki–Okamoto transform with SHA3-256/512 and implicit rejection.
It reproduces the submission's KAT files byte for byte (pk, sk, ct, ss of all
100 records of all three variants; see ``tests/lattice/test_saber_kat.py``).

All randomness is explicit: :meth:`SaberKEM.keypair` and
:meth:`SaberKEM.encaps` read it from an object with a ``bytes(n)`` method (a
:class:`pqmpc.rng.Rng`, or the NIST :class:`pqmpc.lattice.drbg.CtrDrbg` for
KATs), in the same order and sizes as the reference ``randombytes`` calls;
the ``*_derand`` functions take the raw coins.

Security: IND-CCA2 in the (quantum) random-oracle model assuming Mod-LWR is
hard; this is believed post-quantum. Saber was a NIST round-3 finalist but was
not selected for standardisation — ML-KEM is the standard. The rounding,
packing and FFT multiply are numpy array operations without secret-dependent
branches, but Python cannot promise constant time, so do not expose these
keys to timing attackers.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError
from . import saber_poly as sp
from .saber_poly import EP, EQ, N

SEED_BYTES = 32
NOISE_SEED_BYTES = 32
KEY_BYTES = 32
HASH_BYTES = 32


@dataclass(frozen=True)
class SaberParams:
    """One Saber parameter set; sizes in bytes follow the reference ``SABER_params.h``."""

    name: str
    l: int  # module rank
    mu: int  # binomial parameter: secrets in [-mu/2, mu/2]
    et: int  # log2 T, the ciphertext's second-component modulus

    @property
    def polyvec_q_bytes(self) -> int:
        return self.l * EQ * N // 8

    @property
    def polyvec_p_bytes(self) -> int:
        return self.l * EP * N // 8

    @property
    def scale_bytes(self) -> int:
        return self.et * N // 8

    @property
    def coin_bytes(self) -> int:
        """SHAKE-128 output per secret polynomial."""
        return self.mu * N // 8

    @property
    def public_key_bytes(self) -> int:
        return self.polyvec_p_bytes + SEED_BYTES

    @property
    def cpa_secret_key_bytes(self) -> int:
        return self.polyvec_q_bytes

    @property
    def secret_key_bytes(self) -> int:
        return self.cpa_secret_key_bytes + self.public_key_bytes + HASH_BYTES + KEY_BYTES

    @property
    def ciphertext_bytes(self) -> int:
        return self.polyvec_p_bytes + self.scale_bytes

    @property
    def h1(self) -> int:
        return 1 << (EQ - EP - 1)

    @property
    def h2(self) -> int:
        return (1 << (EP - 2)) - (1 << (EP - self.et - 1)) + (1 << (EQ - EP - 1))


LIGHTSABER = SaberParams("LightSaber", l=2, mu=10, et=3)
SABER = SaberParams("Saber", l=3, mu=8, et=4)
FIRESABER = SaberParams("FireSaber", l=4, mu=6, et=6)
VARIANTS = {p.name: p for p in (LIGHTSABER, SABER, FIRESABER)}


def get_params(variant: str | SaberParams) -> SaberParams:
    if isinstance(variant, SaberParams):
        return variant
    try:
        return VARIANTS[variant]
    except (KeyError, TypeError):
        raise ParameterError(f"unknown Saber variant {variant!r}; choose one of {', '.join(VARIANTS)}") from None


# --------------------------------------------------------------------------- sampling

def gen_matrix(params: SaberParams, seed_a: bytes) -> np.ndarray:
    """``A`` as ``(l, l, 256)`` int64 in [0, q): SHAKE-128(seed_A), 13-bit coefficients.

    Polynomial ``A[i][j]`` is the ``(i*l + j)``-th 416-byte chunk of the stream.
    """
    l = params.l
    stream = hashlib.shake_128(bytes(seed_a)).digest(l * params.polyvec_q_bytes)
    buf = np.frombuffer(stream, dtype=np.uint8).reshape(l, l, EQ * N // 8)
    return sp.unpack(buf, EQ)


def gen_secret(params: SaberParams, seed_s: bytes) -> np.ndarray:
    """Secret vector ``(l, 256)`` int64 in [-mu/2, mu/2] from SHAKE-128(seed_s)."""
    stream = hashlib.shake_128(bytes(seed_s)).digest(params.l * params.coin_bytes)
    buf = np.frombuffer(stream, dtype=np.uint8).reshape(params.l, params.coin_bytes)
    return sp.cbd(buf, params.mu)


def secrets_from_bytes(params: SaberParams, coins: np.ndarray) -> np.ndarray:
    """Batched secrets straight from random bytes ``(..., l * coin_bytes)`` → ``(..., l, 256)``.

    Same distribution as :func:`gen_secret`; protocols that do not need KAT
    compatibility draw all coins for a batch in one ``Rng`` call instead of one
    SHAKE call per secret.
    """
    c = np.asarray(coins, dtype=np.uint8)
    return sp.cbd(c.reshape(*c.shape[:-1], params.l, params.coin_bytes), params.mu)


# --------------------------------------------------------------------------- CPA PKE

def matrix_freq(a: np.ndarray) -> np.ndarray:
    """Frequency-domain form of ``A`` (centred first, which keeps the FFT exact)."""
    return sp.to_freq(a, EQ)


def cpa_keypair_derand(params: SaberParams, seed_a: bytes, seed_s: bytes) -> tuple[bytes, bytes]:
    """IND-CPA key pair; ``seed_a`` is the already hashed public seed."""
    a_f = matrix_freq(gen_matrix(params, seed_a))
    s = gen_secret(params, seed_s)
    b = sp.round_q_to_p(sp.from_freq(sp.matvec_freq(a_f, sp.to_freq(s), transpose=True), EQ))
    pk = sp.pack(b, EP).tobytes() + bytes(seed_a)
    sk = sp.pack(s & (sp.Q - 1), EQ).tobytes()
    return pk, sk


def cpa_encrypt_derand(params: SaberParams, m: bytes, seed_sp: bytes, pk: bytes) -> bytes:
    """IND-CPA encryption of the 32-byte message ``m`` with noise seed ``seed_sp``."""
    l = params.l
    seed_a = pk[params.polyvec_p_bytes:]
    a_f = matrix_freq(gen_matrix(params, seed_a))
    s1 = gen_secret(params, seed_sp)
    s1_f = sp.to_freq(s1)
    bp = sp.round_q_to_p(sp.from_freq(sp.matvec_freq(a_f, s1_f, transpose=False), EQ))
    b = sp.unpack(np.frombuffer(pk, dtype=np.uint8, count=params.polyvec_p_bytes).reshape(l, -1), EP)
    vp = sp.from_freq(sp.inner_freq(sp.to_freq(b, EP), s1_f), EP)
    mp = sp.unpack(np.frombuffer(m, dtype=np.uint8), 1)
    cm = ((vp - (mp << (EP - 1)) + params.h1) & (sp.P - 1)) >> (EP - params.et)
    return sp.pack(bp, EP).tobytes() + sp.pack(cm, params.et).tobytes()


def cpa_decrypt(params: SaberParams, sk_cpa: bytes, ct: bytes) -> bytes:
    """IND-CPA decryption → 32-byte message."""
    l = params.l
    s_packed = np.frombuffer(sk_cpa, dtype=np.uint8, count=params.polyvec_q_bytes).reshape(l, -1)
    s = sp.centered(sp.unpack(s_packed, EQ), EQ)
    b = sp.unpack(np.frombuffer(ct, dtype=np.uint8, count=params.polyvec_p_bytes).reshape(l, -1), EP)
    cm = sp.unpack(np.frombuffer(ct, dtype=np.uint8, offset=params.polyvec_p_bytes), params.et)
    v = sp.from_freq(sp.inner_freq(sp.to_freq(b, EP), sp.to_freq(s)), EP)
    bits = ((v + params.h2 - (cm << (EP - params.et))) & (sp.P - 1)) >> (EP - 1)
    return sp.pack(bits, 1).tobytes()


# --------------------------------------------------------------------------- CCA KEM

def _sha3_256(data: bytes) -> bytes:
    return hashlib.sha3_256(data).digest()


def keypair_derand(params: SaberParams, seed_a_raw: bytes, seed_s: bytes, z: bytes) -> tuple[bytes, bytes]:
    """KEM key pair from the three 32-byte ``randombytes`` draws of the reference code.

    The public seed is published as SHAKE-128(seed_a_raw) so that the raw
    generator output is never revealed.
    """
    _check_len("seed_a", seed_a_raw, SEED_BYTES)
    _check_len("seed_s", seed_s, NOISE_SEED_BYTES)
    _check_len("z", z, KEY_BYTES)
    seed_a = hashlib.shake_128(bytes(seed_a_raw)).digest(SEED_BYTES)
    pk, sk_cpa = cpa_keypair_derand(params, seed_a, bytes(seed_s))
    return pk, sk_cpa + pk + _sha3_256(pk) + bytes(z)


def encaps_derand(params: SaberParams, pk: bytes, coins: bytes) -> tuple[bytes, bytes]:
    """Encapsulation with the 32-byte ``randombytes`` draw ``coins`` → ``(ct, ss)``."""
    _check_len("public key", pk, params.public_key_bytes)
    _check_len("coins", coins, 32)
    pk = bytes(pk)
    m = _sha3_256(bytes(coins))
    kr = hashlib.sha3_512(m + _sha3_256(pk)).digest()
    ct = cpa_encrypt_derand(params, m, kr[32:], pk)
    ss = _sha3_256(kr[:32] + _sha3_256(ct))
    return ct, ss


def decaps(params: SaberParams, sk: bytes, ct: bytes) -> bytes:
    """Decapsulation with implicit rejection (a bad ``ct`` yields a pseudo-random key)."""
    _check_len("secret key", sk, params.secret_key_bytes)
    _check_len("ciphertext", ct, params.ciphertext_bytes)
    sk, ct = bytes(sk), bytes(ct)
    o = params.cpa_secret_key_bytes
    pk = sk[o:o + params.public_key_bytes]
    hpk = sk[o + params.public_key_bytes:o + params.public_key_bytes + HASH_BYTES]
    z = sk[-KEY_BYTES:]
    m = cpa_decrypt(params, sk[:o], ct)
    kr = hashlib.sha3_512(m + hpk).digest()
    ct2 = cpa_encrypt_derand(params, m, kr[32:], pk)
    prefix = kr[:32] if hmac.compare_digest(ct, ct2) else z
    return _sha3_256(prefix + _sha3_256(ct))


def _check_len(what: str, data, size: int) -> None:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ParameterError(f"Saber {what} must be bytes, not {type(data).__name__}")
    if len(data) != size:
        raise ParameterError(f"Saber {what} must be {size} bytes, got {len(data)}")


class SaberKEM:
    """Saber KEM object: ``keypair``, ``encaps``, ``decaps`` for one variant.

    ``rng`` is anything with ``bytes(n)``: a :class:`pqmpc.rng.Rng` (``None``
    means OS-seeded) or a :class:`pqmpc.lattice.drbg.CtrDrbg`, which
    reproduces the NIST KAT records.
    """

    def __init__(self, variant: str = "LightSaber"):
        self.params = get_params(variant)

    @property
    def name(self) -> str:
        return self.params.name

    def keypair(self, rng=None) -> tuple[bytes, bytes]:
        rng = _ensure(rng)
        seed_a = rng.bytes(SEED_BYTES)
        seed_s = rng.bytes(NOISE_SEED_BYTES)
        z = rng.bytes(KEY_BYTES)
        return keypair_derand(self.params, seed_a, seed_s, z)

    def encaps(self, pk: bytes, rng=None) -> tuple[bytes, bytes]:
        return encaps_derand(self.params, pk, _ensure(rng).bytes(32))

    def decaps(self, sk: bytes, ct: bytes) -> bytes:
        return decaps(self.params, sk, ct)


def _ensure(rng):
    if rng is None:
        from ..rng import Rng

        return Rng()
    if not callable(getattr(rng, "bytes", None)):
        raise ParameterError("rng must offer bytes(n) (a pqmpc.Rng or a CtrDrbg)")
    return rng
