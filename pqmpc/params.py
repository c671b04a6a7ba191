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


def resolve_level(kappa: int | None = None, level: SecurityLevel | None = None,
                  default: SecurityLevel = LEVEL_128) -> SecurityLevel:
    """The one level a layer runs at, from its ``kappa=`` or ``level=`` keyword.

    Giving both is allowed when they agree (so a caller can pass its level
    down and keep an old ``kappa=`` call working); neither gives ``default``.
    """
    from .errors import ParameterError

    if level is not None and not isinstance(level, SecurityLevel):
        raise ParameterError(f"level must be a SecurityLevel (LEVEL_128 or LEVEL_256), not {level!r}")
    if kappa is None:
        return level if level is not None else default
    from_kappa = level_for_kappa(kappa)
    if level is not None and level != from_kappa:
        raise ParameterError(f"kappa={kappa!r} contradicts level={level.name}")
    return from_kappa


__all__ = ["SecurityLevel", "LEVEL_128", "LEVEL_256", "level_for_kappa", "resolve_level"]
