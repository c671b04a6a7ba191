"""Saber public keys as the key group of Masny–Rindal endemic OT (``SaberOT(construction="mr")``).

The group is R_p^l (p = 2^10) under coefficient-wise addition: a Saber public
vector ``b = Round_p(A^T s)`` for a per-batch matrix ``A = GenMatrix(seed)``
is pseudorandom in it under Mod-LWR, which is what Masny–Rindal need. The KEM
is Saber's IND-CPA encryption of a random 32-byte message (the OT's key
derivation hashes it, and IND-CPA is all the construction asks for), batched
over all 2n encapsulations: ``b' = Round_p(A s')``, ``c_m = (b^T s' + h1 -
m·2^(ep-1) mod p) >> (ep - et)``, decrypted exactly as in the Saber KEM.

Wire format per element: 10-bit packing, so every correctly sized buffer
decodes to in-range coefficients; ``pqmpc.ot.base.mr19`` checks the sizes.
The generic protocol, its security argument and its session/index domain
separation live in :mod:`pqmpc.ot.base.mr19`. Semi-honest security claimed;
post-quantum under Mod-LWR; Python cannot promise constant time.
"""

from __future__ import annotations

import numpy as np

from ...lattice import saber as sab
from ...lattice import saber_poly as sp
from ...primitives.keccak import shake128
from ...rng import Rng
from ..interfaces import check_choices, check_count
from . import mr19
from .saber import SaberOT


class SaberKeyGroup(mr19.KeyGroup):
    """R_p^l with Saber key generation and IND-CPA encapsulation, batched over n."""

    seed_bytes = sab.SEED_BYTES
    secret_bytes = 32

    def __init__(self, params: sab.SaberParams):
        self.params = params
        self.key_bytes = params.polyvec_p_bytes
        self.ct_bytes = params.ciphertext_bytes
        self._cache: tuple[bytes, np.ndarray] | None = None

    # -- helpers ---------------------------------------------------------------
    def _matrix_freq(self, seed: bytes) -> np.ndarray:
        # One object may serve both parties (run_pair) or several sessions at
        # once: read the cache once so another thread cannot swap it mid-check.
        cached = self._cache
        if cached is None or cached[0] != seed:
            cached = (seed, sab.matrix_freq(sab.gen_matrix(self.params, seed)))
            self._cache = cached
        return cached[1]

    def _secrets(self, n: int, rng) -> np.ndarray:
        p = self.params
        return sab.secrets_from_bytes(p, rng.array((n, p.l * p.coin_bytes)))

    def _from_bytes(self, buf: np.ndarray) -> np.ndarray:
        p = self.params
        return sp.unpack(buf.reshape(buf.shape[0], p.l, p.polyvec_p_bytes // p.l), sp.EP)

    # -- group ------------------------------------------------------------------
    def keygen(self, seed: bytes, n: int, rng):
        s = self._secrets(n, rng)
        s_f = sp.to_freq(s)
        b = sp.round_q_to_p(sp.from_freq(sp.matvec_freq(self._matrix_freq(seed), s_f, transpose=True), sp.EQ))
        return b, s_f

    def random(self, n: int, rng):
        return self._from_bytes(rng.array((n, self.key_bytes)))

    def hash_to(self, rows: np.ndarray):
        return self._from_bytes(shake128(rows, self.key_bytes))

    def add(self, a, b):
        return (a + b) & (sp.P - 1)

    def sub(self, a, b):
        return (a - b) & (sp.P - 1)

    def encode(self, elems) -> np.ndarray:
        return sp.pack(elems, sp.EP).reshape(elems.shape[0], self.key_bytes)

    def decode(self, buf: np.ndarray, step: str):
        # Any 10-bit pattern is a valid coefficient mod p: only the size can be
        # wrong, and mr19 has checked it before calling.
        return self._from_bytes(np.ascontiguousarray(buf, dtype=np.uint8))

    def encaps(self, seed: bytes, pk, rng):
        p = self.params
        n = pk.shape[0]
        m = rng.array((n, 32))
        s1 = self._secrets(n, rng)
        s1_f = sp.to_freq(s1)
        bp = sp.round_q_to_p(sp.from_freq(sp.matvec_freq(self._matrix_freq(seed), s1_f, transpose=False), sp.EQ))
        vp = sp.from_freq(sp.inner_freq(sp.to_freq(pk, sp.EP), s1_f), sp.EP)
        mbits = sp.unpack(m, 1)
        cm = ((vp - (mbits << (sp.EP - 1)) + p.h1) & (sp.P - 1)) >> (sp.EP - p.et)
        ct = np.empty((n, self.ct_bytes), dtype=np.uint8)
        ct[:, :p.polyvec_p_bytes] = sp.pack(bp, sp.EP).reshape(n, p.polyvec_p_bytes)
        ct[:, p.polyvec_p_bytes:] = sp.pack(cm, p.et)
        return m, ct

    def decaps(self, sk, ct: np.ndarray) -> np.ndarray:
        p = self.params
        b = self._from_bytes(np.ascontiguousarray(ct[:, :p.polyvec_p_bytes]))
        cm = sp.unpack(np.ascontiguousarray(ct[:, p.polyvec_p_bytes:]), p.et)
        v = sp.from_freq(sp.inner_freq(sp.to_freq(b, sp.EP), sk), sp.EP)
        bits = ((v + p.h2 - (cm << (sp.EP - p.et))) & (sp.P - 1)) >> (sp.EP - 1)
        return sp.pack(bits, 1)


class MR19SaberOT(SaberOT):
    """Masny–Rindal endemic OT over Saber public keys (``SaberOT(construction="mr")``)."""

    construction = "mr"

    def __init__(self, variant: str | None = None, construction: str | None = None, **kw):
        super().__init__(variant, construction, **kw)
        self.group = SaberKeyGroup(self.params)
        # Unchanged for 16-byte outputs so that recorded transcripts keep their bytes.
        self.context = b"pqmpc/SaberOT/mr/" + self.params.name.encode()
        if self.block_bytes != 16:
            self.context += b"/%d" % self.block_bytes

    def receiver_message_bytes(self, n: int) -> int:
        return mr19.message_sizes(self.group, n)[0]

    def sender_message_bytes(self, n: int) -> int:
        return mr19.message_sizes(self.group, n)[1]

    def send_random(self, ch, n, rng=None):
        n = check_count(n)
        rng = Rng.ensure(rng)
        self._handshake(ch, n, "sender", "receiver")
        return mr19.send_random(self.group, ch, n, rng, self.context, self.block_bytes, self.name)

    def receive_random(self, ch, choices, rng=None):
        choices = check_choices(choices)
        rng = Rng.ensure(rng)
        self._handshake(ch, choices.shape[0], "receiver", "sender")
        return mr19.receive_random(self.group, ch, choices, rng, self.context, self.block_bytes, self.name)
