"""KEM backends: discovery, agreement between backends, and the never-import-oqs rule."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from pqmpc.errors import ParameterError
from pqmpc.lattice import kem, mlkem
from pqmpc.rng import Rng

AVAILABLE = {b["name"]: b for b in kem.available_backends() if b["available"]}


def test_listing_shape():
    rows = kem.available_backends()
    assert [r["name"] for r in rows] == list(kem.BACKENDS)
    for r in rows:
        assert set(r) >= {"name", "available", "variants", "native", "deterministic", "detail"}
    assert rows[0]["available"] and rows[0]["variants"] == list(mlkem.VARIANTS)


@pytest.mark.parametrize("name", sorted(AVAILABLE))
def test_backends_agree_with_reference(name):
    for variant in AVAILABLE[name]["variants"]:
        be = kem.get_backend(variant, name)
        ref = kem.get_backend(variant, "reference")
        ek, dk = ref.keygen(Rng(b"k"), 5)
        key, c = be.encaps(ek, Rng(b"m"))
        assert c.shape == (5, mlkem.PARAMS[variant].ct_bytes)
        assert np.array_equal(ref.decaps(dk, c), key)
        assert np.array_equal(be.decaps(dk, c), key)


def test_reference_is_deterministic_and_auto_is_listed():
    be = kem.get_backend("ML-KEM-512", "auto")
    assert be.name in AVAILABLE and be.deterministic
    ek, _ = be.keygen(Rng(b"k"), 3)
    a = be.encaps(ek, Rng(b"m"))
    b = be.encaps(ek, Rng(b"m"))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@pytest.mark.parametrize("name", sorted(AVAILABLE))
def test_modulus_check_on_every_backend(name):
    variant = AVAILABLE[name]["variants"][-1]
    be = kem.get_backend(variant, name)
    ek, _ = kem.get_backend(variant, "reference").keygen(Rng(b"k"), 2)
    ek[1, 0] = 0xFF
    ek[1, 1] |= 0x0F
    with pytest.raises(ParameterError, match="modulus"):
        be.encaps(ek, Rng(b"m"))


def test_unknown_names():
    with pytest.raises(ParameterError, match="unknown KEM backend"):
        kem.get_backend("ML-KEM-768", "fastest")
    with pytest.raises(ParameterError, match="unknown ML-KEM variant"):
        kem.get_backend("ML-KEM-999")


def test_liboqs_is_never_imported_without_the_library():
    # A fresh interpreter, so that an earlier import elsewhere cannot hide the problem.
    code = (
        "import sys\n"
        "from pqmpc.lattice import kem\n"
        "rows = kem.available_backends()\n"
        "lib = kem.liboqs_library()\n"
        "if lib is None:\n"
        "    try:\n"
        "        kem.get_backend('ML-KEM-768', 'liboqs')\n"
        "    except Exception as e:\n"
        "        assert 'liboqs' in str(e), e\n"
        "    assert 'oqs' not in sys.modules\n"
        "print('ok', lib is not None)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")


class _FakeOQS:
    """liboqs-python's KEM API (KeyEncapsulation, encap_secret → (ct, ss), decap_secret),
    backed by the reference code, to exercise the adapter where no liboqs is installed."""

    class KeyEncapsulation:
        def __init__(self, alg, secret_key=None):
            self.alg = alg
            self.secret_key = secret_key

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def encap_secret(self, public_key):
            key, c = mlkem.encaps(self.alg, public_key, bytes(range(32)))
            return c, key

        def decap_secret(self, ciphertext):
            return mlkem.decaps(self.alg, self.secret_key, ciphertext)


def test_liboqs_adapter_with_stand_in_module(monkeypatch):
    monkeypatch.setattr(kem, "_liboqs_status", lambda: (True, "stand-in"))
    monkeypatch.setitem(sys.modules, "oqs", _FakeOQS)
    be = kem.get_backend("ML-KEM-512", "liboqs")
    assert be.name == "liboqs" and be.native == {"encaps", "decaps"}
    ek, dk = kem.get_backend("ML-KEM-512", "reference").keygen(Rng(b"k"), 3)
    key, c = be.encaps(ek, Rng(b"unused"))
    assert np.array_equal(be.decaps(dk, c), key)
    assert np.array_equal(mlkem.decaps_batch("ML-KEM-512", dk, c), key)
    from pqmpc.net import run_pair
    from pqmpc.ot.base.kyber import KyberOT

    ot = KyberOT("ML-KEM-512", backend="liboqs")
    choices = Rng(b"c").bits(9)
    (m0, m1), mb = run_pair(lambda ch: ot.send_random(ch, 9), lambda ch: ot.receive_random(ch, choices))
    assert np.array_equal(mb, np.where(choices[:, None] == 1, m1, m0))
