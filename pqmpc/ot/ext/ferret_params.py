"""Ferret parameter sets: primal regular-LPN dimensions and the tree shape.

One Ferret round turns ``reserved = k + t·h`` correlated OTs into ``n = t·2^h``
new ones: ``k`` of them are the LPN secret, ``t·h`` puncture the ``t`` GGM trees
(one per bin of ``2^h`` outputs, so the noise is *regular*: exactly one 1 per
bin). The first ``reserved`` outputs of a round seed the next round; the
remaining ``usable = n − reserved`` are handed to the caller.

Where the published sets come from
----------------------------------
The four ``FERRET_B1x`` sets are the ones emp-ot ships since its v1.0 rework
(``emp-ot/tuning.h``: ``ferret_b13 = (t=1900, logk=19, depth 13)`` and the
b12/b11/b10 siblings), chosen there "to give ~128-bit security against the
published regular-LPN attacks (Gauss / SD-ISD / BJMM / hybrid / Esser / AGB)
per the lpnestimator", the hybrid attack being the binding one. The
estimator is the one of Liu–Wang–Yang–Yu, "The Hardness of LPN over Any
Integer Ring and Field for PCG Applications" (EUROCRYPT 2024, ePrint
2022/712), which also accounts for the algebraic attack on regular syndrome
decoding of Briaud–Øygarden (EUROCRYPT 2023). The original Ferret sets
(``n = 10,608,640, t = 1295, k = 589,824``) predate those attacks and are not
offered. The code is a local linear code (each output XORs ``d = 10``
pseudo-random positions of the secret), as in Ferret and emp-ot; the
"Silver" structured codes, broken in 2023 (Raghuraman–Rindal–Tanguy), are
deliberately not used.

``FERRET_TEST`` is tiny and **insecure**: it exists so tests can run many
rounds in milliseconds. Never use it for anything else.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ParameterError

#: Positions of the secret mixed into each output (the local code's row weight).
LPN_D = 10


@dataclass(frozen=True)
class FerretParams:
    """``n`` outputs per round from an LPN secret of ``k`` and ``t`` bins of ``2^log_bin_size``.

    ``security_bits`` is the estimated classical security of the LPN instance
    (``None`` for the insecure test set); ``source`` says where it comes from.
    """

    name: str
    n: int
    k: int
    t: int
    log_bin_size: int
    security_bits: int | None = None
    source: str = ""

    def __post_init__(self):
        for field in ("n", "k", "t", "log_bin_size"):
            v = getattr(self, field)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ParameterError(f"FerretParams.{field} must be a positive integer, got {v!r}")
        if not 1 <= self.log_bin_size <= 24:
            raise ParameterError(f"log_bin_size must be in [1, 24], got {self.log_bin_size}")
        if self.n != self.t << self.log_bin_size:
            raise ParameterError(f"n must equal t * 2^log_bin_size = {self.t << self.log_bin_size}, got {self.n}")
        # The code draws positions as uint32 & (k - 1): exact only for a power of two.
        if self.k & (self.k - 1) or self.k > 1 << 30:
            raise ParameterError(f"k must be a power of two up to 2^30, got {self.k}")
        if self.reserve_trees >= self.t:
            raise ParameterError(f"the round's {self.reserved} reserved outputs leave no usable output "
                                 f"(n = {self.n}); use more or larger bins")

    @property
    def bin_size(self) -> int:
        return 1 << self.log_bin_size

    @property
    def reserved(self) -> int:
        """Correlated OTs one round consumes (and the next round's first outputs restore)."""
        return self.k + self.t * self.log_bin_size

    @property
    def usable(self) -> int:
        """Outputs per round the caller receives."""
        return self.n - self.reserved

    @property
    def reserve_trees(self) -> int:
        """Trees at the start of a round whose outputs (partly) refill the reserve."""
        return -(-self.reserved // self.bin_size)

    @property
    def round_bytes(self) -> int:
        """Sender → receiver payload of one round: one 16-byte correction per tree level."""
        return 16 * self.t * self.log_bin_size

    @property
    def bits_per_cot(self) -> float:
        """Steady-state communication per usable random COT (payload, without frame headers)."""
        return 8 * self.round_bytes / self.usable

    def describe(self) -> dict:
        """The JSON statement both parties compare in the handshake."""
        return {"name": self.name, "n": self.n, "k": self.k, "t": self.t, "log_bin_size": self.log_bin_size,
                "d": LPN_D}


_EMP = "emp-ot tuning.h (lpnestimator of Liu-Wang-Yang-Yu, ePrint 2022/712)"

FERRET_B13 = FerretParams("b13", n=1900 << 13, k=1 << 19, t=1900, log_bin_size=13, security_bits=128, source=_EMP)
FERRET_B12 = FerretParams("b12", n=1520 << 12, k=1 << 18, t=1520, log_bin_size=12, security_bits=128, source=_EMP)
FERRET_B11 = FerretParams("b11", n=1170 << 11, k=1 << 17, t=1170, log_bin_size=11, security_bits=128, source=_EMP)
FERRET_B10 = FerretParams("b10", n=850 << 10, k=1 << 16, t=850, log_bin_size=10, security_bits=128, source=_EMP)
#: INSECURE: a few thousand outputs per round, for tests only.
FERRET_TEST = FerretParams("test-insecure", n=32 << 7, k=1 << 9, t=32, log_bin_size=7, security_bits=None,
                           source="none: insecure test set")

PARAMETER_SETS = {p.name: p for p in (FERRET_B13, FERRET_B12, FERRET_B11, FERRET_B10, FERRET_TEST)}


def get_params(params) -> FerretParams:
    """A :class:`FerretParams`, or one of the names ``b13 b12 b11 b10 test-insecure``."""
    if isinstance(params, FerretParams):
        return params
    if isinstance(params, str) and params in PARAMETER_SETS:
        return PARAMETER_SETS[params]
    raise ParameterError(f"unknown Ferret parameter set {params!r}; use a FerretParams or one of "
                         f"{', '.join(PARAMETER_SETS)}")


__all__ = ["FerretParams", "FERRET_B13", "FERRET_B12", "FERRET_B11", "FERRET_B10", "FERRET_TEST",
           "PARAMETER_SETS", "get_params", "LPN_D"]
