"""KOS (actively secure IKNP): relation on every index, the check catches a cheating receiver
(tampered matrix or check values) and a sender that breaks its coin commitment; base-OT policy."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pqmpc.errors import CheatingDetected, ParameterError, ProtocolError
from pqmpc.net import run_pair
from pqmpc.ot.base.saber import SaberOT
from pqmpc.ot.base.simplest import SimplestOT
from pqmpc.ot.ext.kos import KOS
from pqmpc.primitives.bits import unpack_bits
from pqmpc.rng import Rng
from tests.helpers import RecordingChannel
from tests.ot.mal_helpers import TamperingChannel

DELTA = Rng(b"kos-test-delta").blocks(1, 16)[0]


def session(ot, sender_calls, receiver_calls, arm=None, who="receiver", delta=DELTA):
    """Set up, then run the calls of each side in one session; ``arm`` tampers after setup."""
    chans = TamperingChannel.pair(timeout=120)

    def sender(ch):
        ot.setup(ch, "sender", Rng(b"s"), delta=delta)
        if arm is not None and who == "sender":
            ch.arm(arm)
        return sender_calls(ch)

    def receiver(ch):
        ot.setup(ch, "receiver", Rng(b"r"))
        if arm is not None and who == "receiver":
            ch.arm(arm)
        return receiver_calls(ch)

    return run_pair(sender, receiver, channels=chans, timeout=120)


@pytest.fixture(scope="module")
def ot():
    return KOS(SimplestOT(), chunk=1024)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.sampled_from([0, 1, 7, 127, 128, 129, 1000, 2049, 3000]), min_size=1, max_size=3))
def test_relation_on_every_index_over_calls(ot, sizes):
    rng = Rng(repr(sizes).encode())
    choices = [rng.bits(n) for n in sizes]

    def sender(ch):
        return [(ot.send_correlated(ch, n), ot.send_random(ch, n)) for n in sizes]

    def receiver(ch):
        return [(ot.receive_correlated(ch, c), ot.receive_random(ch, c)) for c in choices]

    s_out, r_out = session(ot, sender, receiver)
    for n, c, ((d, q), (m0, m1)), (t, mb) in zip(sizes, choices, s_out, r_out):
        assert np.array_equal(d, DELTA)
        assert q.shape == t.shape == m0.shape == (n, 16)
        assert np.array_equal(t, q ^ (c[:, None] * d))
        assert np.array_equal(mb, np.where(c[:, None] == 1, m1, m0))
        if n > 1:
            assert len({bytes(r) for r in m0}) == n  # hashed: no two outputs alike


DELTA256 = Rng(b"kos-test-delta-256").blocks(1, 32)[0]


@settings(max_examples=6, deadline=None)
@given(sizes=st.lists(st.sampled_from([0, 1, 7, 127, 129, 1000, 2049]), min_size=1, max_size=3))
def test_relation_on_every_index_kappa_256(sizes):
    """κ = 256: 32-byte rows and Δ, AES-256 PRG, tccr_wide, the check in GF(2^256)."""
    ot = KOS(SimplestOT(32), kappa=256, chunk=1024)
    rng = Rng(repr(sizes).encode())
    choices = [rng.bits(n) for n in sizes]
    s_out, r_out = session(ot, lambda ch: [(ot.send_correlated(ch, n), ot.send_random(ch, n)) for n in sizes],
                           lambda ch: [(ot.receive_correlated(ch, c), ot.receive_random(ch, c)) for c in choices],
                           delta=DELTA256)
    for n, c, ((d, q), (m0, m1)), (t, mb) in zip(sizes, choices, s_out, r_out):
        assert np.array_equal(d, DELTA256)
        assert q.shape == t.shape == m0.shape == (n, 32)
        assert np.array_equal(t, q ^ (c[:, None] * d))
        assert np.array_equal(mb, np.where(c[:, None] == 1, m1, m0))
        if n > 1:
            assert len({bytes(r) for r in m0}) == n


def test_kappa_256_catches_a_tampered_column_and_check_values():
    ot = KOS(SimplestOT(32), kappa=256)
    n = 1000
    column = int(np.flatnonzero(unpack_bits(DELTA256, 256))[-1])
    cb = (n + ot.pad + 7) // 8

    def flip_column(i, frame):
        if len(frame) == 256 * cb:
            frame[column * cb + 3] ^= 0x10
        return frame

    def flip_check(i, frame):
        if len(frame) == 64:  # x ‖ t, 32 bytes each
            frame[40] ^= 1
        return frame

    choices = Rng(b"cheat").bits(n)
    for tamper in (flip_column, flip_check):
        with pytest.raises(CheatingDetected, match="check values"):
            session(ot, lambda ch: ot.send_random(ch, n), lambda ch: ot.receive_random(ch, choices),
                    arm=tamper, delta=DELTA256)


def test_random_ot_into_caller_arrays(ot):
    """``out=`` (the interface's keyword): outputs land in the caller's arrays; a wrong one is refused
    before any message, so the session stays usable."""
    n = 300
    choices = Rng(b"out").bits(n)
    m0, m1, mb = (np.empty((n, 16), np.uint8) for _ in range(3))
    with pytest.raises(ParameterError):
        ot.receive_random(None, choices, out=np.empty((n, 32), np.uint8))
    (a0, a1), b = session(ot, lambda ch: ot.send_random(ch, n, out=(m0, m1)),
                          lambda ch: ot.receive_random(ch, choices, out=mb))
    assert a0 is m0 and a1 is m1 and b is mb
    assert np.array_equal(mb, np.where(choices[:, None] == 1, m1, m0))


def test_caller_chosen_delta_and_chosen_messages(ot):
    n = 777
    choices = Rng(b"c").bits(n)
    other = Rng(b"other").blocks(1, 16)[0]
    m0, m1 = Rng(b"m0").blocks(n), Rng(b"m1").blocks(n)
    ((d, q), _), (t, got) = session(
        ot, lambda ch: (ot.send_correlated(ch, n, other), ot.send(ch, m0, m1)),
        lambda ch: (ot.receive_correlated(ch, choices), ot.receive(ch, choices)))
    assert np.array_equal(d, other) and np.array_equal(t, q ^ (choices[:, None] * other))
    assert np.array_equal(got, np.where(choices[:, None] == 1, m1, m0))


def cheat(ot, tamper, n=1000, who="receiver"):
    choices = Rng(b"cheat").bits(n)
    return session(ot, lambda ch: ot.send_random(ch, n), lambda ch: ot.receive_random(ch, choices),
                   arm=tamper, who=who)


def u_frame_len(ot, n):
    return 128 * ((n + ot.pad + 7) // 8)  # κ rows of the matrix, one chunk when n + pad <= chunk


@pytest.mark.parametrize("column", [int(i) for i in np.flatnonzero(unpack_bits(DELTA, 128))[:3]])
def test_tampered_matrix_column_is_caught(column):
    ot = KOS(SimplestOT())  # one chunk for the whole call
    n = 1000

    def flip(i, frame):
        if len(frame) == u_frame_len(ot, n):
            cb = len(frame) // 128
            frame[column * cb + 3] ^= 0x10  # row 28's bit in this column now differs from the other columns
        return frame

    with pytest.raises(CheatingDetected, match="check values"):
        cheat(ot, flip, n)


def test_flip_where_delta_bit_is_zero_goes_unnoticed_and_changes_nothing():
    """KOS's known leakage: a column whose Δ bit is 0 never reaches the sender, so flipping it
    is invisible and harmless; a receiver learns that bit only at the risk of being caught."""
    column = int(np.flatnonzero(unpack_bits(DELTA, 128) == 0)[0])
    ot = KOS(SimplestOT())
    n = 1000

    def flip(i, frame):
        if len(frame) == u_frame_len(ot, n):
            frame[column * (len(frame) // 128)] ^= 1
        return frame

    (m0, m1), mb = cheat(ot, flip, n)
    choices = Rng(b"cheat").bits(n)
    assert np.array_equal(mb, np.where(choices[:, None] == 1, m1, m0))


@pytest.mark.parametrize("offset", [0, 5, 16, 31])
def test_tampered_check_values_are_caught(offset):
    ot = KOS(SimplestOT())
    seen = []

    def flip(i, frame):
        if len(frame) == 32:
            seen.append(i)
            if len(seen) == 2:  # the first 32-byte frame is the coin, the second the check values
                frame[offset] ^= 0x80
        return frame

    with pytest.raises(CheatingDetected):
        cheat(ot, flip)


def test_receiver_that_skips_the_padding_is_refused():
    """A receiver that sends a matrix for n rows only (no padding) fails a length check."""
    ot = KOS(SimplestOT())
    n = 1000

    def truncate(i, frame):
        if len(frame) == u_frame_len(ot, n):
            return frame[: 128 * ((n + 7) // 8)]
        return frame

    with pytest.raises(ProtocolError, match="receiver matrix U"):
        cheat(ot, truncate, n)


def test_sender_that_changes_its_coin_is_caught():
    ot = KOS(SimplestOT())

    def flip(i, frame):
        if len(frame) == 32:
            frame[0] ^= 1
        return frame

    with pytest.raises(CheatingDetected, match="commitment"):
        cheat(ot, flip, who="sender")


def test_semi_honest_base_ot_and_other_kappas_are_refused():
    with pytest.raises(ParameterError, match="semi-honest only"):
        KOS(SaberOT("LightSaber"))
    KOS(SaberOT("LightSaber", construction="mr"))
    with pytest.raises(ParameterError, match="kappa"):
        KOS(kappa=192)
    assert KOS(kappa=256).handshake_params()["check"] == "gf256/pad320"


def test_security_mode_is_part_of_the_handshake():
    from pqmpc.errors import HandshakeError
    from pqmpc.ot.ext.iknp import IKNP

    with pytest.raises(HandshakeError):
        run_pair(lambda ch: KOS(SimplestOT()).setup(ch, "sender", Rng(b"s")),
                 lambda ch: IKNP(SimplestOT()).setup(ch, "receiver", Rng(b"r")), timeout=60)


# ---------------------------------------------------------------------------- vectors
VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "ot" / "kos_128.json"
_MAGIC = b'"magic":"pqmpc-handshake/'


def transcript_case(make_ot, case: dict) -> dict:
    """Replay a seeded session and hash its transcript (handshakes, which carry the package
    version, left out) and outputs; shared with the SoftSpoken vectors."""
    ot = make_ot()
    choices = [Rng(bytes.fromhex(case["receiver_seed"]) + b"/choices").bits(op["n"]) for op in case["ops"]]

    def sender(ch):
        ot.setup(ch, "sender", Rng(bytes.fromhex(case["sender_seed"])))
        out = []
        for op in case["ops"]:
            out += list(ot.send_random(ch, op["n"]) if op["op"] == "random" else ot.send_correlated(ch, op["n"]))
        return out

    def receiver(ch):
        ot.setup(ch, "receiver", Rng(bytes.fromhex(case["receiver_seed"])))
        return [ot.receive_random(ch, c) if op["op"] == "random" else ot.receive_correlated(ch, c)
                for op, c in zip(case["ops"], choices)]

    chans = RecordingChannel.pair()
    s_out, r_out = run_pair(sender, receiver, channels=chans, timeout=120)
    h = hashlib.sha256()
    for tag, ch in ((b"S", chans[0]), (b"R", chans[1])):
        for frame in ch.sent:
            if _MAGIC not in frame[:64]:
                h.update(tag + len(frame).to_bytes(4, "little") + frame)
    ho = hashlib.sha256()
    for arr in s_out + r_out:
        ho.update(np.ascontiguousarray(arr).tobytes())
    return {"transcript_sha256": h.hexdigest(), "outputs_sha256": ho.hexdigest(),
            "first_receiver_output": np.ascontiguousarray(r_out[0]).reshape(-1)[:16].tobytes().hex()}


def rewrite_vectors(path: Path, make_ot) -> None:
    """Recompute the hashes of the recorded cases in ``path`` (same seeds and ops) and record the
    protocol's current wire version: only on a deliberate wire change. ``make_ot(case)``."""
    data = json.loads(path.read_text())
    for case in data["cases"]:
        case.update(transcript_case(lambda: make_ot(case), case))
    data["version"] = make_ot(data["cases"][0]).version
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def write_vectors_128() -> None:
    """Regenerate ``kos_128.json`` (only on a deliberate wire change):
    ``PYTHONPATH=. python -c "from tests.ot.test_kos import write_vectors_128 as w; w()"``."""
    rewrite_vectors(VECTORS, lambda case: KOS(SimplestOT(), chunk=case["chunk"]))


def test_recorded_sessions():
    data = json.loads(VECTORS.read_text())
    assert data["protocol"] == "KOS" and data["cases"] and data["version"] == KOS.version
    for case in data["cases"]:
        got = transcript_case(lambda: KOS(SimplestOT(), chunk=case["chunk"]), case)
        for key in ("transcript_sha256", "outputs_sha256", "first_receiver_output"):
            assert got[key] == case[key], (case["sender_seed"], key)


VECTORS_256 = VECTORS.with_name("kos_256.json")
_CASES_256 = [("kos256-s-1", "kos256-r-1", 1024, [("correlated", 1000), ("random", 1), ("random", 2500)]),
              ("kos256-s-2", "kos256-r-2", 65536, [("random", 0), ("correlated", 129)])]


def write_vectors_256() -> None:
    """Regenerate ``kos_256.json`` (only on a deliberate wire change):
    ``PYTHONPATH=. python -c "from tests.ot.test_kos import write_vectors_256 as w; w()"``."""
    cases = []
    for ss, rs, chunk, ops in _CASES_256:
        case = {"sender_seed": ss.encode().hex(), "receiver_seed": rs.encode().hex(), "chunk": chunk,
                "ops": [{"op": op, "n": n} for op, n in ops]}
        case.update(transcript_case(lambda: KOS(SimplestOT(32), kappa=256, chunk=chunk), case))
        cases.append(case)
    data = {"protocol": "KOS", "version": KOS.version, "kappa": 256, "base": "SimplestOT(32)",
            "note": "Layout as kos_128.json; κ = 256 (AES-256 PRG, tccr_wide, GF(2^256) check).", "cases": cases}
    VECTORS_256.write_text(json.dumps(data, indent=1) + "\n")


def test_recorded_sessions_kappa_256():
    data = json.loads(VECTORS_256.read_text())
    assert data["protocol"] == "KOS" and data["kappa"] == 256 and len(data["cases"]) == len(_CASES_256)
    assert data["version"] == KOS.version
    for case in data["cases"]:
        got = transcript_case(lambda: KOS(SimplestOT(32), kappa=256, chunk=case["chunk"]), case)
        for key in ("transcript_sha256", "outputs_sha256", "first_receiver_output"):
            assert got[key] == case[key], (case["sender_seed"], key)


def test_iknp_security_malicious_is_kos():
    """The API name the issue fixes: IKNP(security="malicious") is KOS, and it runs."""
    from pqmpc.ot import IKNP, SoftSpoken

    mal = IKNP(SimplestOT(), chunk=1024, security="malicious")
    assert isinstance(mal, KOS) and mal.security == "malicious"
    plain = IKNP(SimplestOT(), security="semi-honest")
    assert type(plain) is IKNP and plain.security == "semi-honest"
    with pytest.raises(ParameterError, match="security"):
        IKNP(security="paranoid")
    mal256 = IKNP(kappa=256, security="malicious")
    assert isinstance(mal256, KOS) and mal256.kappa == 256 and mal256.block_bytes == 32
    assert SoftSpoken(k=4, security="malicious").security == "malicious"
    choices = Rng(b"iknp-mal").bits(300)
    (d, q), t = session(mal, lambda ch: mal.send_correlated(ch, 300), lambda ch: mal.receive_correlated(ch, choices))
    assert np.array_equal(t, q ^ (choices[:, None] * d))


def _reference_chis(seed_s: bytes, seed_r: bytes, label: bytes, width: int, m: int) -> np.ndarray:
    """χ_j = s^(j+1) by repeated multiplication from the spec's s (wire v3), independent of the tables."""
    from pqmpc.primitives import gf128, gf256

    field = gf128 if width == 16 else gf256
    s = np.frombuffer(hashlib.shake_128(b"pqmpc/kos-poly/" + label + b"/" + seed_s + seed_r).digest(width),
                      dtype=np.uint8).reshape(1, width)
    chi = np.empty((m, width), np.uint8)
    x = s.copy()
    for j in range(m):
        chi[j] = x[0]
        x = field.mul(x, s)
    return chi


@pytest.mark.parametrize("width", [16, 32])
@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(0, 700), min_size=1, max_size=5), seed=st.integers(0, 2**16))
def test_challenges_are_powers_of_s_across_any_chunking(width, cuts, seed):
    """Every method of Challenges weighs the j-th row of the call with s^(j+1), wherever the call
    was cut into pieces (sizes 0, 1, non-multiples of the kernels' 16-row steps and the table)."""
    from pqmpc.ot.ext.check import Challenges
    from pqmpc.primitives import gf128, gf256

    field = gf128 if width == 16 else gf256
    m = sum(cuts)
    g = np.random.default_rng(seed)
    rows = g.integers(0, 256, (m, width), dtype=np.uint8)
    bits = g.integers(0, 2, m).astype(np.uint8)
    chi = _reference_chis(b"s" * 32, b"r" * 32, b"1/0", width, m)
    want_dot = field.dot(chi, rows) if m else np.zeros(width, np.uint8)
    want_x = np.bitwise_xor.reduce(chi[bits == 1], axis=0) if bits.any() else np.zeros(width, np.uint8)
    got = {k: Challenges(b"s" * 32, b"r" * 32, b"1/0", width) for k in ("send", "recv", "pick", "next")}
    acc = {k: np.zeros(2 * width, np.uint8) for k in got}
    nxt = []
    a = 0
    for c in cuts:
        acc["send"][:width] ^= got["send"].sender_sum(rows[a:a + c])
        acc["recv"] ^= got["recv"].receiver_sums(rows[a:a + c], bits[a:a + c])
        if width == 16:
            p = got["pick"].sum_and_pick(rows[a:a + c], np.flatnonzero(bits[a:a + c]))
            acc["pick"] ^= np.concatenate(p)
        nxt.append(got["next"].next(c))
        a += c
    assert np.array_equal(acc["send"][:width], want_dot)
    assert np.array_equal(acc["recv"], np.concatenate([want_x, want_dot]))
    if width == 16:
        assert np.array_equal(acc["pick"], np.concatenate([want_dot, want_x]))
    assert np.array_equal(np.concatenate(nxt), chi)


def test_challenges_differ_per_coin_and_label():
    from pqmpc.ot.ext.check import Challenges

    base = Challenges(b"s" * 32, b"r" * 32, b"1/0").next(4)
    for other in (Challenges(b"t" * 32, b"r" * 32, b"1/0"), Challenges(b"s" * 32, b"q" * 32, b"1/0"),
                  Challenges(b"s" * 32, b"r" * 32, b"1/1")):
        assert not np.array_equal(other.next(4), base)


@pytest.mark.parametrize("kappa", [128, 256])
def test_prg_streams_end_every_call_block_aligned(kappa):
    """A call takes n + κ + 64 rows, a partial AES block per column; both parties skip to the next
    block (version 2), so the next call starts on IKNP's fused whole-block path, and the relation
    still holds on every index of the later calls."""
    ot = KOS(SimplestOT(kappa // 8), kappa=kappa, chunk=4096)
    sizes = [1000, 1, 0, 8192 + 3]
    choices = [Rng(b"align-%d" % i).bits(n) for i, n in enumerate(sizes)]

    def sender(ch):
        ot.setup(ch, "sender", Rng(b"s"))
        out = []
        for n in sizes:
            out.append(ot.send_correlated(ch, n))
            assert ot.session(ch, "sender").matrix.g.pos % 16 == 0
        return out

    def receiver(ch):
        ot.setup(ch, "receiver", Rng(b"r"))
        out = []
        for c in choices:
            out.append(ot.receive_correlated(ch, c))
            m = ot.session(ch, "receiver").matrix
            assert m.g0.pos % 16 == 0 and m.g1.pos % 16 == 0
        return out

    s_out, r_out = run_pair(sender, receiver, timeout=120)
    for (d, q), t, c in zip(s_out, r_out, choices):
        assert np.array_equal(t, q ^ (c[:, None] * d))


@pytest.mark.parametrize("kappa", [128, 256])
def test_sender_read_ahead_changes_no_output(kappa):
    """The sender's read-ahead (``read_ahead`` chunks of U received before its work on them, the
    coin opened when the last one is in) gives the same outputs at every depth, with the
    remainder chunk, whole chunks and fewer chunks than the depth."""
    sizes = [5000, 1, 2 * 1024 - 192, 700]
    choices = [Rng(b"ahead-%d" % i).bits(n) for i, n in enumerate(sizes)]
    delta = Rng(b"ahead-delta").blocks(1, kappa // 8)[0]
    results = []
    for depth in (0, 1, 2, 7):
        ot = KOS(SimplestOT(kappa // 8), kappa=kappa, chunk=1024)
        ot.read_ahead = depth

        def sender(ch, ot=ot):
            ot.setup(ch, "sender", Rng(b"s"), delta=delta)
            return [ot.send_random(ch, n) for n in sizes] + [ot.send_correlated(ch, sizes[0])]

        def receiver(ch, ot=ot):
            ot.setup(ch, "receiver", Rng(b"r"))
            return [ot.receive_random(ch, c) for c in choices] + [ot.receive_correlated(ch, choices[0])]

        s_out, r_out = run_pair(sender, receiver, timeout=120)
        for (m0, m1), got, c in zip(s_out, r_out, choices):
            assert np.array_equal(got, np.where(c[:, None] == 1, m1, m0))
        results.append((s_out, r_out))
    for s_out, r_out in results[1:]:
        for a, b in zip(s_out[:-1], results[0][0][:-1]):
            assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        for a, b in zip(r_out, results[0][1]):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("depth", [0, 1, 2, 7])
def test_tampered_middle_chunk_is_caught_at_every_read_ahead(depth):
    ot = KOS(SimplestOT(), chunk=1024)
    ot.read_ahead = depth
    flip, seen = flip_second_whole_chunk(1024, delta_bit=0, byte=5, mask=0x01)
    with pytest.raises(CheatingDetected, match="check values"):
        cheat(ot, flip, n=5000)
    assert len(seen) >= 2


def flip_second_whole_chunk(chunk: int, delta_bit: int, byte: int, mask: int):
    """A tampering hook flipping ``mask`` in byte ``byte`` of the column of Δ's ``delta_bit``-th set bit,
    in the receiver's second whole chunk of U (neither its first nor its last message), and the list of
    the whole chunks it saw."""
    column = int(np.flatnonzero(unpack_bits(DELTA, 128))[delta_bit])
    whole = 128 * chunk // 8
    seen = []

    def flip(i, frame):
        if len(frame) == whole:
            seen.append(i)
            if len(seen) == 2:
                frame[column * (whole // 128) + byte] ^= mask
        return frame

    return flip, seen


class _SenderLog:
    """The sender's channel, logging its U reads and its sends (in order)."""

    def __init__(self, ch, log):
        self._ch, self._log = ch, log

    def recv_array_into(self, scratch, step):
        self._log.append(("U", step))
        return self._ch.recv_array_into(scratch, step)

    def recv_array(self, dtype, shape, step, max_bytes=None):
        if "matrix" in step:
            self._log.append(("U", step))
        return self._ch.recv_array(dtype, shape, step, max_bytes)

    def send(self, data):
        self._log.append(("send", len(bytes(data))))
        return self._ch.send(data)

    def __getattr__(self, name):
        return getattr(self._ch, name)


@pytest.mark.parametrize("depth", [0, 1, 2, 7])
def test_coin_opens_only_after_the_whole_matrix_is_in(depth):
    """KOS's argument needs χ unknown to the receiver until its whole U is fixed: with any read-ahead
    the sender's coin (its only 32-byte send) goes out after its read of U's last chunk."""
    ot = KOS(SimplestOT(), chunk=1024)
    ot.read_ahead = depth
    n = 5000
    choices = Rng(b"coin-order").bits(n)
    log = []

    def sender(ch):
        ch = _SenderLog(ch, log)
        ot.setup(ch, "sender", Rng(b"s"))
        del log[:]
        return ot.send_random(ch, n)

    def receiver(ch):
        ot.setup(ch, "receiver", Rng(b"r"))
        return ot.receive_random(ch, choices)

    (m0, m1), got = run_pair(sender, receiver, timeout=120)
    assert np.array_equal(got, np.where(choices[:, None] == 1, m1, m0))
    reads = [i for i, e in enumerate(log) if e[0] == "U"]
    coin = [i for i, e in enumerate(log) if e == ("send", 32)]
    m = n + ot.pad
    assert len(reads) == -(-m // 1024) and log[reads[-1]][1].endswith(f"..{m - 1}")
    assert len(coin) == 1 and coin[0] > reads[-1]


def test_tampered_whole_tile_chunk_is_caught():
    """Whole chunks of whole tiles take the sender's fused tile-and-check kernel where it runs
    (zmm): a flipped bit in such a chunk's column still fails the check."""
    ot = KOS(SimplestOT(), chunk=4096)
    flip, seen = flip_second_whole_chunk(4096, delta_bit=1, byte=100, mask=0x40)
    with pytest.raises(CheatingDetected, match="check values"):
        cheat(ot, flip, n=3 * 4096)
    assert len(seen) >= 2
