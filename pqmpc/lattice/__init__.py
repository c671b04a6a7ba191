"""Lattice arithmetic: ML-KEM (FIPS 203) and Saber (module-LWR), plus KEM backends."""

from ..util.lazy import lazy_exports

_EXPORTS = {
    "SaberKEM": ".saber",
    "CtrDrbg": ".drbg",
    "get_backend": ".kem",
    "available_backends": ".kem",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
