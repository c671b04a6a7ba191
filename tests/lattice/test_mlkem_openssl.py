"""Cross-check the numpy ML-KEM with OpenSSL (through `cryptography`)."""

from __future__ import annotations

import numpy as np
import pytest

from pqmpc.lattice import mlkem

mlkem_ossl = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.mlkem")

CLASSES = {"ML-KEM-768": mlkem_ossl.MLKEM768PrivateKey, "ML-KEM-1024": mlkem_ossl.MLKEM1024PrivateKey}
PUBLIC = {"ML-KEM-768": mlkem_ossl.MLKEM768PublicKey, "ML-KEM-1024": mlkem_ossl.MLKEM1024PublicKey}


@pytest.mark.parametrize("variant", sorted(CLASSES))
def test_keys_and_ciphertexts_interoperate(variant):
    rng = np.random.default_rng(203)
    n = 6
    d = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    z = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    ek, dk = mlkem.keygen_batch(variant, d, z)
    sks = [CLASSES[variant].from_seed_bytes(d[i].tobytes() + z[i].tobytes()) for i in range(n)]
    for i, sk in enumerate(sks):
        assert sk.public_key().public_bytes_raw() == ek[i].tobytes()
    # OpenSSL encapsulates, we decapsulate.
    outs = [sk.public_key().encapsulate() for sk in sks]
    ours = mlkem.decaps_batch(variant, dk, np.stack([np.frombuffer(c, np.uint8) for _, c in outs]))
    assert [k.tobytes() for k in ours] == [k for k, _ in outs]
    # We encapsulate, OpenSSL decapsulates.
    m = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    key, c = mlkem.encaps_batch(variant, ek, m)
    assert [sk.decapsulate(c[i].tobytes()) for i, sk in enumerate(sks)] == [k.tobytes() for k in key]
    # OpenSSL also takes keys made with a shared ρ (the OT's keys).
    ek2, dk2, _ = mlkem.keygen_shared_rho(variant, d[0], d, z)
    for i in range(2):
        k2, c2 = PUBLIC[variant].from_public_bytes(ek2[i].tobytes()).encapsulate()
        assert mlkem.decaps(variant, dk2[i].tobytes(), c2) == k2
