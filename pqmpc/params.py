"""Security levels that travel down the ladder as one explicit object."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SecurityLevel:
    """Symmetric security parameter and the primitives that reach it.

    ``kappa`` is the computational security parameter in bits: the number of
    base OTs IKNP needs, the label length of garbling. ``kem`` is the ML-KEM
    parameter set of the base OTs. In the 256-bit "doubled key" mode every
    symmetric key and block is 256 bits so that Grover's quadratic speed-up
    still leaves 128-bit security.
    """

    kappa: int
    kem: str
    aes_key_bytes: int
    block_bytes: int

    @property
    def name(self) -> str:
        return f"kappa{self.kappa}"


LEVEL_128 = SecurityLevel(kappa=128, kem="ML-KEM-768", aes_key_bytes=16, block_bytes=16)
LEVEL_256 = SecurityLevel(kappa=256, kem="ML-KEM-1024", aes_key_bytes=32, block_bytes=32)


def level_for_kappa(kappa: int) -> SecurityLevel:
    from .errors import ParameterError

    if kappa == 128:
        return LEVEL_128
    if kappa == 256:
        return LEVEL_256
    raise ParameterError(f"kappa must be 128 or 256, not {kappa!r}")
