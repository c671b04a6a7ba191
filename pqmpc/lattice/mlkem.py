"""ML-KEM (FIPS 203): reference KEM and batched forms, in numpy and numba.

All three parameter sets (ML-KEM-512/768/1024) are implemented from FIPS 203:
K-PKE (Algorithms 13–15) and the internal ML-KEM functions (Algorithms 16–18)
with explicit randomness ``d``, ``z`` (key generation) and ``m`` (encapsulation),
so runs are reproducible.  Decapsulation uses implicit rejection: a bad
ciphertext yields J(z ‖ c), never an error.  Encapsulation enforces the FIPS 203
modulus check (every 12-bit coefficient of ``ek`` must be < q); decapsulation
enforces the hash check on ``dk``.

Every function has a batched form over ``n`` keys/ciphertexts (rows of uint8
arrays).  The matrix Â is sampled once per distinct ρ in a batch, so keys that
share ρ (see :func:`keygen_shared_rho`, used by the Masny–Rindal OT) share the
expensive SHAKE-128 sampling.

For the OT, public keys are also a group: ``t̂`` (NTT domain, k·256 values mod q)
with coefficient-wise addition, plus :func:`hash_to_key`, a SHAKE-128 map from
bytes to uniform ``t̂``.  An honest ``ek`` is computationally indistinguishable
from a uniform one under Module-LWE, which is what makes the OT work.

Security: ML-KEM is IND-CCA2 under Module-LWE (post-quantum) in the (Q)ROM.  This
implementation is for correctness and batching, not side channels: Python and
numba cannot promise constant time, and the implicit-rejection compare runs over
numpy arrays whose timing is not guaranteed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..errors import ParameterError
from . import mlkem_keccak as kc
from . import mlkem_poly as poly

Q = poly.Q
N = poly.N


@dataclass(frozen=True)
class MLKEMParams:
    """One FIPS 203 parameter set (Table 2)."""

    name: str
    k: int
    eta1: int
    eta2: int
    du: int
    dv: int

    @property
    def t_bytes(self) -> int:
        """Bytes of ByteEncode12(t̂): the part of ``ek`` that forms the key group."""
        return 384 * self.k

    @property
    def ek_bytes(self) -> int:
        return 384 * self.k + 32

    @property
    def dk_bytes(self) -> int:
        return 768 * self.k + 96

    @property
    def ct_bytes(self) -> int:
        return 32 * (self.du * self.k + self.dv)


PARAMS = {
    "ML-KEM-512": MLKEMParams("ML-KEM-512", 2, 3, 2, 10, 4),
    "ML-KEM-768": MLKEMParams("ML-KEM-768", 3, 2, 2, 10, 4),
    "ML-KEM-1024": MLKEMParams("ML-KEM-1024", 4, 2, 2, 11, 5),
}
VARIANTS = tuple(PARAMS)


def get_params(variant: "str | MLKEMParams") -> MLKEMParams:
    if isinstance(variant, MLKEMParams):
        return variant
    try:
        return PARAMS[variant]
    except (KeyError, TypeError):
        raise ParameterError(f"unknown ML-KEM variant {variant!r}; choose one of {', '.join(VARIANTS)}") from None


# ---------------------------------------------------------------- helpers


def _rows(x, width: int, what: str) -> np.ndarray:
    """Coerce bytes or an (n, width) array into a C-contiguous (n, width) uint8 array."""
    if isinstance(x, (bytes, bytearray, memoryview)):
        # A writable copy: read-only arrays would make numba compile a second specialization.
        x = np.frombuffer(bytearray(x), dtype=np.uint8).reshape(1, -1)
    a = np.ascontiguousarray(x, dtype=np.uint8)
    if a.ndim == 1:
        a = a.reshape(1, -1)
    if a.ndim != 2 or a.shape[1] != width:
        raise ParameterError(f"{what}: expected rows of {width} bytes, got shape {a.shape}")
    return a


def _cat(*parts: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.concatenate(parts, axis=1))


def _prf_vec(seed: np.ndarray, eta: int, first_nonce: int, count: int) -> np.ndarray:
    """``count`` CBD_η polynomials from PRF(seed, N) for N = first_nonce… → (n, count, 256)."""
    n = seed.shape[0]
    inp = np.empty((n, count, 33), dtype=np.uint8)
    inp[:, :, :32] = seed[:, None, :]
    inp[:, :, 32] = np.arange(first_nonce, first_nonce + count, dtype=np.uint8)
    buf = kc.shake256(inp.reshape(n * count, 33), 64 * eta)
    return poly.cbd(buf, eta).reshape(n, count, N)


def sample_matrix(p: "str | MLKEMParams", rho: np.ndarray) -> np.ndarray:
    """Â for each row of ``rho`` ((m, 32)) → (m, k, k, 256); Â[i, j] = SampleNTT(ρ ‖ j ‖ i)."""
    p = get_params(p)
    k = p.k
    m = rho.shape[0]
    seeds = np.empty((m, k, k, 34), dtype=np.uint8)
    seeds[..., :32] = rho[:, None, None, :]
    idx = np.arange(k, dtype=np.uint8)
    seeds[..., 32] = idx[None, None, :]  # j
    seeds[..., 33] = idx[None, :, None]  # i
    return kc.xof_uniform_batch(seeds.reshape(m * k * k, 34), N).reshape(m, k, k, N)


def _matrices_for(p: MLKEMParams, rho: np.ndarray) -> np.ndarray:
    """Â for a batch of ρ rows, sampled once per distinct ρ; (1, …) when all are equal."""
    if rho.shape[0] == 0:
        return np.zeros((1, p.k, p.k, N), dtype=np.uint16)
    if (rho == rho[0]).all():
        return sample_matrix(p, rho[:1])
    uniq, inverse = np.unique(rho, axis=0, return_inverse=True)
    return sample_matrix(p, np.ascontiguousarray(uniq))[inverse.reshape(-1)]


# ---------------------------------------------------------------- key group view


def split_ek(p: "str | MLKEMParams", ek: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(t̂ as (n, k, 256) uint16 — not reduced, may hold values ≥ q — , ρ as (n, 32))."""
    p = get_params(p)
    ek = _rows(ek, p.ek_bytes, "ek")
    t_hat = poly.byte_decode(ek[:, : p.t_bytes].reshape(-1, p.k, 384), 12)
    return t_hat, np.ascontiguousarray(ek[:, p.t_bytes:])


def join_ek(p: "str | MLKEMParams", t_hat: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Encapsulation keys ByteEncode12(t̂) ‖ ρ; ``rho`` is (n, 32) or one shared (32,)."""
    p = get_params(p)
    n = t_hat.shape[0]
    out = np.empty((n, p.ek_bytes), dtype=np.uint8)
    out[:, : p.t_bytes] = poly.byte_encode(t_hat, 12).reshape(n, p.t_bytes)
    out[:, p.t_bytes:] = rho
    return out


def ek_modulus_ok(p: "str | MLKEMParams", ek: np.ndarray) -> np.ndarray:
    """FIPS 203 encapsulation-key modulus check, per row: all 12-bit values < q."""
    p = get_params(p)
    t_hat, _ = split_ek(p, ek)
    return (t_hat < Q).all(axis=(1, 2))


def hash_to_key(p: "str | MLKEMParams", inputs: np.ndarray) -> np.ndarray:
    """SHAKE-128 of each input row, rejection-sampled into a uniform t̂ (n, k, 256).

    Domain separation (session, index, side) is the caller's job: it is part of
    the input rows.  Only t̂ is produced; ρ stays with the key it is added to.
    """
    p = get_params(p)
    a = np.ascontiguousarray(inputs, dtype=np.uint8)
    return kc.xof_uniform_batch(a, p.k * N).reshape(a.shape[0], p.k, N)


def random_key(p: "str | MLKEMParams", seeds: np.ndarray) -> np.ndarray:
    """Uniform t̂ from 32-byte seeds (SHAKE-128 rejection sampling) → (n, k, 256)."""
    p = get_params(p)
    s = _rows(seeds, 32, "seed")
    tagged = _cat(np.broadcast_to(np.frombuffer(b"pqmpc/mlkem/random-key", np.uint8), (s.shape[0], 22)), s)
    return hash_to_key(p, tagged)


key_add = poly.add
key_sub = poly.sub


# ---------------------------------------------------------------- K-PKE


def _kpke_keygen(p: MLKEMParams, rho: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """t̂, ŝ for each σ row; ``rho`` is (n, 32) (FIPS) or (1, 32) shared by all keys."""
    k = p.k
    noise = _prf_vec(sigma, p.eta1, 0, 2 * k)  # s then e: nonces 0..2k-1 as in Algorithm 13
    hat = poly.ntt(noise)
    s_hat, e_hat = hat[:, :k], hat[:, k:]
    a_hat = _matrices_for(p, rho)
    t_hat = poly.add(poly.matvec(a_hat, np.ascontiguousarray(s_hat)), e_hat)
    return t_hat, np.ascontiguousarray(s_hat)


def _kpke_encrypt(p: MLKEMParams, t_hat, a_hat, m: np.ndarray, r: np.ndarray) -> np.ndarray:
    k = p.k
    n = m.shape[0]
    y = _prf_vec(r, p.eta1, 0, k)
    e12 = _prf_vec(r, p.eta2, k, k + 1)  # e1 (k polys) then e2: nonces k..2k
    y_hat = poly.ntt(y)
    u = poly.add(poly.intt(poly.matvec(a_hat, y_hat, transpose=True)), e12[:, :k])
    mu = poly.decompress(poly.byte_decode(m, 1), 1)
    v = poly.add(poly.add(poly.intt(poly.dot(t_hat, y_hat)), e12[:, k]), mu)
    c = np.empty((n, p.ct_bytes), dtype=np.uint8)
    cu = 32 * p.du * k
    c[:, :cu] = poly.byte_encode(poly.compress(u, p.du), p.du).reshape(n, cu)
    c[:, cu:] = poly.byte_encode(poly.compress(v, p.dv), p.dv)
    return c


def _kpke_decrypt(p: MLKEMParams, s_hat: np.ndarray, c: np.ndarray) -> np.ndarray:
    k = p.k
    n = c.shape[0]
    cu = 32 * p.du * k
    u = poly.decompress(poly.byte_decode(c[:, :cu].reshape(n, k, 32 * p.du), p.du), p.du)
    v = poly.decompress(poly.byte_decode(c[:, cu:], p.dv), p.dv)
    w = poly.sub(v, poly.intt(poly.dot(s_hat, poly.ntt(u))))
    return poly.byte_encode(poly.compress(w, 1), 1)


# ---------------------------------------------------------------- ML-KEM


def _dk_from(p: MLKEMParams, s_hat, ek, z) -> np.ndarray:
    n = ek.shape[0]
    return _cat(poly.byte_encode(s_hat, 12).reshape(n, p.t_bytes), ek, kc.sha3_256(ek), z)


def keygen_batch(variant, d, z) -> tuple[np.ndarray, np.ndarray]:
    """ML-KEM.KeyGen_internal for every row of ``d``, ``z`` ((n, 32) each) → (ek, dk)."""
    p = get_params(variant)
    d = _rows(d, 32, "d")
    z = _rows(z, 32, "z")
    if d.shape[0] != z.shape[0]:
        raise ParameterError("d and z must have the same number of rows")
    g = kc.sha3_512(_cat(d, np.full((d.shape[0], 1), p.k, dtype=np.uint8)))
    rho = np.ascontiguousarray(g[:, :32])
    t_hat, s_hat = _kpke_keygen(p, rho, np.ascontiguousarray(g[:, 32:]))
    ek = join_ek(p, t_hat, rho)
    return ek, _dk_from(p, s_hat, ek, z)


class DecapsKeys(NamedTuple):
    """Decapsulation keys kept unpacked (what ``dk`` encodes), for batches that stay in memory.

    Skips ByteDecode and the FIPS 203 hash check of a serialized ``dk``: both exist to
    catch corrupted or foreign keys, and these never left the process.
    """

    s_hat: np.ndarray  # (n, k, 256)
    t_hat: np.ndarray  # (n, k, 256)
    rho: np.ndarray    # (n, 32) or (1, 32) when shared
    h: np.ndarray      # (n, 32) = H(ek)
    z: np.ndarray      # (n, 32)

    def to_bytes(self, p: "str | MLKEMParams") -> np.ndarray:
        """The FIPS 203 ``dk`` rows."""
        p = get_params(p)
        n = self.s_hat.shape[0]
        ek = join_ek(p, self.t_hat, np.broadcast_to(self.rho, (n, 32)))
        return _cat(poly.byte_encode(self.s_hat, 12).reshape(n, p.t_bytes), ek, self.h, self.z)


def keygen_shared_keys(variant, rho, d, z) -> tuple[np.ndarray, DecapsKeys]:
    """n ML-KEM key pairs that all use one public seed ρ (so Â is sampled once).

    σ is taken from G(d ‖ k) as in FIPS 203 and ρ is replaced by the given one.
    The result is a well-formed ML-KEM key pair (Encaps/Decaps are standard);
    only KeyGen differs, which is sound because Module-LWE with one public matrix
    and many secrets is the usual multi-sample assumption.  Returns (t̂, keys).
    """
    p = get_params(variant)
    rho = _rows(rho, 32, "rho")
    if rho.shape[0] != 1:
        raise ParameterError("a shared-ρ key generation takes one 32-byte ρ")
    d = _rows(d, 32, "d")
    z = _rows(z, 32, "z")
    n = d.shape[0]
    g = kc.sha3_512(_cat(d, np.full((n, 1), p.k, dtype=np.uint8)))
    t_hat, s_hat = _kpke_keygen(p, rho, np.ascontiguousarray(g[:, 32:]))
    ek = join_ek(p, t_hat, np.broadcast_to(rho, (n, 32)))
    return t_hat, DecapsKeys(s_hat, t_hat, rho, kc.sha3_256(ek), z)


def keygen_shared_rho(variant, rho, d, z) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`keygen_shared_keys` with serialized keys: returns (ek, dk, t̂)."""
    p = get_params(variant)
    t_hat, keys = keygen_shared_keys(p, rho, d, z)
    return join_ek(p, t_hat, np.broadcast_to(keys.rho, (t_hat.shape[0], 32))), keys.to_bytes(p), t_hat


def encaps_batch(variant, ek, m) -> tuple[np.ndarray, np.ndarray]:
    """ML-KEM.Encaps_internal for every row → (K (n, 32), c (n, ct_bytes)).

    Raises :class:`ParameterError` if any ``ek`` fails the FIPS 203 modulus check.
    """
    p = get_params(variant)
    ek = _rows(ek, p.ek_bytes, "ek")
    m = _rows(m, 32, "m")
    if ek.shape[0] != m.shape[0]:
        raise ParameterError("ek and m must have the same number of rows")
    t_hat, rho = split_ek(p, ek)
    bad = ~(t_hat < Q).all(axis=(1, 2))
    if bad.any():
        raise ParameterError(f"encapsulation key {int(np.flatnonzero(bad)[0])} fails the FIPS 203 modulus check")
    return _encaps_checked(p, ek, t_hat, rho, m)


def encaps_t_hat(variant, t_hat: np.ndarray, rho, m) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encaps to keys given as t̂ (already in [0, q)) and a shared ρ → (K, c, ek).

    Same result as :func:`encaps_batch` on ``join_ek(t̂, ρ)``, minus a decode and the
    modulus check, which callers that built t̂ themselves do not need.
    """
    p = get_params(variant)
    m = _rows(m, 32, "m")
    rho = _rows(rho, 32, "rho")
    ek = join_ek(p, t_hat, np.broadcast_to(rho, (t_hat.shape[0], 32)) if rho.shape[0] == 1 else rho)
    key, c = _encaps_checked(p, ek, t_hat, rho, m)
    return key, c, ek


def _encaps_checked(p, ek, t_hat, rho, m):
    g = kc.sha3_512(_cat(m, kc.sha3_256(ek)))
    c = _kpke_encrypt(p, t_hat, _matrices_for(p, rho), m, np.ascontiguousarray(g[:, 32:]))
    return np.ascontiguousarray(g[:, :32]), c


def decaps_batch(variant, dk, c) -> np.ndarray:
    """ML-KEM.Decaps_internal for every row → K (n, 32), with implicit rejection.

    Raises :class:`ParameterError` if a ``dk`` fails the FIPS 203 hash check.
    """
    p = get_params(variant)
    dk = _rows(dk, p.dk_bytes, "dk")
    c = _rows(c, p.ct_bytes, "c")
    if dk.shape[0] != c.shape[0]:
        raise ParameterError("dk and c must have the same number of rows")
    t = p.t_bytes
    ek = np.ascontiguousarray(dk[:, t: 2 * t + 32])
    h = dk[:, 2 * t + 32: 2 * t + 64]
    z = dk[:, 2 * t + 64:]
    if not (kc.sha3_256(ek) == h).all():
        raise ParameterError("decapsulation key fails the FIPS 203 hash check")
    s_hat = poly.byte_decode(dk[:, :t].reshape(-1, p.k, 384), 12)
    t_hat, rho = split_ek(p, ek)
    return _decaps_checked(p, s_hat, t_hat, rho, h, z, c)


def decaps_keys(variant, keys: DecapsKeys, c) -> np.ndarray:
    """Decaps with unpacked keys (row i of ``c`` with key i), implicit rejection as usual."""
    p = get_params(variant)
    c = _rows(c, p.ct_bytes, "c")
    if keys.s_hat.shape[0] != c.shape[0]:
        raise ParameterError("keys and c must have the same number of rows")
    return _decaps_checked(p, keys.s_hat, keys.t_hat, keys.rho, keys.h, keys.z, c)


def _decaps_checked(p, s_hat, t_hat, rho, h, z, c):
    m2 = _kpke_decrypt(p, s_hat, c)
    g = kc.sha3_512(_cat(m2, h))
    k_bar = kc.shake256(_cat(z, c), 32)
    c2 = _kpke_encrypt(p, t_hat, _matrices_for(p, rho), m2, np.ascontiguousarray(g[:, 32:]))
    same = (c2 == c).all(axis=1)
    return np.where(same[:, None], g[:, :32], k_bar)


def keygen(variant, d: bytes, z: bytes) -> tuple[bytes, bytes]:
    ek, dk = keygen_batch(variant, d, z)
    return ek[0].tobytes(), dk[0].tobytes()


def encaps(variant, ek: bytes, m: bytes) -> tuple[bytes, bytes]:
    """(K, c) for one key; see :func:`encaps_batch`."""
    key, c = encaps_batch(variant, ek, m)
    return key[0].tobytes(), c[0].tobytes()


def decaps(variant, dk: bytes, c: bytes) -> bytes:
    return decaps_batch(variant, dk, c)[0].tobytes()
