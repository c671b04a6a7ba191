"""ML-KEM backends: who computes encapsulation and decapsulation, and how fast.

* ``reference`` — :mod:`pqmpc.lattice.mlkem` (numpy + numba, batched over all keys),
  ML-KEM-512/768/1024, deterministic from the caller's :class:`~pqmpc.rng.Rng`.
* ``openssl`` — OpenSSL ≥ 3.5 through ``cryptography`` (ML-KEM-768/1024), one call per
  key.  ``cryptography`` only accepts private keys as the 64-byte seed (d ‖ z), so it
  cannot decapsulate with an expanded ``dk`` — in particular not with the shared-ρ keys
  of the Masny–Rindal OT.  This backend therefore encapsulates natively and leaves
  decapsulation to the reference code (see :attr:`KEMBackend.native`).  OpenSSL draws
  its own encapsulation randomness, so runs are not reproducible from a seed.
* ``liboqs`` — liboqs through ``liboqs-python``, only if a liboqs shared library is
  found on the system.  ``import oqs`` without the library tries to download and build
  liboqs, so the module is imported only after :func:`liboqs_library` found it.

``auto`` picks, per variant, the backend measured fastest for batched use here: the
reference code (≈40 µs per encapsulation in a batch of 256 versus ≈60 µs per OpenSSL
call including key parsing; see docs/base-ot.md), then OpenSSL.

All backends implement the same FIPS 203 functions, so keys and ciphertexts
interoperate (tests check OpenSSL ↔ reference).  None of them is promised to be
constant-time when driven from Python.
"""

from __future__ import annotations

import ctypes.util
import importlib.util
import os

import numpy as np

from ..errors import ParameterError
from . import mlkem

BACKENDS = ("reference", "openssl", "liboqs")
_OQS_NAMES = {"ML-KEM-512": "ML-KEM-512", "ML-KEM-768": "ML-KEM-768", "ML-KEM-1024": "ML-KEM-1024"}


class KEMBackend:
    """One ML-KEM variant on one backend; batched over rows of uint8 arrays."""

    name = "reference"
    #: Operations this backend performs itself; the rest run on the reference code.
    native = frozenset({"keygen", "encaps", "decaps"})
    #: True when outputs are a function of the Rng alone (transcripts are reproducible).
    deterministic = True

    def __init__(self, variant: str):
        self.params = mlkem.get_params(variant)
        self.variant = self.params.name

    def keygen(self, rng, n: int) -> tuple[np.ndarray, np.ndarray]:
        """n FIPS 203 key pairs (ek, expanded dk) from seeds d, z drawn from ``rng``."""
        return mlkem.keygen_batch(self.params, rng.blocks(n, 32), rng.blocks(n, 32))

    def encaps(self, ek: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
        """(K (n, 32), c (n, ct_bytes)) for every row of ``ek``; m drawn from ``rng``."""
        ek = np.ascontiguousarray(ek, dtype=np.uint8)
        return mlkem.encaps_batch(self.params, ek, rng.blocks(ek.shape[0], 32))

    def decaps(self, dk: np.ndarray, c: np.ndarray) -> np.ndarray:
        return mlkem.decaps_batch(self.params, dk, c)

    def __repr__(self):
        return f"<KEM {self.variant} on {self.name}>"


class OpenSSLBackend(KEMBackend):
    name = "openssl"
    native = frozenset({"encaps"})
    deterministic = False

    def __init__(self, variant: str):
        super().__init__(variant)
        from cryptography.hazmat.primitives.asymmetric import mlkem as ossl

        classes = {"ML-KEM-768": ossl.MLKEM768PublicKey, "ML-KEM-1024": ossl.MLKEM1024PublicKey}
        if self.variant not in classes:
            raise ParameterError(f"the openssl backend has no {self.variant}; use backend='reference'")
        self._public = classes[self.variant]

    def encaps(self, ek: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
        ek = np.ascontiguousarray(ek, dtype=np.uint8)
        n = ek.shape[0]
        if n and not mlkem.ek_modulus_ok(self.params, ek).all():
            raise ParameterError("an encapsulation key fails the FIPS 203 modulus check")
        keys = np.empty((n, 32), dtype=np.uint8)
        cts = np.empty((n, self.params.ct_bytes), dtype=np.uint8)
        load = self._public.from_public_bytes
        # One OpenSSL call per key is all the API offers; this is the batched loop's floor.
        for i in range(n):
            k, c = load(ek[i].tobytes()).encapsulate()
            keys[i] = np.frombuffer(k, dtype=np.uint8)
            cts[i] = np.frombuffer(c, dtype=np.uint8)
        return keys, cts


def liboqs_library() -> str | None:
    """Path or name of a liboqs shared library, or None; never imports ``oqs``.

    Looks where liboqs-python itself looks ($OQS_INSTALL_PATH, ~/_oqs) and on the
    system library path.
    """
    roots = [os.environ.get("OQS_INSTALL_PATH"), os.path.join(os.path.expanduser("~"), "_oqs")]
    for root in filter(None, roots):
        for sub in ("lib", "lib64", "bin"):
            for fname in ("liboqs.so", "liboqs.dylib", "oqs.dll"):
                path = os.path.join(root, sub, fname)
                if os.path.exists(path):
                    return path
    return ctypes.util.find_library("oqs")


def _liboqs_status() -> tuple[bool, str]:
    lib = liboqs_library()
    if lib is None:
        return False, "no liboqs shared library found (oqs not imported)"
    if importlib.util.find_spec("oqs") is None:
        return False, f"liboqs found at {lib} but the liboqs-python package is not installed"
    return True, f"liboqs-python over {lib}"


class LiboqsBackend(KEMBackend):
    name = "liboqs"
    native = frozenset({"encaps", "decaps"})
    deterministic = False

    def __init__(self, variant: str):
        super().__init__(variant)
        ok, why = _liboqs_status()
        if not ok:
            raise ParameterError(f"the liboqs backend is unavailable: {why}")
        import oqs  # safe: the library exists, so liboqs-python will not try to build one

        self._oqs = oqs
        self._alg = _OQS_NAMES[self.variant]

    def encaps(self, ek: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
        ek = np.ascontiguousarray(ek, dtype=np.uint8)
        n = ek.shape[0]
        if n and not mlkem.ek_modulus_ok(self.params, ek).all():
            raise ParameterError("an encapsulation key fails the FIPS 203 modulus check")
        keys = np.empty((n, 32), dtype=np.uint8)
        cts = np.empty((n, self.params.ct_bytes), dtype=np.uint8)
        with self._oqs.KeyEncapsulation(self._alg) as kem:
            for i in range(n):
                c, k = kem.encap_secret(ek[i].tobytes())
                keys[i] = np.frombuffer(k, dtype=np.uint8)
                cts[i] = np.frombuffer(c, dtype=np.uint8)
        return keys, cts

    def decaps(self, dk: np.ndarray, c: np.ndarray) -> np.ndarray:
        dk = np.ascontiguousarray(dk, dtype=np.uint8)
        c = np.ascontiguousarray(c, dtype=np.uint8)
        out = np.empty((dk.shape[0], 32), dtype=np.uint8)
        for i in range(dk.shape[0]):
            with self._oqs.KeyEncapsulation(self._alg, secret_key=dk[i].tobytes()) as kem:
                out[i] = np.frombuffer(kem.decap_secret(c[i].tobytes()), dtype=np.uint8)
        return out


def _openssl_variants() -> tuple[str, ...]:
    try:
        from cryptography.hazmat.primitives.asymmetric import mlkem as ossl  # noqa: F401
    except ImportError:
        return ()
    return ("ML-KEM-768", "ML-KEM-1024")


def available_backends() -> list[dict]:
    """Every backend with the variants it serves here and why not, for ``pqmpc info``."""
    out = [{"name": "reference", "available": True, "variants": list(mlkem.VARIANTS),
            "native": sorted(KEMBackend.native), "deterministic": True,
            "detail": "numpy + numba, batched over keys"}]
    ov = _openssl_variants()
    out.append({"name": "openssl", "available": bool(ov), "variants": list(ov),
                "native": sorted(OpenSSLBackend.native), "deterministic": False,
                "detail": "cryptography (OpenSSL >= 3.5), one call per key" if ov
                else "cryptography without ML-KEM (needs cryptography >= 46)"})
    ok, why = _liboqs_status()
    out.append({"name": "liboqs", "available": ok, "variants": list(mlkem.VARIANTS) if ok else [],
                "native": sorted(LiboqsBackend.native), "deterministic": False, "detail": why})
    return out


def get_backend(variant: str = "ML-KEM-768", backend: str = "auto") -> KEMBackend:
    """A backend object for ``variant``; ``auto`` picks the fastest available one."""
    p = mlkem.get_params(variant)
    if backend == "auto":
        # Measured (docs/base-ot.md): batched reference beats per-call OpenSSL at every n.
        backend = "reference"
    if backend == "reference":
        return KEMBackend(p.name)
    if backend == "openssl":
        if p.name not in _openssl_variants():
            raise ParameterError(f"the openssl backend has no {p.name} here; use backend='reference'")
        return OpenSSLBackend(p.name)
    if backend == "liboqs":
        return LiboqsBackend(p.name)
    raise ParameterError(f"unknown KEM backend {backend!r}; choose auto, {', '.join(BACKENDS)}")
