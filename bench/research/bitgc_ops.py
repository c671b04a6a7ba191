"""Per-operation lattice costs for the BitGC feasibility study (docs/research/bitgc.md).

A measurement script, not part of pqmpc and not a test.  It times the project's own
ring arithmetic at the only sizes it has (n = 256: ML-KEM, q = 3329, number-theoretic
transform; Saber, q = 2^13, complex FFT), batched as the OT code uses it, then
extrapolates to the ring dimensions and moduli a BitGC-style scheme needs.

Measured (this machine, medians of --reps runs, each over --batch polynomials):
  * ML-KEM NTT, inverse NTT, NTT-domain product, full product (2 NTT + product + INTT);
  * Saber to_freq / from_freq / frequency-domain product / full product;
  * numpy's complex FFT at lengths 128 … 16384 with the same number of points per call,
    only to check that the n·log n law holds on this machine (numpy, not project code).
Extrapolated (printed separately, never mixed with the measured lines):
  t_ntt(N, L) = c_bfly · (N/2)·log2 N · L · w     c_bfly: measured ns per butterfly at n=256
  t_pw(N, L)  = c_pw · N · L · w                  c_pw: measured ns per coefficient product
  L = ceil(log2 q / 30) RNS limbs of 30-bit primes; w = penalty of 64-bit over 32-bit
  modular arithmetic (assumed 2; the doc discusses 1.5–4).

Run:  PYTHONPATH=. python bench/research/bitgc_ops.py [--batch 2048] [--reps 7] [--json]
Keep it under ~30 s on the shared machine (defaults take ~10 s after numba's cache is warm).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import numpy as np
from numba import njit

from pqmpc.lattice import mlkem_poly, saber_poly

# HomomorphicEncryption.org standard (2018), 128-bit classical security, ternary secret:
# largest log2 q allowed per ring dimension.  Used only to bracket the unknown
# BitGC parameters; the doc explains why.
HE_STD_128 = {2048: 54, 4096: 109, 8192: 218, 16384: 438, 32768: 881}
LIMB_BITS = 30
WORD_PENALTY = 2.0


# --- Cross-check kernel (written for this study, not project code) -------------------
# A plain negacyclic NTT over one 30-bit RNS limb in int64 with Shoup twiddles: it checks
# the n·log n law and the 64-bit word penalty at the large N a BitGC ring needs, which the
# project's n = 256 kernels cannot show.  Same design as the project's ML-KEM kernel
# (Shoup twiddles, masks instead of branches, 8 polynomials side by side), radix 2, no
# lazy reduction and no IFMA: a tuned C kernel would be faster, not slower.
Q30 = 1073479681  # largest prime below 2^30 with 2^16 | q - 1: NTT-friendly up to N = 2^15


def _psi_tables(big_n: int):
    g = next(x for x in range(2, 100) if pow(x, (Q30 - 1) // 2, Q30) != 1)  # a non-residue
    psi = pow(g, (Q30 - 1) // (2 * big_n), Q30)  # primitive 2N-th root: psi^N = -1
    bits = big_n.bit_length() - 1
    rev = [int(f"{i:0{bits}b}"[::-1], 2) for i in range(big_n)]
    fwd = np.array([pow(psi, r, Q30) for r in rev], dtype=np.int64)
    inv_psi = pow(psi, Q30 - 2, Q30)
    inv = np.array([pow(inv_psi, r, Q30) for r in rev], dtype=np.int64)
    return fwd, (fwd << 32) // Q30, inv, (inv << 32) // Q30, pow(big_n, Q30 - 2, Q30)


_L64 = 8  # rows side by side (lane-major) so LLVM vectorizes across polynomials


@njit(cache=True, nogil=True, inline="always")
def _mulq(x, z, zs, q):
    v = x * z - ((x * zs) >> 32) * q
    return v - (q & -np.int64(v >= q))


@njit(cache=True, nogil=True)
def _ntt64_rows(a, w, ws, q):
    n = a.shape[1]
    buf = np.zeros(n * _L64, dtype=np.int64)
    for r0 in range(0, a.shape[0], _L64):
        cnt = min(_L64, a.shape[0] - r0)
        for l in range(cnt):
            for j in range(n):
                buf[j * _L64 + l] = a[r0 + l, j]
        t = n
        m = 1
        while m < n:
            t //= 2
            for i in range(m):
                z = w[m + i]
                zs = ws[m + i]
                j1 = 2 * i * t
                for j in range(j1, j1 + t):
                    p = j * _L64
                    h = (j + t) * _L64
                    for l in range(_L64):
                        v = _mulq(buf[h + l], z, zs, q)
                        u = buf[p + l]
                        s = u + v
                        d = u - v
                        buf[p + l] = s - (q & -np.int64(s >= q))
                        buf[h + l] = d + (q & -np.int64(d < 0))
            m *= 2
        for l in range(cnt):
            for j in range(n):
                a[r0 + l, j] = buf[j * _L64 + l]


@njit(cache=True, nogil=True)
def _intt64_rows(a, w, ws, q, ninv):
    n = a.shape[1]
    ninvs = (ninv << 32) // q
    buf = np.zeros(n * _L64, dtype=np.int64)
    for r0 in range(0, a.shape[0], _L64):
        cnt = min(_L64, a.shape[0] - r0)
        for l in range(cnt):
            for j in range(n):
                buf[j * _L64 + l] = a[r0 + l, j]
        t = 1
        m = n
        while m > 1:
            h = m // 2
            j1 = 0
            for i in range(h):
                z = w[h + i]
                zs = ws[h + i]
                for j in range(j1, j1 + t):
                    p = j * _L64
                    g = (j + t) * _L64
                    for l in range(_L64):
                        u = buf[p + l]
                        x = buf[g + l]
                        s = u + x
                        d = u - x
                        buf[p + l] = s - (q & -np.int64(s >= q))
                        buf[g + l] = _mulq(d + (q & -np.int64(d < 0)), z, zs, q)
                j1 += 2 * t
            t *= 2
            m = h
        for l in range(cnt):
            for j in range(n):
                a[r0 + l, j] = _mulq(buf[j * _L64 + l], ninv, ninvs, q)


@njit(cache=True, nogil=True)
def _pointwise64(a, b, bs, q, out):
    # b is the fixed operand (a key or a ciphertext in NTT form) with its Shoup companion.
    for r in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[r, j] = _mulq(a[r, j], b[r, j], bs[r, j], q)


def _check_ntt64(rng) -> None:
    n = 64
    fwd, fwds, inv, invs, ninv = _psi_tables(n)
    a = rng.integers(0, Q30, size=(1, n), dtype=np.int64)
    b = rng.integers(0, Q30, size=(1, n), dtype=np.int64)
    want = [0] * n
    for i in range(n):
        for j in range(n):
            k, sgn = (i + j, 1) if i + j < n else (i + j - n, -1)
            want[k] = (want[k] + sgn * int(a[0, i]) * int(b[0, j])) % Q30
    fa, fb = a.copy(), b.copy()
    _ntt64_rows(fa, fwd, fwds, Q30)
    _ntt64_rows(fb, fwd, fwds, Q30)
    prod = np.empty_like(fa)
    _pointwise64(fa, fb, (fb << 32) // Q30, Q30, prod)
    _intt64_rows(prod, inv, invs, Q30, ninv)
    if [int(x) for x in prod[0]] != want:
        raise AssertionError("cross-check NTT does not multiply in Z_q[x]/(x^N + 1)")


def measure_ntt64(points: int, reps: int, rng) -> dict:
    """ns per butterfly / per coefficient of the 64-bit kernel, N = 256 … 16384."""
    _check_ntt64(rng)
    res = {}
    for k in range(8, 15):
        big_n = 1 << k
        rows = max(1, points // big_n)
        fwd, fwds, inv, invs, ninv = _psi_tables(big_n)
        a = rng.integers(0, Q30, size=(rows, big_n), dtype=np.int64)
        b = a[::-1].copy()
        bs = (b << 32) // Q30
        out = np.empty_like(a)
        _ntt64_rows(a.copy(), fwd, fwds, Q30)
        _intt64_rows(a.copy(), inv, invs, Q30, ninv)
        _pointwise64(a, b, bs, Q30, out)
        bfly = rows * big_n / 2 * k
        t_f, _, _ = _median_time(lambda: _ntt64_rows(a, fwd, fwds, Q30), reps)
        t_i, _, _ = _median_time(lambda: _intt64_rows(a, inv, invs, Q30, ninv), reps)
        t_p, _, _ = _median_time(lambda: _pointwise64(a, b, bs, Q30, out), reps)
        res[big_n] = {"ntt_ns_bfly": 1e9 * t_f / bfly, "intt_ns_bfly": 1e9 * t_i / bfly,
                      "pw_ns_coeff": 1e9 * t_p / (rows * big_n),
                      "ntt_us": 1e6 * t_f / rows, "intt_us": 1e6 * t_i / rows, "pw_us": 1e6 * t_p / rows}
    return res


def _median_time(fn, reps: int) -> tuple[float, float, float]:
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), min(samples), max(samples)


def measure(batch: int, reps: int) -> dict:
    rng = np.random.default_rng(1)
    n = mlkem_poly.N
    out: dict = {"batch": batch, "reps": reps, "measured": {}}
    m = out["measured"]

    # ML-KEM: coefficients in [0, q); dot() on (B, 1, 256) is one NTT-domain product
    # (FIPS 203 base-case multiply) per polynomial.
    a = rng.integers(0, mlkem_poly.Q, size=(batch, n), dtype=np.uint16)
    b = rng.integers(0, mlkem_poly.Q, size=(batch, n), dtype=np.uint16)
    a_hat = mlkem_poly.ntt(a)
    b_hat = mlkem_poly.ntt(b)
    mlkem_poly.intt(a_hat)
    mlkem_poly.dot(a_hat.reshape(batch, 1, n), b_hat.reshape(batch, 1, n))

    def mlkem_mul():
        x = mlkem_poly.ntt(a).reshape(batch, 1, n)
        y = mlkem_poly.ntt(b).reshape(batch, 1, n)
        return mlkem_poly.intt(mlkem_poly.dot(x, y))

    ops = {
        "mlkem_ntt": lambda: mlkem_poly.ntt(a),
        "mlkem_intt": lambda: mlkem_poly.intt(a_hat),
        "mlkem_pointwise": lambda: mlkem_poly.dot(a_hat.reshape(batch, 1, n), b_hat.reshape(batch, 1, n)),
        "mlkem_polymul": mlkem_mul,
    }

    # Saber: products through a length-128 complex FFT of the folded, twisted polynomial.
    sa = rng.integers(-(1 << 12), 1 << 12, size=(batch, n), dtype=np.int64)
    ss = rng.integers(-5, 6, size=(batch, n), dtype=np.int64)
    fa = saber_poly.to_freq(sa)
    fs = saber_poly.to_freq(ss)
    saber_poly.from_freq(fa * fs, saber_poly.EQ)
    ops.update(
        {
            "saber_to_freq": lambda: saber_poly.to_freq(sa),
            "saber_from_freq": lambda: saber_poly.from_freq(fa, saber_poly.EQ),
            "saber_pointwise": lambda: fa * fs,
            "saber_polymul": lambda: saber_poly.from_freq(
                saber_poly.to_freq(sa) * saber_poly.to_freq(ss), saber_poly.EQ
            ),
        }
    )
    for name, fn in ops.items():
        med, lo, hi = _median_time(fn, reps)
        m[name] = {"median_us_per_poly": 1e6 * med / batch, "min": 1e6 * lo / batch, "max": 1e6 * hi / batch}

    # Scaling check: numpy FFT with a constant number of points per call.
    points = batch * 128
    fft = {}
    for k in range(7, 15):
        size = 1 << k
        z = (rng.standard_normal((points // size, size)) + 1j).astype(np.complex128)
        np.fft.fft(z, axis=-1)
        med, _, _ = _median_time(lambda z=z: np.fft.fft(z, axis=-1), reps)
        fft[size] = 1e9 * med / ((points // size) * size / 2 * k)  # ns per butterfly
    out["numpy_fft_ns_per_butterfly"] = fft
    out["ntt64_crosscheck"] = measure_ntt64(points * 2, reps, rng)
    return out


def extrapolate(meas: dict) -> dict:
    m = meas["measured"]
    n, logn = 256, 8
    c_bfly = 1e3 * m["mlkem_ntt"]["median_us_per_poly"] / (n / 2 * logn)  # ns
    c_ibfly = 1e3 * m["mlkem_intt"]["median_us_per_poly"] / (n / 2 * logn)
    c_pw = 1e3 * m["mlkem_pointwise"]["median_us_per_poly"] / n
    rows = {}
    for big_n, logq in HE_STD_128.items():
        limbs = math.ceil(logq / LIMB_BITS)
        bfly = big_n / 2 * math.log2(big_n) * limbs * WORD_PENALTY
        t_ntt = c_bfly * bfly / 1e3
        t_intt = c_ibfly * bfly / 1e3
        t_pw = c_pw * big_n * limbs * WORD_PENALTY / 1e3
        rows[big_n] = {
            "log2_q": logq,
            "limbs": limbs,
            "ntt_us": t_ntt,
            "intt_us": t_intt,
            "pointwise_us": t_pw,
            # one operand already in NTT form (a key or a fixed ciphertext)
            "ring_product_us": t_ntt + t_pw + t_intt,
            "ring_element_bytes": big_n * logq / 8,
        }
        x = meas["ntt64_crosscheck"].get(big_n)
        if x is not None:  # 64-bit kernel measured at this N: only the limb count is scaled
            rows[big_n]["ntt64_ring_product_us"] = limbs * (x["ntt_us"] + x["pw_us"] + x["intt_us"])
    x256 = meas["ntt64_crosscheck"][256]
    return {"measured_word_penalty": x256["ntt_ns_bfly"] / c_bfly, "c_bfly_ns": c_bfly, "c_ibfly_ns": c_ibfly, "c_pw_ns": c_pw, "word_penalty": WORD_PENALTY,
            "limb_bits": LIMB_BITS, "rows": rows}


def aes_stats() -> dict:
    from pqmpc.gc.aes128 import aes128_circuit

    c = aes128_circuit()
    return {"and": int(c.and_count), "xor": int(c.xor_count), "inv": int(c.inv_count),
            "depth": int(c.depth), "inputs": int(c.n_inputs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=2048)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    meas = measure(args.batch, args.reps)
    meas["extrapolated"] = extrapolate(meas)
    meas["aes128"] = aes_stats()
    if args.json:
        print(json.dumps(meas, indent=1))
        return
    print(f"MEASURED (batch {args.batch} polys, median of {args.reps}; µs per polynomial, [min, max])")
    for k, v in meas["measured"].items():
        print(f"  {k:18s} {v['median_us_per_poly']:8.3f}  [{v['min']:.3f}, {v['max']:.3f}]")
    print("  numpy FFT ns/butterfly by length:",
          ", ".join(f"{s}:{v:.2f}" for s, v in meas["numpy_fft_ns_per_butterfly"].items()))
    e = meas["extrapolated"]
    print(f"EXTRAPOLATED (c_bfly {e['c_bfly_ns']:.3f} ns, c_ibfly {e['c_ibfly_ns']:.3f} ns, "
          f"c_pw {e['c_pw_ns']:.3f} ns/coeff, {e['limb_bits']}-bit limbs, word penalty {e['word_penalty']})")
    for big_n, r in e["rows"].items():
        print(f"  N={big_n:6d} log q={r['log2_q']:3d} L={r['limbs']:2d}  NTT {r['ntt_us']:8.1f} µs  "
              f"INTT {r['intt_us']:8.1f}  pointwise {r['pointwise_us']:7.1f}  "
              f"ring product {r['ring_product_us']:8.1f} µs  element {r['ring_element_bytes'] / 1024:7.1f} KiB")
    print("  64-bit cross-check kernel, measured per limb (ns/butterfly NTT, INTT; ns/coeff product):")
    for big_n, x in meas["ntt64_crosscheck"].items():
        print(f"    N={big_n:6d}  {x['ntt_ns_bfly']:.3f}  {x['intt_ns_bfly']:.3f}  {x['pw_ns_coeff']:.3f}   "
              f"one limb: NTT {x['ntt_us']:.1f} µs, INTT {x['intt_us']:.1f}, product {x['pw_us']:.1f}")
    print(f"  measured word penalty at n=256 (64-bit kernel / project kernel): {e['measured_word_penalty']:.2f}")
    print("  ring product from the 64-bit kernel × L limbs:",
          ", ".join(f"N={k}: {r['ntt64_ring_product_us']:.1f} µs" for k, r in e["rows"].items()
                    if "ntt64_ring_product_us" in r))
    print("AES-128 (project builder):", meas["aes128"])


if __name__ == "__main__":
    main()
