"""Ferret end to end: the COT relation on every index, over many rounds and call sizes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc import Rng
from pqmpc.errors import ChannelClosed, HandshakeError, ParameterError, ProtocolError
from pqmpc.net import MemoryChannel, run_pair
from pqmpc.ot.base.kyber import KyberOT
from pqmpc.ot.ext.ferret import Ferret
from pqmpc.ot.ext.ferret_params import (
    FERRET_B10,
    FERRET_B11,
    FERRET_B12,
    FERRET_B13,
    FERRET_TEST,
    FerretParams,
    get_params,
)

SMALL = FERRET_TEST


def base():
    # KyberOT keeps these tests independent of the IKNP module (the default base).
    return KyberOT()


def pair(sizes, sender_call="send_random_correlated", receiver_call="receive_random_correlated", params=SMALL,
         seeds=(b"s", b"r"), channels=None, **kw):
    def snd(ch):
        f = Ferret(params, base=base())
        return [getattr(f, sender_call)(ch, n, rng=Rng(seeds[0]), **kw) for n in sizes]

    def rcv(ch):
        f = Ferret(params, base=base())
        return [getattr(f, receiver_call)(ch, n, rng=Rng(seeds[1])) for n in sizes]

    return run_pair(snd, rcv, timeout=120, channels=channels)


def check_relation(sent, received):
    for (delta, q), (b, t) in zip(sent, received):
        assert q.shape == t.shape == (b.shape[0], 16) and q.dtype == t.dtype == b.dtype == np.uint8
        assert np.array_equal(t, q ^ (b[:, None] * delta))


def test_relation_on_every_index_across_sizes_and_rounds():
    sizes = [0, 1, 127, 128, 129, 1000, 100_000, 3]
    sent, received = pair(sizes)
    check_relation(sent, received)
    deltas = {d.tobytes() for d, _ in sent}
    assert len(deltas) == 1  # one Δ for the whole session
    q = np.concatenate([q for _, q in sent])
    b = np.concatenate([b for b, _ in received])
    assert sum(sizes) > 25 * SMALL.usable  # many rounds
    assert np.unique(q, axis=0).shape[0] == q.shape[0]  # no output repeats, within or across rounds
    # 101k pseudo-random choice bits: mean 0.5, sd 0.0016.
    assert abs(b.mean() - 0.5) < 0.01
    # Adjacent outputs are not correlated either (xor of neighbours is also balanced).
    assert abs((b[1:] ^ b[:-1]).mean() - 0.5) < 0.01


@settings(max_examples=8, deadline=None)
@given(sizes=st.lists(st.integers(0, 9000), min_size=1, max_size=6), seed=st.binary(max_size=4))
def test_any_sequence_of_sizes(sizes, seed):
    sent, received = pair(sizes, seeds=(b"s" + seed, b"r" + seed))
    check_relation(sent, received)


def test_default_delta_has_lsb_set_and_caller_delta_is_kept():
    (d, _), = pair([10])[0]
    assert d[0] & 1 == 1 and d.any()
    want = Rng(b"delta").blocks(1)[0]
    want[0] |= 1
    sent, received = pair([5, 300], delta=want)
    assert all(np.array_equal(d, want) for d, _ in sent)
    check_relation(sent, received)
    even = want.copy()
    even[0] &= 0xFE  # Δ with lsb 0 is allowed too: only garbling needs lsb 1
    sent, received = pair([700], delta=even)
    assert np.array_equal(sent[0][0], even)
    check_relation(sent, received)


def test_lsb_convention_when_delta_lsb_is_set():
    """lsb(Δ) = 1: the sender's blocks have bit 0 clear, the receiver's bit 0 is its choice bit
    (wire v3); a Δ with lsb 0 keeps random bit 0s and the relation."""
    sent, received = pair([5, 3000, SMALL.usable + 7])
    check_relation(sent, received)
    for (_, q), (b, t) in zip(sent, received):
        assert not (q[:, 0] & 1).any()
        assert np.array_equal(t[:, 0] & 1, b)
    even = Rng(b"even delta").blocks(1)[0]
    even[0] &= 0xFE
    sent, received = pair([3000, SMALL.usable + 7], delta=even)
    check_relation(sent, received)
    lsb = np.concatenate([q[:, 0] & 1 for _, q in sent])
    assert abs(lsb.mean() - 0.5) < 0.05


def test_bad_lsb_flag_is_a_protocol_error():
    with pytest.raises(ProtocolError, match="LSB flag must be 0 or 1, got 2"):
        _tampered(lambda p: p[:16] + b"\x02" if len(p) == 17 else p)


def test_chosen_choice_bits():
    choices = [Rng(b"c").bits(n) for n in (0, 1, 129, 5000)]
    it = iter(choices)

    def snd(ch):
        f = Ferret(SMALL, base=base())
        return [f.send_correlated(ch, len(c), rng=Rng(b"s")) for c in choices]

    def rcv(ch):
        f = Ferret(SMALL, base=base())
        return [f.receive_correlated(ch, next(it), rng=Rng(b"r")) for _ in choices]

    sent, received = run_pair(snd, rcv, timeout=60)
    for (delta, q), t, c in zip(sent, received, choices):
        assert np.array_equal(t, q ^ (c[:, None] * delta))


def test_random_ot_and_chosen_message_ot():
    rng = Rng(b"ot")
    c = rng.bits(3000)
    m0, m1 = rng.blocks(3000), rng.blocks(3000)

    def snd(ch):
        f = Ferret(SMALL, base=base())
        r = f.send_random(ch, 3000, rng=Rng(b"s"))
        f.send(ch, m0, m1)
        return r

    def rcv(ch):
        f = Ferret(SMALL, base=base())
        return f.receive_random(ch, c, rng=Rng(b"r")), f.receive(ch, c)

    (r0, r1), (rb, mb) = run_pair(snd, rcv, timeout=60)
    assert np.array_equal(rb, np.where(c[:, None] == 1, r1, r0))
    assert (r0 != r1).any(axis=1).all()
    assert np.unique(np.concatenate([r0, r1]), axis=0).shape[0] == 6000  # hashes break the Δ correlation
    assert np.array_equal(mb, np.where(c[:, None] == 1, m1, m0))


def test_session_reproducible_from_seeds_and_fresh_otherwise():
    a = pair([2000])
    b = pair([2000])
    assert np.array_equal(a[0][0][1], b[0][0][1]) and np.array_equal(a[1][0][1], b[1][0][1])
    c = pair([2000], seeds=(b"s2", b"r2"))
    assert not np.array_equal(a[0][0][1], c[0][0][1])


def test_delta_cannot_change_within_a_session():
    d1, d2 = Rng(b"1").blocks(1)[0], Rng(b"2").blocks(1)[0]

    def snd(ch):
        f = Ferret(SMALL, base=base())
        f.send_random_correlated(ch, 10, delta=d1)
        f.send_random_correlated(ch, 10, delta=d1)  # same Δ: fine
        f.send_random_correlated(ch, 10, delta=d2)

    def rcv(ch):
        f = Ferret(SMALL, base=base())
        f.receive_random_correlated(ch, 10)
        f.receive_random_correlated(ch, 10)
        f.receive_random_correlated(ch, 10)

    with pytest.raises(ParameterError, match="another delta"):
        run_pair(snd, rcv, timeout=60)


def test_bad_arguments():
    f = Ferret(SMALL, base=base())
    ch, _ = MemoryChannel.pair()
    with pytest.raises(ParameterError):
        f.send_random_correlated(ch, -1)
    with pytest.raises(ParameterError):
        f.send_correlated(ch, 3, delta=np.zeros(16, np.uint8))
    with pytest.raises(ParameterError):
        f.receive_correlated(ch, np.array([0, 2]))
    with pytest.raises(ParameterError):
        Ferret("b99")
    with pytest.raises(ParameterError):
        Ferret(SMALL, base=object())


def test_handshake_mismatch_stops_both_sides():
    def snd(ch):
        Ferret(SMALL, base=base()).send_random_correlated(ch, 10)

    def rcv(ch):
        other = FerretParams("other", n=16 << 7, k=1 << 9, t=16, log_bin_size=7)
        Ferret(other, base=base()).receive_random_correlated(ch, 10)

    with pytest.raises(HandshakeError, match="t: ours"):
        run_pair(snd, rcv, timeout=60)


class Tamper(MemoryChannel):
    """Rewrites the messages this end sends with ``self.edit(payload) -> payload``."""

    edit = None

    def _send_message(self, payload):
        super()._send_message(self.edit(bytes(payload)) if self.edit else payload)


def _tampered(edit, sender_call="send_random_correlated", receiver_call="receive_random_correlated", n=2000):
    a, b = Tamper.pair()
    if sender_call.startswith("send"):
        a.edit = edit
    return pair([n], sender_call, receiver_call, channels=(a, b))


def test_truncated_corrections_are_a_protocol_error():
    size = SMALL.reserve_trees * SMALL.log_bin_size * 16
    with pytest.raises(ProtocolError, match="Ferret round 0, bins 0-5: SPCOT corrections"):
        _tampered(lambda p: p[:-16] if len(p) == size else p)


def test_bad_choice_flips_are_a_protocol_error():
    n = 13  # 2 bytes, 3 padding bits

    def rcv_edit(p):
        return p + b"\0" if len(p) == 2 else p

    def pad_edit(p):
        return bytes([p[0], p[1] | 0x80]) if len(p) == 2 else p

    for edit, what in ((rcv_edit, "expected 2 bytes"), (pad_edit, "padding bits")):
        a, b = Tamper.pair()
        b.edit = edit
        choices = np.ones(n, np.uint8)

        def snd(ch):
            Ferret(SMALL, base=base()).send_correlated(ch, n)

        def rcv(ch):
            Ferret(SMALL, base=base()).receive_correlated(ch, choices)

        with pytest.raises(ProtocolError, match=what):
            run_pair(snd, rcv, timeout=60, channels=(a, b))


def test_dropped_peer_ends_the_other_side():
    def snd(ch):
        f = Ferret(SMALL, base=base())
        f.send_random_correlated(ch, 10)
        ch.close()  # the sender goes away before the next round

    def rcv(ch):
        f = Ferret(SMALL, base=base())
        f.receive_random_correlated(ch, 10)
        f.receive_random_correlated(ch, 10 * SMALL.usable)

    with pytest.raises(ChannelClosed):
        run_pair(snd, rcv, timeout=60)


def test_published_sets():
    assert FERRET_B13.n == 15_564_800 and FERRET_B13.t == 1900 and FERRET_B13.k == 1 << 19
    assert FERRET_B11.n == 2_396_160 and FERRET_B11.t == 1170 and FERRET_B11.k == 1 << 17
    for p in (FERRET_B13, FERRET_B12, FERRET_B11, FERRET_B10):
        assert p.security_bits == 128 and "emp-ot" in p.source
        assert p.reserved == p.k + p.t * p.log_bin_size and p.usable == p.n - p.reserved
        assert p.bits_per_cot < 1.5
        assert get_params(p.name) is p
    # Half-Tree sends one block per level: b13 ~0.21 bits/COT, b12 ~0.39 (the goal is <= 0.5).
    assert FERRET_B13.bits_per_cot < 0.22 and FERRET_B12.bits_per_cot < 0.4
    assert SMALL.security_bits is None and "insecure" in SMALL.name
    with pytest.raises(ParameterError):
        FerretParams("x", n=1000, k=1 << 9, t=8, log_bin_size=7)  # n != t·2^h
    with pytest.raises(ParameterError):
        FerretParams("x", n=8 << 7, k=1000, t=8, log_bin_size=7)  # k not a power of two
    with pytest.raises(ParameterError):
        FerretParams("x", n=4 << 7, k=1 << 9, t=4, log_bin_size=7)  # reserve eats the round


def test_wire_cost_is_the_corrections_only():
    out = {}

    def snd(ch):
        f = Ferret(SMALL, base=base())
        f.send_random_correlated(ch, 1)
        s0 = ch.stats.snapshot()
        f.send_random_correlated(ch, 20 * SMALL.usable)
        out["sent"] = ch.stats.since(s0)

    def rcv(ch):
        f = Ferret(SMALL, base=base())
        f.receive_random_correlated(ch, 1)
        s0 = ch.stats.snapshot()
        f.receive_random_correlated(ch, 20 * SMALL.usable)
        out["recv"] = ch.stats.since(s0)

    run_pair(snd, rcv, timeout=60)
    assert out["recv"].bytes_sent == 0
    assert out["sent"].bytes_sent <= 21 * (SMALL.round_bytes + 4 * SMALL.t)


@pytest.mark.parametrize("params", [FERRET_B11, pytest.param(FERRET_B13, marks=pytest.mark.slow)])
def test_real_parameter_set(params):
    """One full round of a published set and part of the next, bootstrapped through a small Ferret (tests only)."""
    n = params.usable + 1000

    def snd(ch):
        f = Ferret(params, base=Ferret(SMALL, base=base()))
        return f.send_random_correlated(ch, n, rng=Rng(b"s"))

    def rcv(ch):
        f = Ferret(params, base=Ferret(SMALL, base=base()))
        return f.receive_random_correlated(ch, n, rng=Rng(b"r"))

    (delta, q), (b, t) = run_pair(snd, rcv, timeout=600)
    assert np.array_equal(t, q ^ (b[:, None] * delta))
    assert abs(b.mean() - 0.5) < 0.002
    assert np.unique(q[:: 97], axis=0).shape[0] == q[:: 97].shape[0]


_TCP_CHILD = """
import sys
import numpy as np
from pqmpc import Rng
from pqmpc.net import TcpChannel
from pqmpc.ot.base.kyber import KyberOT
from pqmpc.ot.ext.ferret import Ferret
port, out, sizes = int(sys.argv[1]), sys.argv[2], [int(s) for s in sys.argv[3].split(",")]
with TcpChannel.connect("127.0.0.1", port, timeout=60, retry_for=30) as ch:
    f = Ferret("test-insecure", base=KyberOT())
    res = [f.receive_random_correlated(ch, n, rng=Rng(b"tcp r")) for n in sizes]
    t = f.receive_correlated(ch, np.arange(1000) % 2)
np.savez(out, b=np.concatenate([r[0] for r in res]), t=np.concatenate([r[1] for r in res]), t2=t)
"""


def test_two_processes_over_tcp(tmp_path):
    import subprocess
    import sys

    from pqmpc.net import TcpListener

    sizes = [1, 129, 20000]
    out = tmp_path / "receiver.npz"
    with TcpListener("127.0.0.1", 0) as listener:
        child = subprocess.Popen([sys.executable, "-c", _TCP_CHILD, str(listener.port), str(out),
                                  ",".join(map(str, sizes))], stderr=subprocess.PIPE, text=True)
        try:
            with listener.accept(timeout=60) as ch:
                f = Ferret(SMALL, base=base())
                sent = [f.send_random_correlated(ch, n, rng=Rng(b"tcp s")) for n in sizes]
                delta, q2 = f.send_correlated(ch, 1000)
            assert child.wait(timeout=120) == 0, child.stderr.read()[-2000:]
        finally:
            if child.poll() is None:
                child.kill()
            child.stderr.close()
    got = np.load(out)
    q = np.concatenate([s[1] for s in sent])
    assert np.array_equal(got["t"], q ^ (got["b"][:, None] * delta))
    assert np.array_equal(got["t2"], q2 ^ ((np.arange(1000) % 2).astype(np.uint8)[:, None] * delta))


def test_default_bootstrap_is_iknp():
    def snd(ch):
        return Ferret(SMALL).send_random_correlated(ch, 5000, rng=Rng(b"s"))

    def rcv(ch):
        return Ferret(SMALL).receive_random_correlated(ch, 5000, rng=Rng(b"r"))

    (delta, q), (b, t) = run_pair(snd, rcv, timeout=120)
    assert Ferret(SMALL).base_name == "IKNP"
    assert np.array_equal(t, q ^ (b[:, None] * delta))


_PRELOAD_CHILD = """
import json
import numpy as np
from numba.core import caching
from pqmpc.net import run_pair
from pqmpc.ot import Ferret
late = []
orig = caching.Cache.load_overload
def spy(self, sig, ctx):
    late.append(self._name)
    return orig(self, sig, ctx)
a, b = Ferret("b11"), Ferret("b11")
a.preload("sender")
b.preload("receiver")
caching.Cache.load_overload = spy
n = 3_000_000
(d, q), (r, t) = run_pair(lambda ch: a.send_random_correlated(ch, n), lambda ch: b.receive_random_correlated(ch, n),
                          timeout=300)
print(json.dumps({"late": late, "ok": bool(np.array_equal(t, q ^ (r[:, None] * d[None, :])))}))
"""


@pytest.mark.slow
def test_preload_covers_the_first_call():
    """A fresh process: after Ferret's preload (IKNP bootstrap, trees, LPN, the fused group kernels)
    a first call spanning a round loads no kernel late."""
    import json
    import os
    import pathlib
    import subprocess
    import sys

    root = str(pathlib.Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run = lambda: subprocess.run([sys.executable, "-c", _PRELOAD_CHILD], env=env, capture_output=True,  # noqa: E731
                                 text=True, timeout=600, check=False)
    run()  # the numba cache is built
    out = run()
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["ok"]
    assert got["late"] == [], f"kernels loaded lazily after preload: {got['late']}"
