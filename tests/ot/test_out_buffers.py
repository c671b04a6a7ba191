"""Caller-supplied outputs (``out=``, ``choices_out=``) of IKNP and Ferret: the same values
as the allocating calls, written into the caller's arrays, refused before any message when
malformed; and a session's steady state reuses its memory."""

import resource

import numpy as np
import pytest

from pqmpc.errors import ParameterError
from pqmpc.net import MemoryChannel, run_pair
from pqmpc.ot import IKNP, Ferret
from pqmpc.ot.base.simplest import SimplestOT
from pqmpc.primitives.buffers import ScratchPool, check_out
from pqmpc.rng import Rng


def _iknp(kappa=128):
    return IKNP(SimplestOT(kappa // 8), kappa)


def _pair(make, calls_s, calls_r, seeds=(b"s", b"r")):
    """Run ``calls_s(ot, ch, rng)`` / ``calls_r`` on fresh instances with fixed seeds."""
    a, b = make(), make()
    return run_pair(lambda ch: calls_s(a, ch, Rng(seeds[0])), lambda ch: calls_r(b, ch, Rng(seeds[1])))


def _flat(res):
    return [np.asarray(x) for x in (res if isinstance(res, (tuple, list)) else (res,))]


@pytest.mark.parametrize("kappa", [128, 256])
@pytest.mark.parametrize("n", [0, 1, 1000, 70_001])
def test_iknp_out_matches_allocating_calls(kappa, n):
    w = kappa // 8
    choices = Rng(b"c").bits(n)
    fixed = Rng(b"d").blocks(1, w)[0]
    bufs_s = [np.full((n, w), 7, np.uint8) for _ in range(6)]
    bufs_r = [np.full((n, w), 7, np.uint8) for _ in range(4)]
    cbuf = np.full(n, 9, np.uint8)

    def send(ot, ch, rng, use):
        ot.setup(ch, "sender", rng)
        o = (lambda i: bufs_s[i]) if use else (lambda i: None)
        return [ot.send_correlated(ch, n, out=o(0)), ot.send_correlated(ch, n, fixed, out=o(1)),
                ot.send_random_correlated(ch, n, out=o(2)),
                ot.send_random(ch, n, out=None if not use else (o(3), o(4))), ot.send(ch, o(5) if use else
                                                                                      np.full((n, w), 7, np.uint8),
                                                                                      np.ones((n, w), np.uint8))]

    def recv(ot, ch, rng, use):
        ot.setup(ch, "receiver", rng)
        o = (lambda i: bufs_r[i]) if use else (lambda i: None)
        return [ot.receive_correlated(ch, choices, out=o(0)), ot.receive_correlated(ch, choices, out=o(1)),
                ot.receive_random_correlated(ch, n, rng, out=o(2), choices_out=cbuf if use else None),
                ot.receive_random(ch, choices, out=o(3)), ot.receive(ch, choices)]

    plain = _pair(lambda: _iknp(kappa), lambda ot, ch, r: send(ot, ch, r, False), lambda ot, ch, r: recv(ot, ch, r, False))
    into = _pair(lambda: _iknp(kappa), lambda ot, ch, r: send(ot, ch, r, True), lambda ot, ch, r: recv(ot, ch, r, True))
    for side in (0, 1):
        for x, y in zip(plain[side], into[side]):
            if x is None:
                assert y is None
                continue
            for u, v in zip(_flat(x), _flat(y)):
                np.testing.assert_array_equal(u, v)
    # the results are the caller's arrays, not copies
    s, r = into
    assert s[0][1] is bufs_s[0] and s[1][1] is bufs_s[1] and s[2][1] is bufs_s[2]
    assert s[3][0] is bufs_s[3] and s[3][1] is bufs_s[4]
    assert r[0] is bufs_r[0] and r[1] is bufs_r[1] and r[2][1] is bufs_r[2] and r[2][0] is cbuf and r[3] is bufs_r[3]
    # and the relation holds on every index
    d, q = s[0]
    np.testing.assert_array_equal(r[0], q ^ (choices[:, None] * d[None, :]))


@pytest.mark.parametrize("sizes", [[0, 1, 5000], [3000, 3361, 100], [9000]])
def test_ferret_out_matches_allocating_calls(sizes):
    """Several calls across round boundaries (test parameters: 3,360 per round), so the
    alternating round buffers and the group buffer are reused many times."""

    def send(ot, ch, rng, use):
        return [ot.send_random_correlated(ch, n, rng if i == 0 else None,
                                          out=np.empty((n, 16), np.uint8) if use else None)
                for i, n in enumerate(sizes)]

    def recv(ot, ch, rng, use):
        res = []
        for n in sizes:
            kw = {"out": np.empty((n, 16), np.uint8), "choices_out": np.empty(n, np.uint8)} if use else {}
            res.append(ot.receive_random_correlated(ch, n, rng, **kw))
        return res

    def make():
        return Ferret("test-insecure", base=SimplestOT())

    plain = _pair(make, lambda ot, ch, r: send(ot, ch, r, False), lambda ot, ch, r: recv(ot, ch, r, False))
    into = _pair(make, lambda ot, ch, r: send(ot, ch, r, True), lambda ot, ch, r: recv(ot, ch, r, True))
    for (d0, q0), (d1, q1), (b0, t0), (b1, t1) in zip(plain[0], into[0], plain[1], into[1]):
        np.testing.assert_array_equal(d0, d1)
        np.testing.assert_array_equal(q0, q1)
        np.testing.assert_array_equal(b0, b1)
        np.testing.assert_array_equal(t0, t1)
        np.testing.assert_array_equal(t1, q1 ^ (b1[:, None] * d1[None, :]))


def test_ferret_derived_calls_take_out():
    n = 4000
    choices = Rng(b"c").bits(n)
    q_buf, t_buf = np.empty((n, 16), np.uint8), np.empty((n, 16), np.uint8)
    ot_s, ot_r = Ferret("test-insecure", base=SimplestOT()), Ferret("test-insecure", base=SimplestOT())
    (d, q), t = run_pair(lambda ch: ot_s.send_correlated(ch, n, out=q_buf),
                         lambda ch: ot_r.receive_correlated(ch, choices, out=t_buf))
    assert q is q_buf and t is t_buf
    np.testing.assert_array_equal(t, q ^ (choices[:, None] * d[None, :]))


BAD = [
    (lambda n, w: np.empty((n + 1, w), np.uint8), "shape"),
    (lambda n, w: np.empty((n, w), np.uint16), "dtype"),
    (lambda n, w: np.empty((n, 2 * w), np.uint8)[:, ::2], "C-contiguous"),
    (lambda n, w: np.frombuffer(bytes(n * w), np.uint8).reshape(n, w), "read-only"),
    (lambda n, w: [[0] * w] * n, "numpy array"),
]


@pytest.mark.parametrize("bad,what", BAD)
@pytest.mark.parametrize("proto", ["iknp", "ferret"])
def test_bad_out_is_refused_before_any_message(bad, what, proto):
    n = 100
    ot = _iknp() if proto == "iknp" else Ferret("test-insecure", base=SimplestOT())
    ch0, ch1 = MemoryChannel.pair(timeout=5)
    calls = [lambda: ot.send_random_correlated(ch0, n, out=bad(n, 16)),
             lambda: ot.receive_random_correlated(ch0, n, out=bad(n, 16)),
             lambda: ot.send_correlated(ch0, n, out=bad(n, 16)),
             lambda: ot.receive_random(ch0, np.zeros(n, np.uint8), out=bad(n, 16))]
    if proto == "iknp":
        calls.append(lambda: ot.send_random(ch0, n, out=(np.empty((n, 16), np.uint8), bad(n, 16))))
    for call in calls:
        with pytest.raises(ParameterError, match=what) as e:
            call()
        assert isinstance(e.value, ValueError)
    with pytest.raises(ParameterError, match="choices_out"):
        ot.receive_random_correlated(ch0, n, choices_out=np.empty(n + 1, np.uint8))
    assert ch0.stats.bytes_sent == 0


def test_scratch_pool_reuses_and_separates():
    pool = ScratchPool()
    a = pool.get("a", (100, 16))
    a[:] = 1
    assert pool.get("a", (50, 16)).ctypes.data == a.ctypes.data  # smaller: same memory
    assert pool.get("b", (100, 16)).ctypes.data != a.ctypes.data  # another name: its own
    big = pool.get("a", (1000, 2), np.uint64)
    assert big.shape == (1000, 2) and big.dtype == np.uint64 and big.flags.c_contiguous
    assert big.ctypes.data % 64 == 0
    assert check_out(None, (3, 16)) is None


def test_iknp_steady_state_reuses_memory():
    """With the caller's buffers reused, a steady call touches (almost) no new pages: the
    session's scratch is pooled and nothing the size of the output is allocated. (Page
    counts, not times; the bound is loose for Python's own small allocations.)"""
    n, w = 1 << 18, 16
    ot_s, ot_r = _iknp(), _iknp()
    q, t, b = np.zeros((n, w), np.uint8), np.zeros((n, w), np.uint8), np.zeros(n, np.uint8)

    def steady(f):
        def run(ch):
            f(ch)  # first call: base OTs, kernels, scratch
            f(ch)
            faults = []
            for _ in range(3):  # the least of three: another thread's one-off work (a lazy
                f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt  # kernel load) is not ours
                f(ch)
                faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
            return min(faults)
        return run

    fs, fr = run_pair(steady(lambda ch: ot_s.send_random_correlated(ch, n, out=q)),
                      steady(lambda ch: ot_r.receive_random_correlated(ch, n, out=t, choices_out=b)))
    # RUSAGE_SELF counts both threads; the outputs alone are n*16*2 + n bytes = 2,112 pages
    assert fs < 300, fs


@pytest.mark.parametrize("m", [0, 1, 300])
def test_kkrt_oprf_out(m):
    from pqmpc.ot import kkrt

    rng = Rng(b"kkrt-out")
    words = rng.blocks(m)
    crk = kkrt.code_round_keys(rng.blocks(kkrt.width_blocks(128)))
    k = 2 * m
    bins = rng.integers(max(k, 1), max(m, 1))[:k] if m else np.zeros(0, np.int64)
    qw = words[bins] if m else rng.blocks(0)
    base = SimplestOT()

    def both(ro, so):
        return run_pair(lambda ch: kkrt.oprf_receive(ch, words, crk, base, Rng(b"r"), out=ro),
                        lambda ch: kkrt.oprf_send(ch, m, qw, bins, crk, base, Rng(b"s"), out=so))

    r0, s0 = both(None, None)
    ro, so = np.empty((m, 16), np.uint8), np.empty((k, 16), np.uint8)
    r1, s1 = both(ro, so)
    assert r1 is ro and s1 is so
    np.testing.assert_array_equal(r0, r1)
    np.testing.assert_array_equal(s0, s1)
    np.testing.assert_array_equal(r1[bins], s1)
    with pytest.raises(ParameterError, match="shape"):
        kkrt.oprf_receive(None, words, crk, base, Rng(b"r"), out=np.empty((m + 1, 16), np.uint8))
    with pytest.raises(ParameterError, match="dtype"):
        kkrt.oprf_send(None, m, qw, bins, crk, base, Rng(b"s"), out=np.empty((k, 16), np.int8))


def test_matrix_core_out():
    """The extension matrix core writes T and Q into the caller's arrays when given
    (same values as its scratch), and refuses a wrong one before sending."""
    from pqmpc.ot.ext.matrix import MatrixReceiver, MatrixSender

    rng = Rng(b"core-out")
    w, c = 128, 1000
    k0, k1 = rng.blocks(w), rng.blocks(w)
    s = rng.bits(w)
    ks = np.where(s[:, None] == 1, k1, k0)
    code = rng.array((1, (c + 7) // 8))

    def both(use):
        tb = np.empty((w, (c + 7) // 8), np.uint8) if use else None
        qb = np.empty((w, (c + 7) // 8), np.uint8) if use else None
        t, q = run_pair(lambda ch: MatrixReceiver(k0, k1).send_chunk(ch, c, code, out=tb).copy() if not use
                        else MatrixReceiver(k0, k1).send_chunk(ch, c, code, out=tb),
                        lambda ch: MatrixSender(ks, s).recv_chunk(ch, c, "U", out=qb).copy() if not use
                        else MatrixSender(ks, s).recv_chunk(ch, c, "U", out=qb))
        if use:
            assert t is tb and q is qb
        return t, q

    (t0, q0), (t1, q1) = both(False), both(True)
    np.testing.assert_array_equal(t0, t1)
    np.testing.assert_array_equal(q0, q1)
    np.testing.assert_array_equal(q1, t1 ^ (code & (s[:, None] * np.uint8(0xFF))))
    ch0, _ = MemoryChannel.pair(timeout=5)
    with pytest.raises(ParameterError, match="shape"):
        MatrixReceiver(k0, k1).send_chunk(ch0, c, code, out=np.empty((w, 1), np.uint8))
    assert ch0.stats.bytes_sent == 0
