"""Half-Tree single-point COTs batched over regular bins."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc import Rng
from pqmpc.errors import ParameterError, ProtocolError
from pqmpc.net import run_pair
from pqmpc.ot.ext import spcot


def noise(T, h, pos):
    e = np.zeros(T << h, np.uint8)
    e[(np.arange(T) << h) + pos] = 1
    return e


def dealer_cots(rng, n, delta):
    """Ideal correlated OTs, to test SPCOT on its own (Ferret supplies real ones)."""
    q = rng.blocks(n)
    b = rng.bits(n)
    return q, b, q ^ (b[:, None] * delta)


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 11), T=st.integers(0, 9), seed=st.binary(max_size=8))
def test_punctured_relation(h, T, seed):
    rng = Rng(b"spcot" + seed)
    delta = rng.blocks(1)[0]
    v, k0 = spcot.sender_expand(rng.blocks(T), delta, h)
    b = rng.bits(T * h).reshape(T, h)
    w, pos = spcot.receiver_expand(k0 ^ (b[:, :, None] * delta), b, h)
    assert np.array_equal(w, v ^ (noise(T, h, pos)[:, None] * delta))
    # The path goes away from the learned side at every level; level l is bit l-1 of the index.
    assert np.array_equal(pos, ((1 - b.astype(np.int64)) << np.arange(h)).sum(axis=1))
    # Half-Tree's leveled correlation: every tree's leaves XOR to Δ.
    if T:
        sums = np.bitwise_xor.reduce(v.reshape(T, 1 << h, 16), axis=1)
        assert (sums == delta).all()


def test_leaves_look_distinct_and_seed_dependent():
    rng = Rng(b"spcot distinct")
    delta = rng.blocks(1)[0]
    seeds = rng.blocks(4)
    v, _ = spcot.sender_expand(seeds, delta, 10)
    assert np.unique(v, axis=0).shape[0] == v.shape[0]
    seeds2 = seeds.copy()
    seeds2[1, 0] ^= 1
    v2, _ = spcot.sender_expand(seeds2, delta, 10)
    assert np.array_equal(v[:1024], v2[:1024]) and (v[1024:2048] != v2[1024:2048]).any(axis=1).all()


def test_expansion_against_bulk_aes():
    """The kernel's tree equals one built level by level with OpenSSL's CCR hash."""
    from pqmpc.primitives.hashing import ccr

    rng = Rng(b"spcot ref")
    delta, s = rng.blocks(1)[0], rng.blocks(1)
    h = 6
    level = np.concatenate([s, s ^ delta])
    for _ in range(h - 1):
        left = ccr(level)
        level = np.concatenate([left, level ^ left])
    v, k0 = spcot.sender_expand(s, delta, h)
    assert np.array_equal(v, level)


def test_mpcot_over_a_channel():
    rng = Rng(b"mpcot")
    T, h = 7, 9
    delta = rng.blocks(1)[0]
    q, b, t = dealer_cots(rng, T * h, delta)
    seeds = rng.blocks(T)
    stats = {}

    def sender(ch):
        v = spcot.mpcot_send(ch, q, delta, seeds, h)
        stats["sent"] = ch.stats.bytes_sent
        return v

    def receiver(ch):
        out = spcot.mpcot_receive(ch, b, t, T, h, "test corrections")
        stats["receiver_sent"] = ch.stats.bytes_sent
        return out

    v, (w, pos) = run_pair(sender, receiver)
    assert np.array_equal(w, v ^ (noise(T, h, pos)[:, None] * delta))
    assert stats["receiver_sent"] == 0  # silent receiver: positions come from its base choice bits
    assert stats["sent"] == T * h * 16 + 4


def test_mpcot_rejects_a_short_message():
    rng = Rng(b"mpcot bad")
    delta = rng.blocks(1)[0]
    q, b, t = dealer_cots(rng, 3 * 5, delta)

    def sender(ch):
        ch.send(np.zeros(3 * 5 * 16 - 1, np.uint8))

    with pytest.raises(ProtocolError, match="my step"):
        run_pair(sender, lambda ch: spcot.mpcot_receive(ch, b, t, 3, 5, "my step"))


def test_bad_shapes():
    with pytest.raises(ParameterError):
        spcot.sender_expand(np.zeros((2, 8), np.uint8), np.zeros(16, np.uint8), 3)
    with pytest.raises(ParameterError):
        spcot.receiver_expand(np.zeros((2, 3, 16), np.uint8), np.zeros((2, 2), np.uint8), 3)


_CHILD = """
import json, sys
import numpy as np
from pqmpc import Rng
from pqmpc.primitives import cpu
from pqmpc.ot.ext import spcot
from pqmpc.ot.ext.lpn import LocalCode
rng = Rng(b"fallback")
delta, seeds = rng.blocks(1)[0], rng.blocks(3)
v, k0 = spcot.sender_expand(seeds, delta, 7)
b = rng.bits(21).reshape(3, 7)
w, pos = spcot.receiver_expand(k0 ^ (b[:, :, None] * delta), b, 7)
code = LocalCode(rng.bytes(16), 1 << 8)
x, u = rng.blocks(256), rng.bits(256)
y, bits = v.copy(), np.zeros(len(v), np.uint8)
code.add_encoded_with_bits(0, x, u, y, bits)
print(json.dumps({"ni": cpu.HAVE_AESNI, "v": v.tobytes().hex(), "w": w.tobytes().hex(), "pos": pos.tolist(),
                  "y": y.tobytes().hex(), "bits": bits.tobytes().hex()}))
"""


def _child(env_extra):
    env = dict(os.environ, **env_extra)
    proc = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_kernels_without_aesni_give_the_same_bytes():
    """Without AES-NI the kernels must compile (no SIGABRT) and agree byte for byte."""
    native = _child({})
    soft = _child({"NUMBA_CPU_FEATURES": "-aes,-pclmul"})
    assert soft["ni"] is False
    assert {k: v for k, v in soft.items() if k != "ni"} == {k: v for k, v in native.items() if k != "ni"}


def reference_leaves(seeds, delta, h):
    """Half-Tree leaves in the split layout, level by level with OpenSSL's AES (independent of the kernels)."""
    from pqmpc.primitives.aes import DEFAULT_KEY, aes_ecb

    T = seeds.shape[0]
    L = np.zeros((T, 1 << h, 2), np.uint64)
    s = seeds.view(np.uint64)
    L[:, 0], L[:, 1] = s, s ^ delta.view(np.uint64)
    m = 2
    while m < 1 << h:
        x = L[:, :m].copy()
        sig = np.stack([x[..., 1], x[..., 0] ^ x[..., 1]], axis=-1)
        left = aes_ecb(DEFAULT_KEY, np.ascontiguousarray(sig).view(np.uint8).reshape(-1, 16))
        left = left.view(np.uint64).reshape(sig.shape) ^ sig
        L[:, :m], L[:, m:2 * m] = left, x ^ left
        m *= 2
    return L.view(np.uint8).reshape(T << h, 16)


@pytest.mark.parametrize("h", [5, 9, 12])
def test_leaves_match_an_independent_reference(h):
    """The bulk tree kernels (several 256-parent tiles per level at h = 12) give Half-Tree's leaves byte for byte."""
    rng = Rng(b"spcot reference %d" % h)
    delta, seeds = rng.blocks(1)[0], rng.blocks(3)
    want = reference_leaves(seeds, delta, h)
    v, k0 = spcot.sender_expand(seeds, delta, h)
    assert np.array_equal(v, want)
    b = rng.bits(3 * h).reshape(3, h)
    w, pos = spcot.receiver_expand(k0 ^ (b[:, :, None] * delta), b, h)
    assert np.array_equal(w, v ^ (noise(3, h, pos)[:, None] * delta))
