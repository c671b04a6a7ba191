"""Silent VOLE over GF(2^128): the relation C = B + A·Δ on every index, the code, and a seeded vector.

Regenerate the vector after a deliberate change with ``python tests/ot/test_vole.py``.
"""

import hashlib
import json
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc import Rng
from pqmpc.errors import ProtocolError
from pqmpc.net import MemoryChannel, run_pair
from pqmpc.ot.base.kyber import KyberOT
from pqmpc.ot.ext.iknp import IKNP
from pqmpc.ot.ext.lpn_codes import ExConvCode
from pqmpc.ot.ext.vole import MIN_NOISE_WEIGHT, SilentVole, VoleParams
from pqmpc.primitives.gf128 import mul

VECTOR = pathlib.Path(__file__).resolve().parents[2] / "vectors" / "ot" / "vole_small.json"
SIZES = [1, 700, 5000]
SEEDS = (b"pqmpc vectors: vole sender v1", b"pqmpc vectors: vole receiver v1")


def run(k, seeds=(None, None), vole=None):
    v = vole or SilentVole()
    return run_pair(lambda ch: v.send(ch, k, Rng(seeds[0]) if seeds[0] else None),
                    lambda ch: v.receive(ch, k, Rng(seeds[1]) if seeds[1] else None), timeout=120)


def check_relation(delta, b, a, c, k):
    assert delta.shape == (16,) and b.shape == a.shape == c.shape == (k, 16)
    assert np.array_equal(c, b ^ mul(a, np.tile(delta, (k, 1))))


@settings(max_examples=8, deadline=None)
@given(st.integers(1, 3000))
def test_relation_every_index(k):
    (delta, b), (a, c) = run(k)
    check_relation(delta, b, a, c, k)
    # A is pseudorandom: no zero rows, and not a constant.
    assert not (a.view(np.uint64) == 0).all(axis=1).any()
    assert k == 1 or len({bytes(r) for r in a}) == k


def test_zero_size():
    (delta, b), (a, c) = run(0)
    assert b.shape == a.shape == c.shape == (0, 16) and delta.shape == (16,)


def test_fresh_delta_per_call():
    (d1, _), _ = run(10)
    (d2, _), _ = run(10)
    assert not np.array_equal(d1, d2)


@pytest.mark.parametrize("layer", ["iknp", "ferret"])
def test_caller_cot_layer(layer):
    """With a caller's COT object (a CorrelatedOT like IKNP or a RandomCorrelatedOT like Ferret),
    Δ is its session Δ and every call still satisfies the relation."""
    from pqmpc.ot.ext.ferret import Ferret
    from pqmpc.ot.ext.ferret_params import FERRET_TEST

    def make():
        return IKNP() if layer == "iknp" else Ferret(FERRET_TEST)

    snd, rcv = SilentVole(make()), SilentVole(make())
    out = run_pair(lambda ch: [snd.send(ch, k) for k in (50, 300)],
                   lambda ch: [rcv.receive(ch, k) for k in (50, 300)], timeout=120)
    for (delta, b), (a, c), k in zip(out[0], out[1], (50, 300)):
        check_relation(delta, b, a, c, k)
    assert np.array_equal(out[0][0][0], out[0][1][0])


def test_params():
    for k in (1, 10, 1000, 1 << 20, 1_400_000):
        p = VoleParams(k)
        assert p.trees >= MIN_NOISE_WEIGHT and p.n_code >= 2 * k and p.n_code == p.trees << p.h
    p = VoleParams(1_400_000)
    assert p.h == 13 and p.trees < 2 * MIN_NOISE_WEIGHT


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 400), st.integers(0, 2 ** 32))
def test_code_linear_and_wide(k, seed):
    code = ExConvCode(k, max(2 * k, k + 40))
    r = np.random.default_rng(seed)
    x = r.integers(0, 256, (code.n, 16), dtype=np.uint8)
    y = r.integers(0, 256, (code.n, 16), dtype=np.uint8)
    gx, gy = code.dual_encode(x.copy()).copy(), code.dual_encode(y.copy()).copy()
    assert np.array_equal(code.dual_encode(x ^ y), gx ^ gy)
    both = np.ascontiguousarray(np.concatenate([x, y], axis=1))
    g2 = code.dual_encode(both)
    assert np.array_equal(g2[:, :16], gx) and np.array_equal(g2[:, 16:], gy)


def test_code_matches_dense_matrix():
    """The kernel equals G·x with G built column by column from unit vectors (so G is a fixed linear map)."""
    k, n = 20, 64
    code = ExConvCode(k, n)
    cols = []
    for j in range(n):
        e = np.zeros((n, 16), dtype=np.uint8)
        e[j, 0] = 1
        cols.append(code.dual_encode(e)[:, 0] & 1)
    g = np.array(cols).T
    assert np.array_equal(g[:, :k], np.eye(k, dtype=np.uint8))   # systematic
    x = np.random.default_rng(1).integers(0, 2, n).astype(np.uint8)
    xb = np.zeros((n, 16), dtype=np.uint8)
    xb[:, 0] = x
    assert np.array_equal(code.dual_encode(xb)[:, 0], (g.astype(np.int64) @ x) % 2)
    # The tail is mixed in: every output depends on some tail position.
    assert g[:, k:].any(axis=1).all()


def test_truncated_corrections_are_protocol_errors():
    class Cut(MemoryChannel):
        def send(self, data):
            a = np.asarray(data) if not isinstance(data, (bytes, bytearray, memoryview)) else None
            if a is not None and a.dtype == np.uint64 and a.ndim == 4:
                data = a.reshape(-1)[:-2]
            super().send(data)

    a, b = Cut.pair()
    v = SilentVole()
    with pytest.raises(ProtocolError, match="GGM level corrections"):
        run_pair(lambda ch: v.send(ch, 100), lambda ch: v.receive(ch, 100), timeout=60, channels=(a, b))


class FlipCorrection(MemoryChannel):
    """The sender's end: flips one bit of one GGM level correction (a malicious sender)."""

    def send(self, data):
        a = np.asarray(data) if not isinstance(data, (bytes, bytearray, memoryview)) else None
        if a is not None and a.dtype == np.uint64 and a.ndim == 4:
            a = a.copy()
            a[3, 2, :, 0] ^= np.uint64(1 << 40)   # both sides of level 3 of tree 3: whatever the path
            data = a
        super().send(data)


@pytest.mark.parametrize("k", [1, 300, 4000])
def test_checked_vole_relation(k):
    v = SilentVole(check=True)
    (delta, b), (a, c) = run_pair(lambda ch: v.send(ch, k), lambda ch: v.receive(ch, k), timeout=120)
    check_relation(delta, b, a, c, k)


def test_check_catches_an_inconsistent_sender():
    """Without the check a tampered tree silently breaks C = B + A·Δ; with it the receiver stops."""
    a, b = FlipCorrection.pair()
    v = SilentVole()
    (delta, bb), (aa, cc) = run_pair(lambda ch: v.send(ch, 2000), lambda ch: v.receive(ch, 2000), timeout=120,
                                     channels=(a, b))
    assert not np.array_equal(cc, bb ^ mul(aa, np.tile(delta, (2000, 1))))
    a, b = FlipCorrection.pair()
    v = SilentVole(check=True)
    with pytest.raises(ProtocolError, match="inconsistent"):
        run_pair(lambda ch: v.send(ch, 2000), lambda ch: v.receive(ch, 2000), timeout=120, channels=(a, b))


def sha(*arrays) -> str:
    h = hashlib.sha256()
    for x in arrays:
        h.update(np.ascontiguousarray(x).tobytes())
    return h.hexdigest()


def compute() -> dict:
    def snd(ch):
        v = SilentVole(IKNP(base=KyberOT(backend="reference")))
        r = Rng(SEEDS[0])
        return [v.send(ch, k, rng=r.fork(str(k))) for k in SIZES]

    def rcv(ch):
        v = SilentVole(IKNP(base=KyberOT(backend="reference")))
        r = Rng(SEEDS[1])
        return [v.receive(ch, k, rng=r.fork(str(k))) for k in SIZES]

    sent, received = run_pair(snd, rcv, timeout=300)
    for (delta, b), (a, c), k in zip(sent, received, SIZES):
        check_relation(delta, b, a, c, k)
    return {"sizes": SIZES, "seeds": [s.decode() for s in SEEDS],
            "params": [VoleParams(k).as_dict() for k in SIZES],
            "delta": sent[0][0].tobytes().hex(),
            "sha256_B": [sha(s[1]) for s in sent], "sha256_A": [sha(r[0]) for r in received],
            "sha256_C": [sha(r[1]) for r in received]}


def test_known_answer():
    assert compute() == json.loads(VECTOR.read_text())


if __name__ == "__main__":
    VECTOR.write_text(json.dumps(compute(), indent=1) + "\n")
