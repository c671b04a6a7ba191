"""MR19MlkemOT (public alias ``KyberOT``): Masny–Rindal endemic OT over ML-KEM (FIPS 203) keys.

``KyberOT(variant="ML-KEM-768", backend="auto", block_bytes=16, level=None)`` runs the generic
protocol of :mod:`pqmpc.ot.base.mr19` with the ML-KEM key group: an element is the
NTT-domain vector t̂ (k·256 coefficients mod q = 3329, 384·k bytes on the wire),
the group law is coefficient-wise addition mod q, and all keys of a batch share one
public seed ρ (sent once), so Â is sampled once per batch on both sides.  Real keys
come from FIPS 203 key generation with ρ fixed; uniform elements and the hash-to-key
map are SHAKE-128 rejection sampling (the same sampler as SampleNTT), domain-separated
by session, OT index and side.

Wire (ML-KEM-768): receiver → sender ``32 + 2·1152·n`` bytes, sender → receiver
``2·1088·n`` bytes: 4,480 B per random OT (+32 B per batch).  Variants: ML-KEM-512
(reference backend only), ML-KEM-768 (κ = 128) and ML-KEM-1024 (the 256-bit mode:
pass ``block_bytes=32``).  ``backend_name`` tells which KEM backend encapsulates and
decapsulates; key generation with a shared ρ always runs on the reference code,
because no library API accepts a caller-chosen ρ.

Security: semi-honest (see :mod:`pqmpc.ot.base.mr19` for the argument and the
stronger claims of the paper).  Receiver privacy rests on Module-LWE (ML-KEM public
keys look uniform); sender privacy on ML-KEM's IND-CCA2 security (Module-LWE) with
SHAKE modelled as a random oracle.  Both are believed post-quantum; with 16-byte
outputs the OT gives 128-bit classical security and 256-bit blocks with ML-KEM-1024
keep a 128-bit margin against Grover.  Received keys with a coefficient ≥ q raise
:class:`ProtocolError`.  Python cannot promise constant time.
"""

from __future__ import annotations

import numpy as np

from ...errors import ParameterError, ProtocolError
from ...lattice import kem as kem_backends
from ...lattice import mlkem
from ...lattice import mlkem_poly as poly
from ...net import Channel, handshake
from ...params import LEVEL_128, SecurityLevel
from ...rng import Rng
from ..interfaces import RandomOT, check_choices, check_count
from . import mr19

# The wire name stays "KyberOT": it is in the handshake and the session context, so
# renaming it would change every transcript for no gain.
PROTOCOL = "KyberOT"
VERSION = 1


class MLKEMGroup(mr19.KeyGroup):
    """ML-KEM public keys (t̂ under a shared ρ) as an additive group mod q."""

    seed_bytes = 32
    secret_bytes = 32

    def __init__(self, variant: str = "ML-KEM-768", backend: "str | kem_backends.KEMBackend" = "auto"):
        self.params = mlkem.get_params(variant)
        self.backend = backend if isinstance(backend, kem_backends.KEMBackend) else \
            kem_backends.get_backend(self.params.name, backend)
        self.key_bytes = self.params.t_bytes
        self.ct_bytes = self.params.ct_bytes

    def keygen(self, seed: bytes, n: int, rng):
        return mlkem.keygen_shared_keys(self.params, seed, rng.blocks(n, 32), rng.blocks(n, 32))

    def random(self, n: int, rng):
        return mlkem.random_key(self.params, rng.blocks(n, 32))

    def hash_to(self, rows: np.ndarray):
        return mlkem.hash_to_key(self.params, rows)

    def add(self, a, b):
        return poly.add(a, b)

    def sub(self, a, b):
        return poly.sub(a, b)

    def encode(self, elems) -> np.ndarray:
        return poly.byte_encode(elems, 12).reshape(elems.shape[0], self.key_bytes)

    def decode(self, buf: np.ndarray, step: str):
        t_hat = poly.byte_decode(buf.reshape(buf.shape[0], self.params.k, 384), 12)
        bad = (t_hat >= mlkem.Q).any(axis=(1, 2))
        if bad.any():
            raise ProtocolError(f"{step}: key {int(np.flatnonzero(bad)[0])} has a coefficient >= q = {mlkem.Q}")
        return t_hat

    def encaps(self, seed: bytes, pk, rng):
        if "encaps" not in self.backend.native or self.backend.name == "reference":
            key, c, _ = mlkem.encaps_t_hat(self.params, pk, seed, rng.blocks(pk.shape[0], 32))
            return key, c
        ek = mlkem.join_ek(self.params, pk, np.frombuffer(seed, dtype=np.uint8))
        return self.backend.encaps(ek, rng)

    def decaps(self, sk, ct: np.ndarray) -> np.ndarray:
        if "decaps" in self.backend.native and self.backend.name != "reference":
            return self.backend.decaps(sk.to_bytes(self.params), ct)
        return mlkem.decaps_keys(self.params, sk, ct)


class MR19MlkemOT(RandomOT):
    """Masny–Rindal (MR19) endemic OT over ML-KEM public keys; see the module docstring.

    Public alias: ``KyberOT`` (the name it had first; "Kyber" is ML-KEM's
    pre-standard name, and the OT is Masny–Rindal's, not a Kyber protocol).
    ``variant`` is the ML-KEM parameter set; ``level`` (a
    :class:`pqmpc.params.SecurityLevel`) chooses it and the output width when no
    ``variant``/``block_bytes`` is given: ML-KEM-768 with 16-byte outputs for
    κ = 128, ML-KEM-1024 with 32-byte outputs for κ = 256.
    """

    name = PROTOCOL

    def __init__(self, variant: str | None = None, backend: str = "auto", block_bytes: int | None = None, *,
                 level: SecurityLevel | None = None):
        if level is not None and not isinstance(level, SecurityLevel):
            raise ParameterError(f"level must be a pqmpc.params.SecurityLevel, not {level!r}")
        if variant is None:
            variant = (level or LEVEL_128).kem
        p = mlkem.get_params(variant)
        if level is not None:
            if p.name != level.kem:
                raise ParameterError(f"variant {p.name!r} contradicts level {level.name} ({level.kem})")
            if block_bytes is not None and block_bytes != level.block_bytes:
                raise ParameterError(f"block_bytes={block_bytes} contradicts level {level.name}")
            block_bytes = level.block_bytes
        if block_bytes is None:
            block_bytes = 16
        if block_bytes not in (16, 32):
            raise ParameterError(f"block_bytes must be 16 or 32, not {block_bytes!r}")
        if block_bytes == 32 and p.name != "ML-KEM-1024":
            raise ParameterError("32-byte blocks (the 256-bit mode) need variant='ML-KEM-1024'")
        self.variant = p.name
        self.block_bytes = block_bytes
        self.group = MLKEMGroup(p.name, backend)

    @classmethod
    def for_level(cls, level, backend: str = "auto") -> "MR19MlkemOT":
        """The OT of a :class:`pqmpc.params.SecurityLevel`: its KEM and block size."""
        return cls(backend=backend, level=level)

    @property
    def backend_name(self) -> str:
        return self.group.backend.name

    def __repr__(self):
        return (f"{type(self).__name__}(variant={self.variant!r}, backend={self.backend_name!r}, "
                f"block_bytes={self.block_bytes})")

    def message_bytes(self, n: int) -> tuple[int, int]:
        """Payload bytes (receiver → sender, sender → receiver) of n random OTs."""
        return mr19.message_sizes(self.group, n)

    def preload(self, role: str | None = None) -> None:
        """Load the ML-KEM kernels (Keccak, sampling, NTT arithmetic) before the first message."""
        from ...lattice import mlkem_keccak
        from ...primitives.preload import preload

        preload(mlkem_keccak.kernel_specs() + poly.kernel_specs())

    def _start(self, ch: Channel, n: int, role: str, peer: str) -> bytes:
        self.preload()
        params = {"variant": self.variant, "block_bytes": self.block_bytes, "n": n}
        handshake(ch, PROTOCOL, VERSION, params, role=role, peer_role=peer)
        return f"{PROTOCOL}/{VERSION}/{self.variant}/{self.block_bytes}".encode()

    def send_random(self, ch: Channel, n: int, rng=None) -> tuple[np.ndarray, np.ndarray]:
        n = check_count(n)
        rng = Rng.ensure(rng)
        context = self._start(ch, n, "sender", "receiver")
        return mr19.send_random(self.group, ch, n, rng, context, self.block_bytes, PROTOCOL)

    def receive_random(self, ch: Channel, choices, rng=None) -> np.ndarray:
        choices = check_choices(choices)
        rng = Rng.ensure(rng)
        context = self._start(ch, choices.shape[0], "receiver", "sender")
        return mr19.receive_random(self.group, ch, choices, rng, context, self.block_bytes, PROTOCOL)


#: The public name from API.md (kept: every caller and document uses it).
KyberOT = MR19MlkemOT
