"""SoftSpokenOT: relation on every index for each k and mode, ~κ/k bits per OT, the malicious
check catches a cheating receiver (tampered corrections, GGM level sums or check values)."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import CheatingDetected, HandshakeError, ParameterError
from pqmpc.net import run_pair
from pqmpc.ot.base.saber import SaberOT
from pqmpc.ot.base.simplest import SimplestOT
from pqmpc.ot.ext.softspoken import SoftSpoken
from pqmpc.primitives.bits import unpack_bits
from pqmpc.rng import Rng
from tests.ot.mal_helpers import TamperingChannel
from tests.ot.test_kos import transcript_case

DELTA = Rng(b"softspoken-test-delta").blocks(1, 16)[0]
MODES = ["semi-honest", "malicious"]
VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "ot" / "softspoken_128.json"


def session(ot, sender_calls, receiver_calls, arm=None, who="receiver", delta=DELTA):
    chans = TamperingChannel.pair(timeout=120)

    def party(role, calls):
        def run(ch):
            if arm is not None and who == role and arm[0] == "setup":
                ch.arm(arm[1])
            ot.setup(ch, role, Rng(role.encode()), delta=delta if role == "sender" else None)
            if arm is not None and who == role and arm[0] == "calls":
                ch.arm(arm[1])
            return calls(ch)
        return run

    return run_pair(party("sender", sender_calls), party("receiver", receiver_calls), channels=chans, timeout=120)


@pytest.mark.parametrize("k", [1, 2, 4, 8])
@pytest.mark.parametrize("security", MODES)
@settings(max_examples=4, deadline=None)
@given(sizes=st.lists(st.sampled_from([0, 1, 7, 128, 129, 1000, 5000]), min_size=1, max_size=3))
def test_relation_on_every_index(k, security, sizes):
    ot = SoftSpoken(k, security, base=SimplestOT(), chunk=1024)
    rng = Rng(repr((k, sizes)).encode())
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
            assert len({bytes(r) for r in m0}) == n


DELTA256 = Rng(b"softspoken-test-delta-256").blocks(1, 32)[0]


@pytest.mark.parametrize("k", [1, 2, 4, 8])
@pytest.mark.parametrize("security", MODES)
@settings(max_examples=2, deadline=None)
@given(sizes=st.lists(st.sampled_from([0, 1, 7, 129, 1000, 3000]), min_size=1, max_size=2))
def test_relation_on_every_index_kappa_256(k, security, sizes):
    """κ = 256: 32-byte nodes as AES-256 keys, AES-256-CTR leaves, tccr_wide, GF(2^256) check."""
    ot = SoftSpoken(k, security, kappa=256, base=SimplestOT(32), chunk=1024)
    rng = Rng(repr((k, sizes, 256)).encode())
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


@pytest.mark.parametrize("security", MODES)
def test_tampered_corrections_kappa_256(security):
    k, n = 4, 1000
    ot = SoftSpoken(k, security, kappa=256, base=SimplestOT(32), chunk=4096)
    nb = 256 // k
    dbits = unpack_bits(DELTA256, 256).reshape(nb, k)
    block = int(np.flatnonzero(dbits.any(axis=1))[-1])
    choices = Rng(b"cheat").bits(n)
    size = nb * ((n + ot.pad + 7) // 8)

    def flip(i, frame):
        if len(frame) == size:
            frame[block * (len(frame) // nb) + 2] ^= 0x04  # OT 18
        return frame

    def run():
        return session(ot, lambda ch: ot.send_correlated(ch, n), lambda ch: ot.receive_correlated(ch, choices),
                       arm=("calls", flip), delta=DELTA256)

    if security == "malicious":
        with pytest.raises(CheatingDetected, match="check values"):
            run()
    else:
        (d, q), t = run()
        assert np.flatnonzero((t != (q ^ (choices[:, None] * d))).any(axis=1)).tolist() == [18]


def test_tampered_whole_chunk_caught_by_the_row_kernels_sum_kappa_256():
    """κ = 256 random OT in whole chunks, so the sender's hashed row kernels sum the check (GF(2^256))
    in cache: one flipped bit in a middle chunk's corrections is caught."""
    from pqmpc.ot.ext import subspace_vole as sv

    k, chunk, n = 4, 1024, 4 * 1024
    ot = SoftSpoken(k, "malicious", kappa=256, base=SimplestOT(32), chunk=chunk)
    nb = 256 // k
    dbits = unpack_bits(DELTA256, 256).reshape(nb, k)
    block = int(np.flatnonzero(dbits.any(axis=1))[-1])
    seen = []

    def flip(i, frame):
        if len(frame) == nb * chunk // 8:
            seen.append(i)
            if len(seen) == 2:
                frame[block * (len(frame) // nb) + 5] ^= 0x10
        return frame

    taken = []
    rows = sv.VoleMatrixSender.recv_chunk_rows

    def recv_chunk_rows(self, *a, **kw):
        taken.append(rows(self, *a, **kw))
        return taken[-1]

    choices = Rng(b"cheat-256").bits(n)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sv.VoleMatrixSender, "recv_chunk_rows", recv_chunk_rows)
        with pytest.raises(CheatingDetected, match="check values"):
            session(ot, lambda ch: ot.send_random(ch, n), lambda ch: ot.receive_random(ch, choices),
                    arm=("calls", flip), delta=DELTA256)
    assert len(seen) >= 2
    if sv.HAVE_FUSED and sv.HAVE_WIDE_HASHED_TILES:
        assert taken.count(True) >= 3  # the whole chunks were summed in the kernels


@pytest.mark.parametrize("k", [2, 4, 8])
def test_bits_per_ot_is_about_kappa_over_k(k):
    ot = SoftSpoken(k, base=SimplestOT())
    n = 1 << 16
    c = Rng(b"c").bits(n)

    def sender(ch):
        before = ch.stats.snapshot()
        ot.send_random(ch, n)
        return ch.stats.since(before)

    def receiver(ch):
        before = ch.stats.snapshot()
        ot.receive_random(ch, c)
        return ch.stats.since(before)

    s, r = session(ot, sender, receiver)
    bits = 8 * (s.bytes_sent + r.bytes_sent) / n
    assert 128 / k <= bits <= 128 / k + 0.1


@pytest.mark.parametrize("k", [2, 4, 8])
def test_chosen_messages_and_caller_delta(k):
    ot = SoftSpoken(k, "malicious", base=SimplestOT())
    n = 333
    choices = Rng(b"c").bits(n)
    other = Rng(b"other").blocks(1, 16)[0]
    m0, m1 = Rng(b"m0").blocks(n), Rng(b"m1").blocks(n)
    ((d, q), _), (t, got) = session(
        ot, lambda ch: (ot.send_correlated(ch, n, other), ot.send(ch, m0, m1)),
        lambda ch: (ot.receive_correlated(ch, choices), ot.receive(ch, choices)))
    assert np.array_equal(d, other) and np.array_equal(t, q ^ (choices[:, None] * other))
    assert np.array_equal(got, np.where(choices[:, None] == 1, m1, m0))


def nonzero_block(k):
    blocks = unpack_bits(DELTA, 128).reshape(128 // k, k)
    return int(np.flatnonzero(blocks.any(axis=1))[0])


def corrections_len(k, n, pad):
    return (128 // k) * ((n + pad + 7) // 8)


@pytest.mark.parametrize("k", [2, 4, 8])
@pytest.mark.parametrize("security", MODES)
def test_tampered_corrections(k, security):
    """Malicious mode catches a flipped correction bit (a receiver using different choice bits in
    one block); semi-honest mode does not notice, and the relation breaks on that OT."""
    ot = SoftSpoken(k, security, base=SimplestOT(), chunk=4096)
    n = 1000
    block = nonzero_block(k)
    choices = Rng(b"cheat").bits(n)

    def flip(i, frame):
        if len(frame) == corrections_len(k, n, ot.pad):
            frame[block * (len(frame) // (128 // k)) + 2] ^= 0x04  # OT 18, block `block`
        return frame

    def run():
        return session(ot, lambda ch: ot.send_correlated(ch, n), lambda ch: ot.receive_correlated(ch, choices),
                       arm=("calls", flip))

    if security == "malicious":
        with pytest.raises(CheatingDetected, match="check values"):
            run()
    else:
        (d, q), t = run()
        bad = np.flatnonzero((t != (q ^ (choices[:, None] * d))).any(axis=1))
        assert bad.tolist() == [18]


def test_tampered_ggm_level_sums_are_caught():
    ot = SoftSpoken(4, "malicious", base=SimplestOT())
    size = 32 * 4 * 2 * 16

    def flip(i, frame):
        if len(frame) == size:
            frame[7] ^= 1
        return frame

    with pytest.raises(CheatingDetected):
        session(ot, lambda ch: ot.send_random(ch, 100), lambda ch: ot.receive_random(ch, Rng(b"c").bits(100)),
                arm=("setup", flip))


@pytest.mark.parametrize("k", [2, 8])
def test_tampered_check_values_are_caught(k):
    ot = SoftSpoken(k, "malicious", base=SimplestOT())
    seen = []

    def flip(i, frame):
        if len(frame) == 32:
            seen.append(i)
            if len(seen) == 2:
                frame[20] ^= 1
        return frame

    with pytest.raises(CheatingDetected):
        session(ot, lambda ch: ot.send_random(ch, 500), lambda ch: ot.receive_random(ch, Rng(b"c").bits(500)),
                arm=("calls", flip))


def test_parameters_and_base_policy():
    with pytest.raises(ParameterError, match="k must be"):
        SoftSpoken(3)
    with pytest.raises(ParameterError, match="security"):
        SoftSpoken(4, "covert")
    with pytest.raises(ParameterError, match="kappa"):
        SoftSpoken(4, kappa=192)
    with pytest.raises(ParameterError, match="32-byte messages"):
        SoftSpoken(4, kappa=256, base=SimplestOT())
    assert SoftSpoken(4, "malicious", kappa=256).handshake_params()["check"] == "gf256/pad320"
    with pytest.raises(ParameterError, match="semi-honest only"):
        SoftSpoken(4, "malicious", base=SaberOT("LightSaber"))
    assert SoftSpoken(4, "semi-honest", base=SaberOT("LightSaber")).base.construction == "np"


def test_mode_and_k_are_part_of_the_handshake():
    with pytest.raises(HandshakeError):
        run_pair(lambda ch: SoftSpoken(4, "malicious", base=SimplestOT()).setup(ch, "sender", Rng(b"s")),
                 lambda ch: SoftSpoken(4, "semi-honest", base=SimplestOT()).setup(ch, "receiver", Rng(b"r")),
                 timeout=60)
    with pytest.raises(HandshakeError):
        run_pair(lambda ch: SoftSpoken(2, base=SimplestOT()).setup(ch, "sender", Rng(b"s")),
                 lambda ch: SoftSpoken(4, base=SimplestOT()).setup(ch, "receiver", Rng(b"r")), timeout=60)


def write_vectors_128() -> None:
    """Regenerate ``softspoken_128.json`` (only on a deliberate wire change):
    ``PYTHONPATH=. python -c "from tests.ot.test_softspoken import write_vectors_128 as w; w()"``."""
    from tests.ot.test_kos import rewrite_vectors

    rewrite_vectors(VECTORS, lambda case: SoftSpoken(case["k"], case["security"], base=SimplestOT(),
                                                     chunk=case["chunk"]))


def test_recorded_sessions():
    data = json.loads(VECTORS.read_text())
    assert data["protocol"] == "SoftSpokenOT" and len(data["cases"]) >= 6 and data["version"] == SoftSpoken.version
    for case in data["cases"]:
        got = transcript_case(
            lambda: SoftSpoken(case["k"], case["security"], base=SimplestOT(), chunk=case["chunk"]), case)
        for key in ("transcript_sha256", "outputs_sha256", "first_receiver_output"):
            assert got[key] == case[key], (case["k"], case["security"], key)


VECTORS_256 = VECTORS.with_name("softspoken_256.json")


def write_vectors_256() -> None:
    """Regenerate ``softspoken_256.json`` (only on a deliberate wire change):
    ``PYTHONPATH=. python -c "from tests.ot.test_softspoken import write_vectors_256 as w; w()"``."""
    cases = []
    for k in (1, 2, 4, 8):
        for sec in MODES:
            tag = f"ss256-{k}-{sec}"
            case = {"k": k, "security": sec, "chunk": 1024, "sender_seed": (tag + "/s").encode().hex(),
                    "receiver_seed": (tag + "/r").encode().hex(),
                    "ops": [{"op": "correlated", "n": 1500}, {"op": "random", "n": 1}, {"op": "random", "n": 300}]}
            case.update(transcript_case(lambda: SoftSpoken(k, sec, kappa=256, base=SimplestOT(32), chunk=1024), case))
            cases.append(case)
    data = {"protocol": "SoftSpokenOT", "version": SoftSpoken.version, "kappa": 256, "base": "SimplestOT(32)",
            "note": "Layout as softspoken_128.json; κ = 256 (AES-256 GGM nodes and leaves, tccr_wide, "
                    "GF(2^256) check).", "cases": cases}
    VECTORS_256.write_text(json.dumps(data, indent=1) + "\n")


def test_recorded_sessions_kappa_256():
    data = json.loads(VECTORS_256.read_text())
    assert data["protocol"] == "SoftSpokenOT" and data["kappa"] == 256 and len(data["cases"]) == 8
    assert data["version"] == SoftSpoken.version
    for case in data["cases"]:
        got = transcript_case(lambda: SoftSpoken(case["k"], case["security"], kappa=256, base=SimplestOT(32),
                                                 chunk=case["chunk"]), case)
        for key in ("transcript_sha256", "outputs_sha256", "first_receiver_output"):
            assert got[key] == case[key], (case["k"], case["security"], key)


def vole_trees(k: int, width: int, rng: Rng):
    """``(leaves, sender_leaves, points, dbits)``: full GGM trees from ``rng`` and the sender's trees
    punctured at the points of Δ (``DELTA`` or ``DELTA256``), as the extension's base OTs leave them."""
    from pqmpc.ot.ext import subspace_vole as sv

    kappa = 8 * width
    nb = kappa // k
    leaves, sums = sv.full_trees(rng.blocks(nb, width), k)
    dbits = unpack_bits(DELTA if width == 16 else DELTA256, kappa)
    points = (dbits.reshape(nb, k).astype(np.int64) << np.arange(k)).sum(axis=1)
    known = sums[np.arange(nb)[:, None], np.arange(k)[None, :], 1 - sv.path_bits(points, k)]
    return leaves, sv.punctured_trees(known, points, k), points, dbits


@pytest.mark.parametrize("k,width", [(1, 16), (2, 16), (4, 16), (8, 16), (2, 32), (4, 32)])
def test_vole_matrices_match_a_one_shot_expansion(k, width):
    """The matrix classes (streams expanded in column pieces, odd chunk sizes, block-aligned
    stream positions) give the rows of a one-shot expansion, and the rows satisfy the VOLE
    relation; the punctured trees hide exactly the punctured leaf."""
    from pqmpc.net import MemoryChannel
    from pqmpc.ot.ext import subspace_vole as sv
    from pqmpc.primitives.bits import pack_bits
    from pqmpc.primitives.prg import MultiKeyCTR

    kappa = 8 * width
    nb = kappa // k
    rng = Rng(b"kernels-%d" % k)
    leaves, sender_leaves, points, dbits = vole_trees(k, width, rng)
    hidden = np.zeros((nb, 1 << k), dtype=bool)
    hidden[np.arange(nb), points] = True
    assert np.array_equal(sender_leaves[~hidden], leaves[~hidden]) and not sender_leaves[hidden].any()
    receiver, sender = sv.VoleMatrixReceiver(leaves, k), sv.VoleMatrixSender(sender_leaves, points, dbits, k)
    from pqmpc.ot.ext.vole_fused import HAVE_FUSED

    # k = 2, 4 (AES-128 leaves) run the fused kernel where VAES is, for the sizes whose padded width is
    # a multiple of vole_fused.SLICE bytes (64 with ymm, 128 with zmm), and the bulk path for the others: both must give the one-shot rows.
    assert (receiver._rky is not None) == (HAVE_FUSED and k in (2, 4))
    streams = MultiKeyCTR(leaves.reshape(-1, width))
    sizes = (1000, 4096, 100, 129, 20000)
    total = sum(sv.padded((c + 7) // 8) for c in sizes)
    whole = streams.next(total)
    at = 0
    for c in sizes:
        choice = rng.bits(c)
        a, b = MemoryChannel.pair()
        v = receiver.send_chunk(a, c, pack_bits(choice).reshape(1, -1)).copy()
        q = sender.recv_chunk(b, c, "corrections").copy()
        cb, cbp = (c + 7) // 8, sv.padded((c + 7) // 8)
        r = np.ascontiguousarray(whole[:, at:at + cbp])
        at += cbp
        padded_choice = np.zeros(cbp, np.uint8)
        padded_choice[:cb] = pack_bits(choice)
        corr, want = np.empty((nb, cbp), np.uint8), np.empty((kappa, cbp), np.uint8)
        sv.vole_receiver_rows(r, k, padded_choice, corr, want)
        assert np.array_equal(v, want[:, :cb])
        assert np.array_equal(q, v ^ (dbits[:, None] * pack_bits(choice)[None, :]))


@pytest.mark.parametrize("k,width", [(2, 16), (4, 16), (4, 32), (8, 16)])
def test_vole_row_kernels_match_columns_then_transpose(k, width):
    """``send_chunk_rows`` / ``recv_chunk_rows`` (VOLE and transpose fused per column tile where the
    row kernel runs: chunks of whole slices, full and partial tiles; the column path otherwise) give
    the rows of ``send_chunk`` / ``recv_chunk`` transposed, with the streams in step across calls,
    the corrections on the wire byte for byte the same, and ``q_j = t_j ⊕ b_j·Δ`` on every row."""
    from pqmpc.net import MemoryChannel
    from pqmpc.ot.ext import subspace_vole as sv
    from pqmpc.ot.ext.matrix import transpose_rows
    from pqmpc.ot.ext.vole_fused import SLICE, TILE_BYTES
    from pqmpc.primitives.bits import pack_bits

    kappa = 8 * width
    nb = kappa // k
    rng = Rng(b"rows-%d-%d" % (k, width))
    delta = DELTA if width == 16 else DELTA256
    leaves, sender_leaves, points, dbits = vole_trees(k, width, rng)
    fused = (sv.VoleMatrixReceiver(leaves, k), sv.VoleMatrixSender(sender_leaves, points, dbits, k))
    plain = (sv.VoleMatrixReceiver(leaves, k), sv.VoleMatrixSender(sender_leaves, points, dbits, k))
    one_tile = 8 * TILE_BYTES
    sizes = (8 * SLICE, one_tile, 3 * one_tile + 8 * SLICE, 100, 8 * SLICE, 2 * one_tile, 8 * SLICE + 8, one_tile)
    for c in sizes:
        choice = rng.bits(c)
        code = pack_bits(choice).reshape(1, -1)
        a, b = MemoryChannel.pair()
        t = np.empty((c, width), np.uint8)
        fused[0].send_chunk_rows(a, c, code, t)
        wire = b.recv_array(np.uint8, (nb, (c + 7) // 8), "corrections")
        a.send(wire)
        q = np.empty((c, width), np.uint8)
        fused[1].recv_chunk_rows(b, c, "corrections", q)
        a2, b2 = MemoryChannel.pair()
        want_t = np.empty((c, width), np.uint8)
        transpose_rows(plain[0].send_chunk(a2, c, code), c, want_t)
        want_wire = b2.recv_array(np.uint8, (nb, (c + 7) // 8), "corrections")
        a2.send(want_wire)
        want_q = np.empty((c, width), np.uint8)
        transpose_rows(plain[1].recv_chunk(b2, c, "corrections"), c, want_q)
        assert np.array_equal(wire, want_wire), c
        assert np.array_equal(t, want_t), c
        assert np.array_equal(q, want_q), c
        assert np.array_equal(q, t ^ (choice[:, None] * delta[None, :])), c


@pytest.mark.parametrize("security", ["semi-honest", "malicious"])
@pytest.mark.parametrize("k,chunk,kappa", [(4, None, 128), (2, 8192, 128), (4, 4992, 128), (4, 8192, 256)])
def test_random_ot_hashed_in_the_row_kernels_equals_kos_hashing(monkeypatch, security, k, chunk, kappa):
    """Random OT with each tile's rows hashed inside the VOLE row kernels (tails, padding and the
    chunks on other paths hashed by the per-chunk hook) gives byte for byte the outputs of KOS's
    hashing after the rows, over several calls (tweak counter, remainder-first chunks, partial
    last tiles), and the OT relation on every index."""
    from pqmpc.ot.ext import subspace_vole as sv

    sizes = (3 * 4096 + 21, 1, 70000, 8192)
    choices = [Rng(b"hashed-%d" % n).bits(n) for n in sizes]

    def run():
        ot = SoftSpoken(k, security, kappa=kappa, base=SimplestOT(kappa // 8), chunk=chunk)

        def snd(ch):
            return [ot.send_random(ch, n, rng=Rng(b"s")) for n in sizes]

        def rcv(ch):
            return [ot.receive_random(ch, c, rng=Rng(b"r")) for c in choices]

        return run_pair(snd, rcv)

    s1, r1 = run()
    monkeypatch.setattr(sv, "HAVE_HASHED_TILES", False)
    monkeypatch.setattr(sv, "HAVE_WIDE_HASHED_TILES", False)
    s2, r2 = run()
    for (m0, m1), mb, (w0, w1), wb, c in zip(s1, r1, s2, r2, choices):
        assert np.array_equal(m0, w0) and np.array_equal(m1, w1) and np.array_equal(mb, wb)
        assert np.array_equal(mb, np.where(c[:, None] == 1, m1, m0))


def test_checked_calls_take_the_row_kernels_reading_ahead(monkeypatch):
    """A malicious call's whole chunks, the last one too, run on the sender's row kernels (no column
    pass) with the check summed there; the last chunks' corrections are read ``read_ahead`` chunks
    ahead of the work, so the whole matrix is in (and the coin open) before the work on the last
    ``read_ahead + 1`` chunks; the outputs are the OTs."""
    from pqmpc.ot.ext import subspace_vole as sv

    if not sv.HAVE_FUSED:
        pytest.skip("no VAES: every chunk takes the column path")
    events = []
    col = sv.VoleMatrixSender.recv_chunk
    rows = sv.VoleMatrixSender.recv_chunk_rows
    ahead = sv.VoleMatrixSender.recv_corrections

    def recv_chunk(self, ch, c, step):
        events.append(("columns", c))
        return col(self, ch, c, step)

    def recv_corrections(self, ch, c, step):
        events.append(("in", c))
        return ahead(self, ch, c, step)

    def recv_chunk_rows(self, ch, c, step, rows_, check=None, corr=None):
        summed = rows(self, ch, c, step, rows_, check, corr)
        events.append(("rows", c, corr is not None, summed))
        return summed

    monkeypatch.setattr(sv.VoleMatrixSender, "recv_chunk", recv_chunk)
    monkeypatch.setattr(sv.VoleMatrixSender, "recv_corrections", recv_corrections)
    monkeypatch.setattr(sv.VoleMatrixSender, "recv_chunk_rows", recv_chunk_rows)
    n, chunk = 4 * 4096 + 7, 4096
    ot = SoftSpoken(4, "malicious", base=SimplestOT(), chunk=chunk)
    choices = Rng(b"last-chunk").bits(n)
    (m0, m1), mb = run_pair(lambda ch: ot.send_random(ch, n, rng=Rng(b"s")),
                            lambda ch: ot.receive_random(ch, choices, rng=Rng(b"r")))
    assert np.array_equal(mb, np.where(choices[:, None] == 1, m1, m0))
    rem = n + ot.pad - 4 * chunk
    assert ot.read_ahead == 2 and 0 < rem < chunk
    # the remainder first (too short for the kernels: summed after), then four whole chunks summed in
    # them; the last three chunks' corrections (the whole matrix) are in before the work on them
    assert events == [("in", rem), ("rows", rem, True, False), ("in", chunk), ("rows", chunk, True, True),
                      ("in", chunk), ("in", chunk), ("in", chunk)] + [("rows", chunk, True, True)] * 3


@pytest.mark.parametrize("k,kappa", [(2, 128), (4, 128), (4, 256)])
def test_check_summed_in_the_row_kernels_equals_sender_sum(k, kappa):
    """The sender's row kernels with ``check=`` (plain rows, and hashed random-OT rows in the ring
    buffer, the chunk's last rows beyond the hashed ones included) add exactly ``sender_sum`` of the
    rows, chunk after chunk (the running power carried across chunks and across the column path),
    with the same rows and hashes as without the check. κ = 256: GF(2^256) sums in the hashed
    kernels; plain rows are left to the caller."""
    from pqmpc.net import MemoryChannel
    from pqmpc.ot.ext import subspace_vole as sv
    from pqmpc.ot.ext.check import Challenges
    from pqmpc.ot.ext.vole_fused import SLICE, TILE_BYTES
    from pqmpc.primitives.bits import pack_bits

    if not sv.HAVE_FUSED or (kappa == 256 and not sv.HAVE_WIDE_HASHED_TILES):
        pytest.skip("no VAES (or no zmm at κ = 256): the row kernels do not run")
    w = kappa // 8
    nb = kappa // k
    rng = Rng(b"check-rows-%d-%d" % (k, kappa))
    delta = DELTA if kappa == 128 else DELTA256
    leaves, sender_leaves, points, dbits = vole_trees(k, w, rng)
    rcv = sv.VoleMatrixReceiver(leaves, k)
    summed, plain = (sv.VoleMatrixSender(sender_leaves, points, dbits, k) for _ in range(2))
    chi, want_chi = (Challenges(b"s" * 32, b"r" * 32, b"0/0", w) for _ in range(2))
    got, want = np.zeros(w, np.uint8), np.zeros(w, np.uint8)
    one_tile = 8 * TILE_BYTES
    # (chunk, rows of it hashed: None = no random-OT plan); 100 takes the column path
    cases = [(8 * SLICE, None), (100, None), (3 * one_tile + 8 * SLICE, None), (one_tile, one_tile),
             (2 * one_tile, 2 * one_tile - 192), (8 * SLICE, 8 * SLICE - 16), (one_tile + 8 * SLICE, 8 * SLICE + 5)]
    for c, nh in cases:
        a, b = MemoryChannel.pair()
        rcv.send_chunk_rows(a, c, pack_bits(rng.bits(c)).reshape(1, -1), np.empty((c, w), np.uint8))
        wire = b.recv_array(np.uint8, (nb, (c + 7) // 8), "corrections")
        a.send(wire)
        a.send(wire)
        q, want_q = np.zeros((c, w), np.uint8), np.empty((c, w), np.uint8)
        hashes = []
        for mat in (summed, plain):
            n = c if nh is None else nh
            mat.plan = None if nh is None else sv.RowHashPlan(n, 1000, 7, m0=np.zeros((n, w), np.uint8),
                                                              m1=np.zeros((n, w), np.uint8), delta=delta)
            if mat is summed:
                took = mat.recv_chunk_rows(b, c, "corrections", q, check=chi.tile_args())
                if not took:
                    got ^= chi.sender_sum(q)
                # κ = 256: the hashed kernels sum, the plain ones leave it to the caller
                assert took == (c % (8 * SLICE) == 0 and (kappa == 128 or nh is not None)), (c, nh)
            else:
                assert not mat.recv_chunk_rows(b, c, "corrections", want_q)
                want ^= want_chi.sender_sum(want_q)
            if mat.plan is not None:
                hashes.append((mat.plan.hashed, mat.plan.m0, mat.plan.m1))
            mat.plan = None
        assert np.array_equal(got ^ chi.tiles_sum(), want), (c, nh)
        if nh is None:
            assert np.array_equal(q, want_q), c
        else:
            (h, m0, m1), (wh, w0, w1) = hashes
            assert h == wh == nh - nh % 16
            assert np.array_equal(m0[:h], w0[:h]) and np.array_equal(m1[:h], w1[:h]), (c, nh)
            if nh % 16 == 0:  # every row the caller reads hashed: made in the ring, ``q`` untouched
                assert not q.any()
            else:
                assert np.array_equal(q, want_q), (c, nh)
    assert got.any()
