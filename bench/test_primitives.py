"""pytest-benchmark suite for the primitive kernels, next to raw OpenSSL AES-ECB.

Run with ``pytest bench/test_primitives.py --benchmark-enable`` (add
``-k native``, ``-k aesni`` or ``-k fallback`` to pick a path; native is
VAES/VPCLMULQDQ where the CPU has them, aesni the 128-bit instructions). Every benchmark stores in
``extra_info`` its items per second and ``ratio_to_aes_ecb``: its rate over
raw AES-128-ECB ``update_into`` throughput (blocks/s) measured in the same
session, right next to it, because the machines here are shared and noisy.
Native rows are skipped where the numba target lacks AES-NI / PCLMULQDQ.
"""

import numpy as np
import pytest
from numba import njit

from pqmpc.bench.timing import aes_ecb_baseline
from pqmpc.primitives import aesni, bits
from pqmpc.primitives.transpose_kernels import transpose_into

N = 1 << 20
RNG = np.random.default_rng(2024)
X = RNG.integers(0, 256, (N, 16), dtype=np.uint8)
Y = RNG.integers(0, 256, (N, 16), dtype=np.uint8)
XW = RNG.integers(0, 256, (N, 32), dtype=np.uint8)
TW = np.arange(N, dtype=np.uint64)
OUT = np.empty((2 * N, 32), dtype=np.uint8)

need_aes = pytest.mark.skipif(not aesni.HAVE_AESNI, reason="numba target lacks AES-NI")
need_clmul = pytest.mark.skipif(not aesni.HAVE_PCLMUL, reason="numba target lacks PCLMULQDQ")
# native = widest instructions here (VAES where present), aesni = 128-bit AES-NI only.
BACKENDS = [pytest.param("native", marks=need_aes), pytest.param("aesni", marks=need_aes), "fallback"]


def _record(benchmark, items, unit="blocks"):
    """Attach items/s and the ratio to an AES-ECB baseline taken now, in this session."""
    base = aes_ecb_baseline(1 << 20, 5)["blocks_per_s"]
    per_s = items / benchmark.stats.stats.median
    benchmark.extra_info.update({f"{unit}_per_s": per_s, "M_per_s": per_s / 1e6, "aes_ecb_blocks_per_s": base,
                                 "ratio_to_aes_ecb": per_s / base})


def _out(n, width=16):
    return OUT.reshape(-1)[: n * width].reshape(n, width)


def test_raw_openssl_aes128_ecb(benchmark):
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    enc = Cipher(algorithms.AES(aesni.DEFAULT_KEY), modes.ECB()).encryptor()
    dst = np.empty(N * 16 + 16, np.uint8)
    benchmark.pedantic(lambda: enc.update_into(X.reshape(-1), dst), rounds=15, warmup_rounds=2)
    _record(benchmark, N)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("keylen", [16, 32])
def test_ecb(benchmark, keylen, backend):
    key = bytes(range(keylen))
    out = _out(N)
    benchmark.pedantic(lambda: aesni.ecb_encrypt(key, X, out, backend=backend), rounds=15, warmup_rounds=2)
    _record(benchmark, N)


@pytest.mark.parametrize("backend", BACKENDS)
def test_tccr(benchmark, backend):
    out = _out(N)
    benchmark.pedantic(lambda: aesni.tccr(X, TW, out=out, backend=backend), rounds=15, warmup_rounds=2)
    _record(benchmark, N)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sigma", [False, True], ids=["cr", "ccr"])
def test_cr(benchmark, sigma, backend):
    out = _out(N)
    benchmark.pedantic(lambda: aesni.cr(X, sigma=sigma, out=out, backend=backend), rounds=15, warmup_rounds=2)
    _record(benchmark, N)


@pytest.mark.parametrize("backend", BACKENDS + ["table"])
def test_tccr_wide(benchmark, backend):
    # Without AES-NI each row needs its own key schedule: OpenSSL contexts
    # (fallback) or the table AES; time those on fewer rows.
    n = {"fallback": N // 256, "table": N // 32}.get(backend, N)
    out = _out(n, 32)
    benchmark.pedantic(lambda: aesni.tccr_wide(XW[:n], TW[:n], out=out, backend=backend), rounds=9,
                       warmup_rounds=1)
    _record(benchmark, n, "wide_blocks")
    # Per byte against tccr: the kappa = 256 budget allows ~2-3x.
    benchmark.extra_info["bytes_per_s"] = 32 * n / benchmark.stats.stats.median


@pytest.mark.parametrize("backend", BACKENDS)
def test_ggm_expand_level(benchmark, backend):
    m = N // 2
    out = _out(2 * m)
    benchmark.pedantic(lambda: aesni.ggm_expand_level(X[:m], out=out, backend=backend), rounds=15,
                       warmup_rounds=2)
    _record(benchmark, 2 * m, "child_blocks")


@pytest.mark.parametrize("backend", [pytest.param("native", marks=need_clmul), pytest.param("aesni", marks=need_clmul),
                                     "fallback"])
def test_gf128_mul(benchmark, backend):
    n = N if backend != "fallback" else N // 8
    out = _out(n)
    benchmark.pedantic(lambda: aesni.gf128_mul(X[:n], Y[:n], out=out, backend=backend), rounds=9,
                       warmup_rounds=1)
    _record(benchmark, n, "products")


@pytest.mark.parametrize("shape", [(128, N), (256, N), (N, 128)], ids=["128xN", "256xN", "Nx128"])
def test_transpose(benchmark, shape):
    rows, cols = shape
    mat = RNG.integers(0, 256, (rows, cols // 8), dtype=np.uint8)
    out = np.empty((cols, rows // 8), np.uint8)
    benchmark.pedantic(lambda: transpose_into(mat, out), rounds=11, warmup_rounds=1)
    _record(benchmark, rows * cols // 128, "bit_blocks")
    assert np.array_equal(bits.transpose(out), mat)


def test_transpose_chunked_in_cache(benchmark):
    # How OT extension should call it: 2^16-column chunks that stay in cache.
    chunks = [RNG.integers(0, 256, (128, (1 << 16) // 8), dtype=np.uint8) for _ in range(N >> 16)]
    out = np.empty((1 << 16, 16), np.uint8)

    def run():
        for mat in chunks:
            transpose_into(mat, out)

    benchmark.pedantic(run, rounds=11, warmup_rounds=1)
    _record(benchmark, N, "bit_blocks")


@njit(cache=True)
def _walk(ks, x, out):
    # Another engineer's kernel calling the building block once per item,
    # without hand interleaving (the out-of-order core overlaps iterations).
    for i in range(x.shape[0]):
        b = (x[i, 0], x[i, 1])
        y = aesni.bxor(aesni.aes_encrypt(ks, b), b)
        out[i, 0] = y[0]
        out[i, 1] = y[1]


@need_aes
def test_building_block_in_foreign_kernel(benchmark):
    ks = aesni.key_tuple(aesni.DEFAULT_KEY)
    out = _out(N)
    benchmark.pedantic(lambda: _walk(ks, X.view(np.uint64), out.view(np.uint64)), rounds=9, warmup_rounds=1)
    _record(benchmark, N)
