"""SaberOT: the OT relation on every index, wire sizes, malformed messages and
recorded transcripts (``vectors/ot/saber_<variant>_<construction>.json``)."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import ChannelClosed, HandshakeError, ParameterError, ProtocolError
from pqmpc.net import MemoryChannel, handshake, run_pair
from pqmpc.ot.base import saber as saber_ot
from pqmpc.ot.base.saber import SaberOT
from pqmpc.rng import Rng
from tests.helpers import RecordingChannel

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "ot"
VARIANTS = ["LightSaber", "Saber", "FireSaber"]
CONSTRUCTIONS = list(saber_ot.CONSTRUCTIONS)
SIZES = [0, 1, 2, 127, 128, 129]



def run_random(ot, choices, sender_seed=b"sender", receiver_seed=b"receiver", channels=None):
    n = len(choices)
    return run_pair(lambda ch: ot.send_random(ch, n, Rng(sender_seed)),
                    lambda ch: ot.receive_random(ch, choices, Rng(receiver_seed)),
                    timeout=60, channels=channels)


def check_relation(m0, m1, mb, choices):
    n = len(choices)
    assert m0.shape == m1.shape == mb.shape == (n, 16)
    assert m0.dtype == m1.dtype == mb.dtype == np.uint8
    want = np.where(choices[:, None] == 1, m1, m0)
    bad = np.flatnonzero((mb != want).any(axis=1))
    assert bad.size == 0, f"OT relation fails at indices {bad[:10]}"
    # The unchosen message differs everywhere (equal blocks would mean a broken key).
    assert ((m0 != m1).any(axis=1)).all()


@settings(max_examples=12, deadline=None)
@given(n=st.sampled_from(SIZES), variant=st.sampled_from(VARIANTS),
       construction=st.sampled_from(CONSTRUCTIONS), seed=st.binary(min_size=4, max_size=4))
def test_random_ot_relation(n, variant, construction, seed):
    ot = SaberOT(variant, construction)
    choices = Rng(seed).bits(n)
    (m0, m1), mb = run_random(ot, choices, b"s" + seed, b"r" + seed)
    check_relation(m0, m1, mb, choices)


@pytest.mark.parametrize("construction", CONSTRUCTIONS)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("n", [0, 129])
def test_every_variant_and_size(variant, construction, n):
    ot = SaberOT(variant, construction)
    choices = Rng(b"choices%d" % n).bits(n)
    if n:
        choices[0], choices[-1] = 0, 1
    (m0, m1), mb = run_random(ot, choices)
    check_relation(m0, m1, mb, choices)


@pytest.mark.parametrize("construction", CONSTRUCTIONS)
def test_chosen_message_ot(construction):
    ot = SaberOT("LightSaber", construction)
    n = 37
    rng = Rng(b"chosen")
    m0, m1, choices = rng.blocks(n), rng.blocks(n), rng.bits(n)
    _, got = run_pair(lambda ch: ot.send(ch, m0, m1, Rng(b"a")), lambda ch: ot.receive(ch, choices, Rng(b"b")),
                      timeout=60)
    assert np.array_equal(got, np.where(choices[:, None] == 1, m1, m0))


@pytest.mark.parametrize("construction", CONSTRUCTIONS)
def test_fresh_randomness_gives_fresh_outputs(construction):
    ot = SaberOT("LightSaber", construction)
    choices = np.array([0, 1, 1, 0], dtype=np.uint8)
    (a0, a1), _ = run_random(ot, choices, b"x", b"y")
    (b0, b1), _ = run_random(ot, choices, b"x2", b"y")
    (c0, c1), _ = run_random(ot, choices, b"x", b"y")
    assert not np.array_equal(a0, b0) and not np.array_equal(a1, b1)
    assert np.array_equal(a0, c0) and np.array_equal(a1, c1)


def test_np_marginal_bytes_per_ot_lightsaber():
    # 128 and 129 OTs have equally long handshakes, so the difference is one OT.
    ot = SaberOT("LightSaber", "np")
    totals = []
    for n in (128, 129):
        chans = MemoryChannel.pair()
        run_random(ot, Rng(b"c").bits(n), channels=chans)
        totals.append(chans[0].stats.bytes_sent + chans[1].stats.bytes_sent)
    assert totals[1] - totals[0] == 640 + 640 + 2 * 96 == 1472
    # Per batch: the commitment and both coin-toss contributions.
    assert ot.receiver_message_bytes(1) + ot.sender_message_bytes(1) - 3 * saber_ot.SEED_BYTES == 1472


@pytest.mark.parametrize("variant,per_ot", [("LightSaber", 1472), ("Saber", 2176), ("FireSaber", 2944)])
def test_np_message_sizes(variant, per_ot):
    ot = SaberOT(variant, "np")
    assert ot.receiver_message_bytes(10) + ot.sender_message_bytes(10) == 96 + 10 * per_ot


# ----------------------------------------------------------------- malformed peers

def _fake_peer(ot, n, role, script):
    """Handshake correctly as ``role``, then follow ``script`` (bytes: send them; None:
    receive one message) and drain what arrives."""
    peer = "receiver" if role == "sender" else "sender"

    def run(ch):
        handshake(ch, saber_ot.PROTOCOL, saber_ot.VERSION,
                  {"variant": ot.variant, "construction": ot.construction, "n": n, "block_bytes": ot.block_bytes},
                  role=role, peer_role=peer)
        try:
            for p in script:
                if p is None:
                    ch.recv()
                else:
                    ch.send(p)
            while True:
                ch.recv()
        except Exception:
            return
    return run


SEED_R = bytes(range(32))
COMMIT_R = saber_ot.commitment(SEED_R)


@pytest.mark.parametrize("script,step", [
    ([b"\x00" * 31], "step 1 \\(receiver commitment\\): expected 32 bytes, got 31"),
    ([b"\x00" * 33], "step 1 \\(receiver commitment\\): expected 32 bytes, got 33"),
    ([COMMIT_R, SEED_R[:-1]], "step 3 \\(receiver seed opening\\): expected 32 bytes"),
    ([COMMIT_R, bytes(32)], "step 3 \\(receiver seed opening\\): the seed does not open"),
    ([COMMIT_R, SEED_R, bytes(3 * 640 - 1)], "step 4 \\(receiver vectors b'_0\\): expected 1920 bytes, got 1919"),
    ([COMMIT_R, SEED_R, bytes(3 * 640 + 1)], "step 4"),
    ([COMMIT_R, SEED_R, b""], "step 4"),
])
def test_sender_rejects_bad_receiver_message(script, step):
    ot = SaberOT("LightSaber", "np")
    with pytest.raises(ProtocolError, match=step):
        run_pair(lambda ch: ot.send_random(ch, 3, Rng(b"s")), _fake_peer(ot, 3, "receiver", script), timeout=30)


@pytest.mark.parametrize("script,step", [
    ([None, bytes(31)], "step 2 \\(sender seed\\): expected 32 bytes, got 31"),
    ([None, bytes(64)], "step 2 \\(sender seed\\)"),
    ([None, b""], "step 2"),
    ([None, bytes(32), None, None, bytes(3 * 1216 - 1)], "step 5 \\(sender vector b and hints\\)"),
    ([None, bytes(32), None, None, bytes(3 * 1216 + 1)], "step 5"),
    ([None, bytes(32), None, None, bytes(3 * 1216 - 1216)], "step 5"),
    ([None, bytes(32), None, None, b""], "step 5"),
])
def test_receiver_rejects_bad_sender_message(script, step):
    ot = SaberOT("Saber", "np")
    choices = np.array([1, 0, 1], dtype=np.uint8)
    with pytest.raises(ProtocolError, match=step):
        run_pair(_fake_peer(ot, 3, "sender", script), lambda ch: ot.receive_random(ch, choices, Rng(b"r")),
                 timeout=30)


# ----------------------------------------------------------------- per-session CRS (coin toss)

def _session_crs(variant, chans, n):
    """(A, r) of a recorded np run, recomputed from the two seeds on the wire."""
    seed_r, seed_s = chans[1].sent[2], chans[0].sent[1]
    assert chans[1].sent[1] == saber_ot.commitment(seed_r)
    return saber_ot.session_reference(variant, saber_ot.session_seed(variant, n, seed_r, seed_s))


def test_np_sessions_get_different_crs():
    ot = SaberOT("LightSaber", "np")
    choices = np.array([0, 1, 1], dtype=np.uint8)
    crs = {}
    for label, (ss, rs) in {"base": (b"s1", b"r1"), "sender": (b"s2", b"r1"), "receiver": (b"s1", b"r2")}.items():
        chans = RecordingChannel.pair()
        (m0, m1), mb = run_random(ot, choices, ss, rs, channels=chans)
        check_relation(m0, m1, mb, choices)
        crs[label] = _session_crs("LightSaber", chans, 3)
    a0, r0 = crs["base"]
    # A fresh contribution from either side alone gives a different A and r: the
    # receiver's seed does not fix r, nor the sender's fix A.
    for label in ("sender", "receiver"):
        a1, r1 = crs[label]
        assert not np.array_equal(a0, a1) and not np.array_equal(r0, r1), label
    assert a0.shape == (2, 2, 256) and r0.shape == (2, 256)
    assert a0.min() >= 0 and a0.max() < 8192 and r0.min() >= 0 and r0.max() < 1024


def test_np_receiver_commits_before_seeing_the_sender_seed():
    # The receiver's first post-handshake message is the commitment, and the sender's
    # contribution is sent only after it arrived: a sender that is never answered
    # never sends its seed.
    ot = SaberOT("LightSaber", "np")
    a, b = RecordingChannel.pair(timeout=10)

    def silent_receiver(ch):
        handshake(ch, saber_ot.PROTOCOL, saber_ot.VERSION,
                  {"variant": ot.variant, "construction": "np", "n": 2, "block_bytes": 16},
                  role="receiver", peer_role="sender")
        ch.close()

    with pytest.raises(ChannelClosed):
        run_pair(lambda ch: ot.send_random(ch, 2, Rng(b"s")), silent_receiver, channels=(a, b), timeout=30)
    assert a.frames_without_handshake() == []


CRS_VECTOR = VECTORS / "saber_np_crs.json"


def _crs_case(variant, n, seed_r, seed_s):
    sid = saber_ot.session_seed(variant, n, seed_r, seed_s)
    a, r = saber_ot.session_reference(variant, sid)
    from pqmpc.lattice import saber_poly as sp

    return {"commitment": saber_ot.commitment(seed_r).hex(), "sid": sid.hex(),
            "A_sha256": hashlib.sha256(sp.pack(a, 13).tobytes()).hexdigest(),
            "r_sha256": hashlib.sha256(sp.pack(r, 10).tobytes()).hexdigest()}


def test_np_crs_fixed_seed_vector():
    data = json.loads(CRS_VECTOR.read_text())
    assert len(data["cases"]) >= 3
    for case in data["cases"]:
        got = _crs_case(case["variant"], case["n"], bytes.fromhex(case["seed_r"]), bytes.fromhex(case["seed_s"]))
        for key, value in got.items():
            assert case[key] == value, f"{case['variant']} n={case['n']}: {key} changed"


@pytest.mark.parametrize("other", [("Saber", "np", 4), ("LightSaber", "mr", 4), ("LightSaber", "np", 5)])
def test_handshake_mismatch(other):
    a = SaberOT("LightSaber", "np")
    b = SaberOT(other[0], other[1])
    with pytest.raises(HandshakeError):
        run_pair(lambda ch: a.send_random(ch, 4), lambda ch: b.receive_random(ch, np.zeros(other[2], np.uint8)),
                 timeout=30)


def test_two_senders_are_caught():
    ot = SaberOT()
    with pytest.raises(HandshakeError):
        run_pair(lambda ch: ot.send_random(ch, 2), lambda ch: ot.send_random(ch, 2), timeout=30)


def test_bad_arguments():
    with pytest.raises(ParameterError):
        SaberOT("Kyber")
    with pytest.raises(ParameterError):
        SaberOT("LightSaber", "co")
    ot = SaberOT()
    a, _ = MemoryChannel.pair()
    with pytest.raises(ParameterError):
        ot.send_random(a, -1)
    with pytest.raises(ParameterError):
        ot.receive_random(a, np.array([0, 2]))


# ----------------------------------------------------------------- recorded transcripts

def compute_case(variant, construction, case):
    n = case["n"]
    choices = np.array([int(c) for c in case["choices"]], dtype=np.uint8)
    assert len(choices) == n
    chans = RecordingChannel.pair()
    ot = SaberOT(variant, construction)
    (m0, m1), mb = run_random(ot, choices, bytes.fromhex(case["sender_seed"]), bytes.fromhex(case["receiver_seed"]),
                              channels=chans)
    check_relation(m0, m1, mb, choices)
    # Frame 0 of each side is the handshake, which carries the package version.
    h = hashlib.sha256()
    for tag, ch in ((b"S", chans[0]), (b"R", chans[1])):
        for frame in ch.sent[1:]:
            h.update(tag + len(frame).to_bytes(4, "little") + frame)
    out = {"transcript_sha256": h.hexdigest(),
           "outputs_sha256": hashlib.sha256(m0.tobytes() + m1.tobytes()).hexdigest()}
    if n <= 4:
        out["m0"] = [r.tobytes().hex() for r in m0]
        out["m1"] = [r.tobytes().hex() for r in m1]
    return out


def _vector_files():
    return [(v, c) for v in VARIANTS for c in CONSTRUCTIONS]


@pytest.mark.parametrize("variant,construction", _vector_files())
def test_recorded_vectors(variant, construction):
    path = VECTORS / f"saber_{variant}_{construction}.json"
    data = json.loads(path.read_text())
    assert data["protocol"] == "SaberOT" and data["variant"] == variant and data["construction"] == construction
    assert len(data["cases"]) >= 2
    for case in data["cases"]:
        got = compute_case(variant, construction, case)
        for key, value in got.items():
            assert case[key] == value, f"{path.name} n={case['n']}: {key} changed"


def regenerate():
    """Write the vector files (run by hand after a deliberate wire-format change)."""
    for variant, construction in _vector_files():
        cases = []
        for n in (3, 129):
            seed = hashlib.sha256(f"{variant}/{construction}/{n}".encode()).digest()
            case = {"n": n, "sender_seed": seed[:16].hex(), "receiver_seed": seed[16:].hex(),
                    "choices": "".join(str(b) for b in Rng(seed).bits(n))}
            case.update(compute_case(variant, construction, case))
            cases.append(case)
        doc = {"protocol": "SaberOT", "version": saber_ot.VERSION, "variant": variant, "construction": construction,
               "note": "Seeds are pqmpc.Rng seeds; transcript_sha256 hashes every post-handshake frame, "
                       "sender's first, each as tag (S/R) || u32le length || payload.",
               "cases": cases}
        (VECTORS / f"saber_{variant}_{construction}.json").write_text(json.dumps(doc, indent=1) + "\n")
    cases = []
    for variant in VARIANTS:
        seed = hashlib.sha256(f"crs/{variant}".encode()).digest()
        case = {"variant": variant, "n": 128, "seed_r": seed.hex(), "seed_s": hashlib.sha256(seed).hexdigest()}
        case.update(_crs_case(variant, case["n"], seed, hashlib.sha256(seed).digest()))
        cases.append(case)
    doc = {"protocol": "SaberOT", "version": saber_ot.VERSION, "construction": "np",
           "note": "Per-session CRS of the np construction from both coin-toss seeds (hex); A packed 13-bit, "
                   "r packed 10-bit, little-endian bit streams, then SHA-256.",
           "cases": cases}
    CRS_VECTOR.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    regenerate()


# ----------------------------------------------------------------- Masny–Rindal key group

@pytest.mark.parametrize("variant", VARIANTS)
def test_mr_key_group_kem_roundtrip(variant):
    from pqmpc.lattice import saber as sab
    from pqmpc.ot.base.saber_mr import SaberKeyGroup

    g = SaberKeyGroup(sab.get_params(variant))
    rng = Rng(b"group")
    seed = rng.bytes(g.seed_bytes)
    pk, sk = g.keygen(seed, 9, rng)
    assert pk.min() >= 0 and pk.max() < 1024
    k, ct = g.encaps(seed, pk, rng)
    assert ct.shape == (9, g.ct_bytes) and k.shape == (9, 32)
    assert np.array_equal(g.decaps(sk, ct), k)
    # The group law and the codec are consistent.
    x, y = g.random(9, rng), g.hash_to(rng.array((9, 50)))
    assert np.array_equal(g.sub(g.add(x, y), y), x)
    assert np.array_equal(g.decode(g.encode(x), "t"), x)


@pytest.mark.parametrize("variant,per_ot", [("LightSaber", 2752), ("Saber", 4096), ("FireSaber", 5504)])
def test_mr_message_sizes(variant, per_ot):
    ot = SaberOT(variant, "mr")
    assert ot.receiver_message_bytes(10) + ot.sender_message_bytes(10) == 32 + 10 * per_ot


@pytest.mark.parametrize("delta", [-1, +1])
def test_mr_rejects_bad_lengths(delta):
    ot = SaberOT("LightSaber", "mr")
    n = 2
    with pytest.raises(ProtocolError, match="step 1"):
        run_pair(lambda ch: ot.send_random(ch, n, Rng(b"s")),
                 _fake_peer(ot, n, "receiver", [bytes(ot.receiver_message_bytes(n) + delta)]), timeout=30)
    with pytest.raises(ProtocolError, match="step 2"):
        run_pair(_fake_peer(ot, n, "sender", [bytes(ot.sender_message_bytes(n) + delta)]),
                 lambda ch: ot.receive_random(ch, np.array([0, 1], np.uint8), Rng(b"r")), timeout=30)


# ----------------------------------------------------------------- literal model of the np protocol

def _negacyclic(a):
    """Integer matrix M with M @ b = a * b mod (x^256 + 1), exact in int64."""
    idx = np.arange(256)
    k, j = np.meshgrid(idx, idx, indexing="ij")
    d = k - j
    return np.where(d >= 0, a[d % 256], -a[d % 256]).astype(np.int64)


def _bits_le(data: bytes, width: int, count: int):
    v = int.from_bytes(data, "little")
    return np.array([(v >> (width * i)) & ((1 << width) - 1) for i in range(count)], dtype=np.int64)


@pytest.mark.parametrize("variant", VARIANTS)
def test_np_matches_literal_per_ot_model(variant):
    """One OT at a time, integer matrices and hashlib: the paper's steps written out plainly."""
    from pqmpc.lattice import saber as sab

    p = sab.get_params(variant)
    l, q, pm = p.l, 1 << 13, 1 << 10
    n = 2
    choices = np.array([1, 0], dtype=np.uint8)
    chans = RecordingChannel.pair()
    (m0, m1), mb = run_random(SaberOT(variant), choices, b"model-s", b"model-r", channels=chans)

    # The coin toss, written out: commitment, session id and the session's CRS.
    seed_r, seed_s = chans[1].sent[2], chans[0].sent[1]
    assert chans[1].sent[1] == hashlib.sha3_256(b"pqmpc/SaberOT/np/v2/commit" + seed_r).digest()
    name = variant.encode()
    sid = hashlib.sha3_256(b"pqmpc/SaberOT/np/v2/sid" + bytes([len(name)]) + name + n.to_bytes(8, "little")
                           + seed_r + seed_s).digest()
    crs = b"pqmpc/SaberOT/np/v2/crs/" + sid
    a = sab.gen_matrix(p, hashlib.shake_128(crs + b"A").digest(32))
    r = _bits_le(hashlib.shake_128(crs + b"r").digest(l * 320), 10, l * 256).reshape(l, 256)

    def secrets(coins):
        h = p.mu // 2
        bits = _bits_le(coins, 1, len(coins) * 8)
        out = []
        for j in range(len(coins) * 8 // p.mu):
            chunk = bits[p.mu * j: p.mu * (j + 1)]
            out.append(int(chunk[:h].sum()) - int(chunk[h:].sum()))
        return np.array(out, dtype=np.int64).reshape(l, 256)

    def matvec(s, transpose):
        return np.array([sum(_negacyclic(a[j][i] if transpose else a[i][j]) @ s[j] for j in range(l))
                         for i in range(l)])

    def inner(b, s):
        return sum(_negacyclic(b[j]) @ s[j] for j in range(l))

    def rnd(x):
        return ((x + 4) % q) >> 3

    def out_hash(sid, i, j, keybits):
        key = int(sum(int(b) << t for t, b in enumerate(keybits))).to_bytes(32, "little")
        return hashlib.shake_256(b"pqmpc/SaberOT/np/v2/H" + sid + i.to_bytes(8, "little") + bytes([j]) + key).digest(16)

    rr, rs = Rng(b"model-r"), Rng(b"model-s")
    assert rr.bytes(32) == seed_r and rs.bytes(32) == seed_s
    coins_r = rr.bytes(n * l * p.coin_bytes)
    coins_s = rs.bytes(n * l * p.coin_bytes)
    sender_msg = chans[0].sent[2]
    row = l * 320 + 2 * p.scale_bytes
    for i in range(n):
        x = int(choices[i])
        s_r = secrets(coins_r[i * l * p.coin_bytes:(i + 1) * l * p.coin_bytes])
        s_s = secrets(coins_s[i * l * p.coin_bytes:(i + 1) * l * p.coin_bytes])
        bx = rnd(matvec(s_r, True))
        bp = [bx, (r - bx) % pm] if x == 0 else [(r - bx) % pm, bx]
        b = rnd(matvec(s_s, False))
        v = [(inner(bp[j], s_s) + 4) % pm for j in (0, 1)]
        hints = [(vj >> (9 - p.et)) % (1 << p.et) for vj in v]
        keys = [vj >> 9 for vj in v]
        # The sender's wire row: b (10-bit) then both hints (et-bit), little-endian bit streams.
        got = sender_msg[i * row:(i + 1) * row]
        assert np.array_equal(_bits_le(got[:l * 320], 10, l * 256).reshape(l, 256), b)
        assert np.array_equal(_bits_le(got[l * 320:], p.et, 512).reshape(2, 256), np.array(hints))
        assert out_hash(sid, i, 0, keys[0]) == m0[i].tobytes()
        assert out_hash(sid, i, 1, keys[1]) == m1[i].tobytes()
        # The receiver's side of the reconciliation recovers k_x.
        vr = (inner(b, s_r) + 4) % pm
        kx = ((vr - hints[x] * (1 << (9 - p.et)) + p.h2) % pm) >> 9
        assert np.array_equal(kx, keys[x])
        assert out_hash(sid, i, x, kx) == mb[i].tobytes()


def test_np_chunking_does_not_change_results(monkeypatch):
    ot = SaberOT("Saber", "np")
    choices = Rng(b"chunks").bits(129)
    chans = RecordingChannel.pair()
    (a0, a1), ab = run_random(ot, choices, channels=chans)
    monkeypatch.setattr(saber_ot, "_CHUNK", 50)
    chunked = RecordingChannel.pair()
    (b0, b1), bb = run_random(ot, choices, channels=chunked)
    assert np.array_equal(a0, b0) and np.array_equal(a1, b1) and np.array_equal(ab, bb)
    assert chans[0].sent == chunked[0].sent and chans[1].sent == chunked[1].sent
    check_relation(b0, b1, bb, choices)


@pytest.mark.slow
def test_np_large_batch():
    ot = SaberOT("LightSaber", "np")
    choices = Rng(b"large").bits(3 * 2048 + 5)
    (m0, m1), mb = run_random(ot, choices)
    check_relation(m0, m1, mb, choices)


def test_one_object_serves_concurrent_sessions():
    # Two independent batches through the same SaberOT objects at the same time.
    import threading

    results = {}
    for construction in CONSTRUCTIONS:
        ot = SaberOT("LightSaber", construction)

        def session(tag, ot=ot, construction=construction):
            choices = Rng(tag).bits(40)
            results[(construction, tag)] = (choices, run_random(ot, choices, tag + b"s", tag + b"r"))

        threads = [threading.Thread(target=session, args=(t,)) for t in (b"one", b"two", b"three")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert len(results) == 3 * len(CONSTRUCTIONS)
    for choices, ((m0, m1), mb) in results.values():
        check_relation(m0, m1, mb, choices)


# ----------------------------------------------------------------- names and security level

def test_names_and_security_level():
    from pqmpc.ot.base.saber import ModLwrOT
    from pqmpc.ot.base.saber_mr import MR19SaberOT
    from pqmpc.ot.interfaces import CorrelatedOT, RandomOT
    from pqmpc.params import LEVEL_128, LEVEL_256

    # A base OT is a random OT, and only that: callers test capabilities with isinstance.
    assert isinstance(SaberOT("Saber", "mr"), RandomOT) and not isinstance(SaberOT("Saber", "mr"), CorrelatedOT)

    assert type(SaberOT()) is ModLwrOT and type(SaberOT("Saber", "mr")) is MR19SaberOT
    assert isinstance(SaberOT("Saber", "mr"), SaberOT) and isinstance(ModLwrOT(), SaberOT)
    assert (SaberOT().variant, SaberOT().block_bytes) == ("LightSaber", 16)
    assert SaberOT(level=LEVEL_128).variant == "LightSaber"
    for construction in CONSTRUCTIONS:
        ot = SaberOT(construction=construction, level=LEVEL_256)
        assert (ot.variant, ot.block_bytes, ot.construction) == ("FireSaber", 32, construction)
        choices = Rng(b"lvl").bits(5)
        (m0, m1), mb = run_random(ot, choices)
        assert mb.shape == (5, 32) and np.array_equal(mb, np.where(choices[:, None] == 1, m1, m0))
    with pytest.raises(ParameterError, match="FireSaber"):
        SaberOT("Saber", block_bytes=32)
    with pytest.raises(ParameterError, match="contradicts"):
        SaberOT(block_bytes=16, level=LEVEL_256)
    with pytest.raises(ParameterError, match="'np' construction"):
        ModLwrOT("Saber", "mr")
