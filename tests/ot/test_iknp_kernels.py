"""The IKNP hot-path kernels agree with the primitives they stand in for."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import ParameterError
from pqmpc.ot.ext import cot
from pqmpc.primitives import bits, hashing
from pqmpc.primitives.prg import MultiKeyCTR as MultiCTR
from pqmpc.primitives.prg import SeedExpander
from pqmpc.rng import Rng


@settings(max_examples=15, deadline=None)
@given(width=st.sampled_from([16, 32]), k=st.sampled_from([0, 1, 3, 128]),
       steps=st.lists(st.integers(0, 700), min_size=1, max_size=6), seed=st.binary(max_size=4))
def test_multi_ctr_equals_seed_expander(width, k, steps, seed):
    seeds = Rng(seed).blocks(k, width)
    a, b = SeedExpander(seeds), MultiCTR(seeds)
    for nbytes in steps:
        assert np.array_equal(a.next(nbytes), b.next(nbytes))


def test_multi_ctr_writes_into_out_and_checks_seeds():
    seeds = Rng(b"o").blocks(4, 16)
    out = np.zeros((4, 64), np.uint8)
    assert MultiCTR(seeds).next(64, out=out) is out
    assert np.array_equal(out, SeedExpander(seeds).next(64))
    with pytest.raises(ParameterError):
        MultiCTR(np.zeros((4, 24), np.uint8))


@pytest.mark.parametrize("width", [16, 32])
@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 1000])
def test_hash_rows_is_the_primitive_tccr(width, n):
    x = Rng(b"h%d" % n).blocks(n, width)
    tw = np.arange(5, 5 + n, dtype=np.uint64)
    tccr = hashing.tccr if width == 16 else hashing.tccr_wide
    want = tccr(x, tw, tag=hashing.TAG_IKNP)
    assert np.array_equal(cot.hash_rows(x, 5, tag=hashing.TAG_IKNP), want)
    out = np.empty_like(x)
    assert np.array_equal(cot.hash_rows(x, 5, out=out, tag=hashing.TAG_IKNP), want)
    # each protocol its own tweak space: the tag changes every output
    assert np.array_equal(cot.hash_rows(x, 5), tccr(x, tw, tag=hashing.TAG_RANDOM_OT))
    if n:
        assert not (cot.hash_rows(x, 5, tag=hashing.TAG_FERRET) == want).all(axis=1).any()


@pytest.mark.parametrize("rows,cols", [(128, 8), (128, 1000), (256, 65536), (8, 24)])
def test_transpose_nogil_is_bits_transpose(rows, cols):
    m = Rng(b"t").array((rows, cols // 8))
    out = np.empty((cols, rows // 8), np.uint8)
    cot.transpose_nogil(m, out)
    assert np.array_equal(out, bits.transpose(m))


def test_delta_helpers():
    rng = Rng(b"d")
    q, d, h = rng.blocks(50), rng.blocks(1)[0], rng.blocks(50)
    out = np.empty_like(q)
    cot.xor_with_delta_into(q, d, out)
    assert np.array_equal(out, q ^ d)
    b = rng.bits(50)
    cot.select_xor_into(q, b, h, out)
    assert np.array_equal(out, q ^ (b[:, None] * h))
    assert np.array_equal(cot.check_delta(bytes(range(1, 17)), 16), np.arange(1, 17, dtype=np.uint8))
    with pytest.raises(ParameterError, match="zero"):
        cot.check_delta(bytes(16), 16)
    with pytest.raises(ParameterError):
        cot.check_delta(np.zeros(32, np.uint8), 16)


@pytest.mark.slow
def test_iknp_runs_without_aes_ni(tmp_path):
    """The fallback path (no AES-NI: table AES in numba, OpenSSL) gives the same protocol."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import numpy as np\n"
        "from pqmpc.primitives import cpu\n"
        "assert not cpu.HAVE_AESNI\n"
        "from pqmpc.net import run_pair\n"
        "from pqmpc.ot.ext.iknp import IKNP\n"
        "from pqmpc.primitives.prg import MultiKeyCTR as MultiCTR\n"
        "from pqmpc.primitives.prg import SeedExpander\n"
        "from pqmpc.ot.base.simplest import SimplestOT\n"
        "from pqmpc.rng import Rng\n"
        "for w in (16, 32):\n"
        "    s = Rng(b'q').blocks(3, w)\n"
        "    assert np.array_equal(MultiCTR(s).next(100), SeedExpander(s).next(100))\n"
        "for k in (128, 256):\n"
        "    ot = IKNP(SimplestOT(k // 8), k); c = Rng(b'c').bits(3000)\n"
        "    (m0, m1), mb = run_pair(lambda ch: ot.send_random(ch, 3000), lambda ch: ot.receive_random(ch, c))\n"
        "    assert np.array_equal(mb, np.where(c[:, None] == 1, m1, m0))\n"
    )
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, NUMBA_CPU_FEATURES="-aes,-vaes,-pclmul", NUMBA_CACHE_DIR=str(tmp_path),
               PYTHONPATH=str(repo) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, res.stderr[-2000:]


@settings(max_examples=40, deadline=None)
@given(data=st.binary(min_size=0, max_size=300))
def test_low_bits_packed_is_and_one_then_pack_bits(data):
    """The receiver's fused choice step equals ``bits & 1`` then ``pack_bits`` (little-endian,
    zero padding) on every length, including the partial last byte, and touches only its code."""
    from pqmpc.ot.ext.matrix_kernels import low_bits_packed
    from pqmpc.primitives.bits import pack_bits

    bits = np.frombuffer(data, np.uint8).copy()
    want = bits & 1
    buf = np.full((len(data) + 7) // 8 + 1, 0xEE, np.uint8)
    low_bits_packed(bits, buf[:-1])
    np.testing.assert_array_equal(bits, want)
    np.testing.assert_array_equal(buf[:-1], pack_bits(want))
    assert buf[-1] == 0xEE
