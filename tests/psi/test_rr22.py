"""RR22 PSI: equals the plain intersection (both modes), orders, errors, and what malicious mode guarantees.

Regenerate the transcript vector after a deliberate change with ``python tests/psi/test_rr22.py``.
"""

import hashlib
import json
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc import Rng
from pqmpc.errors import CheatingDetected, HandshakeError, ParameterError, ProtocolError
from pqmpc.net import MemoryChannel, run_pair
from pqmpc.ot.base.kyber import KyberOT
from pqmpc.ot.base.saber import SaberOT
from pqmpc.psi import rr22
from pqmpc.psi.okvs import OkvsParams
from pqmpc.psi.rr22 import rr22_oprf_receiver, rr22_oprf_sender, rr22_receiver, rr22_sender, run_rr22

VECTOR = pathlib.Path(__file__).resolve().parents[2] / "vectors" / "psi" / "rr22_transcript.json"


def psi(xs, ys, malicious=False, reveal=True, channels=None, rngs=(None, None), **kw):
    return run_pair(lambda ch: rr22_sender(ch, xs, rngs[0], malicious, reveal, **kw),
                    lambda ch: rr22_receiver(ch, ys, rngs[1], malicious, reveal, **kw),
                    timeout=300, channels=channels)


def expected(xs, ys):
    """Plain intersection; a str is its UTF-8 bytes (so "" and b"" are the same item)."""
    xb = [x.encode() if isinstance(x, str) else x for x in xs]
    yb = [y.encode() if isinstance(y, str) else y for y in ys]
    common = set(xb) & set(yb)
    return ([i for i, x in enumerate(xb) if x in common], [i for i, y in enumerate(yb) if y in common])


def check(xs, ys, malicious=False):
    s_idx, r_idx = psi(xs, ys, malicious)
    es, er = expected(xs, ys)
    assert list(r_idx) == er
    assert list(s_idx) == es


items = st.lists(st.one_of(st.text(max_size=6), st.binary(max_size=6)), max_size=25)


@settings(max_examples=12, deadline=None)
@given(items, items, st.booleans())
def test_equals_plain_intersection(xs, ys, malicious):
    check(xs, ys + xs[: len(xs) // 2], malicious)


@pytest.mark.parametrize("malicious", [False, True])
def test_edge_sets(malicious):
    check([], [], malicious)
    check(["a"], [], malicious)
    check([], ["a"], malicious)
    check(["a"], ["a"], malicious)
    check(["a"], ["b"], malicious)
    check(["", "é", "日本", b"\x00", "a"], ["a", "", "日本", "x", "a"], malicious)
    check(["dup", "dup", "x"], ["dup", "y", "dup", "dup"], malicious)


@pytest.mark.parametrize("malicious,overlap", [(False, False), (True, False), (False, True), (True, True)])
def test_medium_sets(malicious, overlap):
    xs = [f"k{i}" for i in range(3000)]
    ys = [f"k{i}" for i in range(2000, 7000, 2)]
    s_idx, r_idx = psi(xs, ys, malicious, overlap=overlap)
    assert (list(s_idx), list(r_idx)) == expected(xs, ys)


def test_without_reveal_sender_gets_none():
    s, r = psi(["a", "b"], ["b", "c"], reveal=False)
    assert s is None and list(r) == [0]


def test_sender_values_do_not_depend_on_its_order():
    """The sent values are sorted: permuting the sender's items leaves the wire bytes unchanged."""
    xs = [f"v{i}" for i in range(300)]
    ys = [f"v{i}" for i in range(150, 400)]
    frames = []
    for perm in (xs, xs[::-1]):
        a, b = Recording.pair()
        psi(perm, ys, reveal=False, channels=(a, b), rngs=(Rng(b"s" * 32), Rng(b"r" * 32)),
            base_ot=KyberOT(backend="reference"))
        frames.append(a.sent[-1])
    assert frames[0] == frames[1]


class Recording(MemoryChannel):
    def _send_message(self, payload):
        self.__dict__.setdefault("sent", []).append(bytes(payload))
        super()._send_message(payload)


class Tamper(MemoryChannel):
    """Rewrites this end's outgoing arrays with ``fn(array) -> array or None``."""

    fn = None

    def send(self, data):
        if self.fn is not None and isinstance(data, np.ndarray):
            new = self.fn(data)
            if new is not None:
                data = new
        super().send(data)


def tampered(role, fn):
    a, b = Tamper.pair()
    (a if role == "sender" else b).fn = fn
    return a, b


def test_sender_with_a_bad_opening_is_caught():
    def flip(arr):
        if arr.shape == (16,) and arr.dtype == np.uint8:
            out = arr.copy()
            out[0] ^= 1
            return out
    with pytest.raises(ProtocolError, match="commitment"):
        psi(["a"], ["a"], malicious=True, channels=tampered("sender", flip))


def test_sender_with_inconsistent_vole_trees_is_caught():
    """Malicious mode checks the VOLE: a sender tampering with its GGM corrections is stopped."""
    def flip(arr):
        if arr.dtype == np.uint64 and arr.ndim == 4:
            out = arr.copy()
            out[0, 0, :, 1] ^= np.uint64(1)
            return out
    with pytest.raises(ProtocolError, match="inconsistent"):
        psi(["a", "b"], ["b"], malicious=True, channels=tampered("sender", flip))


def test_receiver_with_a_malformed_cot_matrix_is_caught():
    """Malicious mode runs KOS under the VOLE: a receiver whose IKNP matrix is inconsistent
    across columns (here row 28 flipped in half of them) would learn bits of the sender's
    Δ under plain IKNP; KOS's check stops the sender first."""
    def flip(arr):
        if arr.dtype == np.uint8 and arr.ndim == 2 and arr.shape[0] == 128 and arr.shape[1] > 1000:
            out = arr.copy()
            out[:64, 3] ^= 0x10
            return out
    with pytest.raises(CheatingDetected, match="check values"):
        psi(["a", "b"], ["b"], malicious=True, channels=tampered("receiver", flip))
    # semi-honest mode runs plain IKNP: the same tampering goes unnoticed and the session ends normally
    psi(["a", "b"], ["b"], malicious=False, channels=tampered("receiver", flip))


def test_malicious_mode_names_kos_and_refuses_a_semi_honest_base_before_sending():
    s, r = run_pair(lambda ch: run_rr22("sender", ch, ["a"], None, True, True),
                    lambda ch: run_rr22("receiver", ch, ["a"], None, True, True), timeout=120)
    assert s.params["cot"] == r.params["cot"] == "KOS"
    s, r = run_pair(lambda ch: run_rr22("sender", ch, ["a"], None, True, False),
                    lambda ch: run_rr22("receiver", ch, ["a"], None, True, False), timeout=120)
    assert s.params["cot"] == "IKNP"
    a, b = MemoryChannel.pair()
    with pytest.raises(ParameterError, match="semi-honest only"):
        run_rr22("sender", a, ["a"], None, True, True, base_ot=SaberOT("LightSaber"))
    assert a.stats.bytes_sent == 0


def test_receiver_claiming_unproven_matches_is_caught():
    """Malicious mode: every claimed match needs F'(x), which the sender never sent."""
    xs = [f"s{i}" for i in range(50)]
    ys = [f"s{i}" for i in range(40, 60)]   # 10 real matches

    def claim_all(arr):
        if arr.dtype == np.int64 and arr.ndim == 2:
            return np.arange(20, dtype=np.int64).reshape(-1, 1)
        if arr.dtype == np.uint8 and arr.shape == (10, 16):   # the honest proofs for 10 matches
            return np.random.default_rng(0).integers(0, 256, (20, 16), dtype=np.uint8)
    with pytest.raises(ProtocolError, match="cannot prove"):
        psi(xs, ys, malicious=True, channels=tampered("receiver", claim_all))


def test_receiver_reusing_proofs_is_caught():
    """Shifting honest proofs to other positions does not help either."""
    xs = [f"s{i}" for i in range(50)]
    ys = [f"s{i}" for i in range(45, 55)]

    def shift(arr):
        if arr.dtype == np.int64 and arr.ndim == 2 and arr.size:
            return np.sort((arr + 1) % 50, axis=0).astype(np.int64)
    with pytest.raises(ProtocolError):
        psi(xs, ys, malicious=True, channels=tampered("receiver", shift))


@pytest.mark.parametrize("malicious", [False, True])
def test_receiver_with_garbage_table_learns_nothing(malicious):
    """A receiver that sends anything but A + Encode(its set) decodes values unrelated to the sender's."""
    xs = [f"s{i}" for i in range(200)]
    ys = list(xs)

    def garbage(arr):
        if arr.dtype == np.uint8 and arr.shape == (OkvsParams(200).size, 16):
            return np.random.default_rng(1).integers(0, 256, arr.shape, dtype=np.uint8)
    s, r = psi(xs, ys, malicious, channels=tampered("receiver", garbage))
    assert list(r) == [] and list(s) == []


def test_malformed_sizes_are_protocol_errors():
    def cut(arr):
        if arr.dtype == np.uint8 and arr.shape == (OkvsParams(30).size, 16):
            return arr[:-1]
    with pytest.raises(ProtocolError, match="masked OKVS"):
        psi([f"s{i}" for i in range(30)], [f"s{i}" for i in range(30)], channels=tampered("receiver", cut))

    def bad_positions(arr):
        if arr.dtype == np.int64 and arr.ndim == 2:
            return np.array([[5], [5]], dtype=np.int64)
    with pytest.raises(ProtocolError, match="repeated"):
        psi(["a", "b", "c", "d", "e", "f"], ["a", "b"], channels=tampered("receiver", bad_positions))


class CutNth(MemoryChannel):
    """Sends its ``nth`` frame one byte short (or empty): every receive step must refuse it cleanly."""

    nth = -1

    def _send_message(self, payload):
        self.__dict__["count"] = self.__dict__.get("count", 0) + 1
        if self.count == self.nth:
            payload = bytes(payload)[:-1]
        super()._send_message(payload)


def _frames(role, malicious):
    a, b = Recording.pair()
    psi(["a", "b", "c"], ["b", "c", "d"], malicious, channels=(a, b))
    return len((a if role == "sender" else b).sent)


@pytest.mark.parametrize("malicious", [False, True])
@pytest.mark.parametrize("role", ["sender", "receiver"])
def test_every_frame_cut_short_is_a_protocol_error(role, malicious):
    """Each frame a party sends, one byte short, is a ProtocolError naming the step that received it
    (handshake, coin toss, sizes, base OT, IKNP, VOLE, OKVS, values, matches, proofs), never another
    exception or a hang."""
    n = _frames(role, malicious)
    assert n >= 11
    for k in range(1, n + 1):
        a, b = CutNth.pair()
        (a if role == "sender" else b).nth = k
        with pytest.raises(ProtocolError, match="step|handshake|header"):
            psi(["a", "b", "c"], ["b", "c", "d"], malicious, channels=(a, b))


def test_mode_mismatch_is_a_handshake_error():
    with pytest.raises(HandshakeError, match="mode"):
        run_pair(lambda ch: rr22_sender(ch, ["a"], malicious=True), lambda ch: rr22_receiver(ch, ["a"]),
                 timeout=60)


def test_oprf_api():
    """The OPRF on its own: receiver outputs equal the sender's key evaluated on the same ids."""
    r = np.random.default_rng(4)
    ids = r.integers(0, 256, (500, 16), dtype=np.uint8)
    for malicious in (False, True):
        key, out = run_pair(lambda ch: rr22_oprf_sender(ch, 500, malicious=malicious),
                            lambda ch: rr22_oprf_receiver(ch, ids, malicious=malicious), timeout=120)
        assert np.array_equal(key.eval(ids), out)
        other = r.integers(0, 256, (500, 16), dtype=np.uint8)
        assert not np.isin(key.eval(other).view(np.uint64)[:, 0], out.view(np.uint64)[:, 0]).any()
    with pytest.raises(ParameterError, match="distinct"):
        run_pair(lambda ch: rr22_oprf_sender(ch, 2), lambda ch: rr22_oprf_receiver(ch, np.zeros((2, 16), np.uint8)),
                 timeout=60)


def test_okvs_seed_retry(monkeypatch):
    """The receiver's first OKVS seed failing (≤ 2^-40 per the fit, forced here) only changes the final
    seed it sends: the sender drops the rows it prepared under the first one and the result is right."""
    from pqmpc.psi import okvs

    real = okvs.OkvsRows.encode
    calls = []

    def flaky(self, values, presorted=False):
        calls.append(self.seed)
        if len(calls) == 1:
            raise okvs.OkvsFailure("forced")
        return real(self, values, presorted)

    monkeypatch.setattr(okvs.OkvsRows, "encode", flaky)
    xs = [f"s{i}" for i in range(300)]
    ys = [f"s{i}" for i in range(250, 400)]
    s_idx, r_idx = psi(xs, ys)
    assert len(calls) == 2 and calls[0] != calls[1]
    assert (list(s_idx), list(r_idx)) == expected(xs, ys)


def test_peer_size_cap_and_kappa():
    """A peer announcing more distinct items than we accept is refused before anything is allocated."""
    with pytest.raises(ProtocolError, match="set sizes"):
        run_pair(lambda ch: rr22_sender(ch, ["a"], max_peer_items=2),
                 lambda ch: rr22_receiver(ch, ["a", "b", "c"]), timeout=60)
    with pytest.raises(ParameterError, match="kappa"):
        run_rr22("sender", None, ["a"], kappa=256)


@pytest.mark.parametrize("protocol,malicious", [("kkrt", False), ("rr22", False), ("rr22", True)])
def test_protocol_dispatch(protocol, malicious):
    from pqmpc.psi import psi_receiver, psi_sender

    xs, ys = ["a", "b", "c", "é"], ["c", "é", "x", "c"]
    s_idx, r_idx = run_pair(
        lambda ch: psi_sender(ch, xs, reveal_to_sender=True, protocol=protocol, malicious=malicious),
        lambda ch: psi_receiver(ch, ys, reveal_to_sender=True, protocol=protocol, malicious=malicious), timeout=120)
    assert (list(s_idx), list(r_idx)) == expected(xs, ys)


def test_protocol_mismatch_and_bad_choices():
    from pqmpc.psi import psi_receiver, psi_sender

    with pytest.raises(HandshakeError):
        run_pair(lambda ch: psi_sender(ch, ["a"], protocol="rr22"), lambda ch: psi_receiver(ch, ["a"], protocol="kkrt"),
                 timeout=60)
    with pytest.raises(ParameterError, match="semi-honest only"):
        psi_sender(None, ["a"], protocol="kkrt", malicious=True)
    with pytest.raises(ParameterError, match="unknown PSI protocol"):
        psi_sender(None, ["a"], protocol="ecdh")


def test_tag_bits():
    assert rr22.tag_bytes(1 << 20, 1 << 20, False) == 10
    assert rr22.tag_bytes(1 << 20, 1 << 20, True) == 16
    assert rr22.tag_bytes(1, 1, False) == 5


def transcript(malicious: bool) -> dict:
    a, b = Recording.pair()
    xs = [f"x{i}" for i in range(400)]
    ys = [f"x{i}" for i in range(300, 600)]
    res = run_pair(lambda ch: run_rr22("sender", ch, xs, Rng(b"rr22 vector sender"), True, malicious,
                                       base_ot=KyberOT(backend="reference")),
                   lambda ch: run_rr22("receiver", ch, ys, Rng(b"rr22 vector receiver"), True, malicious,
                                       base_ot=KyberOT(backend="reference")), timeout=300, channels=(a, b))
    frames = {}
    for name, end in (("sender", a), ("receiver", b)):
        h = hashlib.sha256()
        for f in end.sent:
            if not f.startswith(b'{"magic":"pqmpc-handshake/'):
                h.update(len(f).to_bytes(4, "little") + f)
        frames[name] = h.hexdigest()
    return {"sender_indices": [int(i) for i in res[0].indices[:5]],
            "receiver_indices": [int(i) for i in res[1].indices[:5]],
            "intersection": res[1].intersection, "transcript_sha256": frames}


def compute() -> dict:
    return {"sender_items": "x0..x399", "receiver_items": "x300..x599", "reveal_to_sender": True,
            "semi_honest": transcript(False), "malicious": transcript(True)}


def test_known_answer():
    assert compute() == json.loads(VECTOR.read_text())



@pytest.mark.parametrize("check", [False, True], ids=["semi-honest", "checked"])
def test_vole_chunked_trees_same_outputs(monkeypatch, check):
    """The GGM trees are expanded a chunk of trees at a time (pqmpc.ot.ext.vole.CHUNK_LEAVES); the
    chunking must change no output: small chunks (many, the last one partial) against one chunk for
    all trees, same seeds, and C = B + A·Δ on every index."""
    from pqmpc.ot.ext import vole as vole_mod
    from pqmpc.primitives.gf128 import mul

    k = 3000
    p = vole_mod.VoleParams(k)
    assert p.trees % 2 and p.h > 2   # 2 trees a chunk below leaves a partial last chunk

    def run(chunk):
        monkeypatch.setattr(vole_mod, "CHUNK_LEAVES", chunk)
        v = vole_mod.SilentVole(check=check)
        return run_pair(lambda ch: v.send(ch, k, Rng(b"chunk test sender")),
                        lambda ch: v.receive(ch, k, Rng(b"chunk test receiver")), timeout=120)

    (d1, b1), (a1, c1) = run(2 << p.h)
    (d2, b2), (a2, c2) = run(1 << 30)
    assert np.array_equal(d1, d2) and np.array_equal(b1, b2) and np.array_equal(a1, a2) and np.array_equal(c1, c2)
    assert np.array_equal(c1, b1 ^ mul(a1, np.tile(d1, (k, 1))))


@pytest.mark.parametrize("malicious", [False, True])
def test_reused_workspaces_across_sizes(malicious):
    """Sessions reuse the previous session's scratch (names with disjoint lifetimes share memory):
    sizes up and down, duplicates and unequal sides stay exact, and the known-answer transcript is
    byte for byte the same on scratch dirtied by bigger sessions and after a release."""
    rr22.release_workspaces()
    for a, b in [(5000, 3000), (200, 4000), (4000, 150)]:
        xs = [f"w{i}" for i in range(a)] + [f"w{i}" for i in range(0, a, 7)]
        ys = [f"w{i}" for i in range(a // 2, a // 2 + b)] + ["w1", "w1"]
        got = psi(xs, ys, malicious)
        assert (list(got[0]), list(got[1])) == expected(xs, ys)
    want = json.loads(VECTOR.read_text())["malicious" if malicious else "semi_honest"]
    assert transcript(malicious) == want
    assert rr22.release_workspaces() > 0
    assert transcript(malicious) == want


if __name__ == "__main__":
    VECTOR.write_text(json.dumps(compute(), indent=1) + "\n")
