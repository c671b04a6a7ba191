"""VOLE-based PSI of Raghuraman–Rindal, "Blazing Fast PSI from Improved OKVS and Subfield VOLE" (CCS 2022).

OPRF (sender S holds the key, receiver R learns ``F(y)`` for its ids ``y``):

1. R draws an OKVS seed and encodes ``P = Encode({y ↦ H_v(y)})`` (:mod:`.okvs`,
   ``m = size`` blocks); it sends the seed.
2. A random VOLE of length m (:class:`pqmpc.ot.ext.vole.SilentVole`): S gets
   ``Δ, B``; R gets ``A, C`` with ``C = B + A·Δ``.
3. R sends ``A' = A + P``; S sets ``K = B + A'·Δ = C + P·Δ``.
4. ``F(x) = H_o(Decode(K, x) + Δ·H_v(x))`` at S; for ``y`` in R's set,
   ``Decode(K, y) + Δ·H_v(y) = Decode(C, y)``, so R computes
   ``F(y) = H_o(Decode(C, y))``. For any other ``x`` the term
   ``Δ·(Decode(P, x) + H_v(x))`` with ``Decode(P, x) ≠ H_v(x)`` (except with
   probability 2^-128) hides the output under Δ.

PSI: both parties map their items to 128-bit ids (:mod:`.keys`, session key
from a coin toss), drop duplicates and exchange the numbers of distinct
items; S sends its ``n_s`` values ``F(x)`` truncated to
``ℓ = λ + ⌈log2(n_s·n_r)⌉`` bits (λ = 40) and *sorted*, so their order is a
function of the set of values only; R looks its own values up. With
``reveal_to_sender``, R sends back the sorted positions (in S's sorted list)
that matched: a function of the intersection only, not of R's input order.

``malicious=True`` (RR22 §5, as in the reference implementation): S commits
to a random ``w_s`` (SHA-256) before the VOLE, R answers with ``w_r``, S opens
and R checks the opening; with ``w = w_s + w_r`` the outputs are
``F(x) = H(Decode(·) + w, x)`` — a hash of both the masked value and the id
(a TCCR with the id as tweak, under a key of its own) — and are sent in full
(128 bits). With ``reveal_to_sender`` R must also prove each claimed match
with a second, never-sent output ``F'(x)``: S checks every proof, so a
receiver that claims items it did not evaluate is caught
(:class:`~pqmpc.errors.ProtocolError`).

What each side learns: R the intersection and ``n_s``; S ``n_r`` and, with
``reveal_to_sender``, the intersection. False matches ≤ 2^-40 per session
(semi-honest outputs), OKVS failures are retried locally with a new seed.

Security. Semi-honest mode: secure against semi-honest parties, assuming
dual LPN (the VOLE), the lattice base OT, and fixed-key AES as a
correlation-robust hash / random permutation — all post-quantum candidates.
Malicious mode: a receiver that sends a malformed ``A'`` just decodes
garbage (it learns nothing, tested), and one that claims matches it cannot
prove is caught; a sender whose VOLE trees are inconsistent (selective
failure on the noise positions) is caught by the VOLE check
(Wolverine-style, ``SilentVole(check=True)``, up to the usual one bit of
selective-failure leakage), and one whose opening of ``w_s`` is wrong too.
Not covered: a malicious receiver may program up to ``m ≈ 1.30·n_r`` ids
into its table (the RR22 bound: the set size is enforced only up to the
OKVS size), and a cheating sender may learn about one bit of the VOLE noise
positions from whether the check passes. The COTs under the VOLE are KOS in
malicious mode (IKNP with its consistency check; a semi-honest-only base OT
is refused before any message). So *malicious mode* = RR22's output/commitment
changes, match proofs, the VOLE check and KOS, **not** full malicious
security.
Python cannot
promise constant time.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from contextlib import contextmanager

import numpy as np
from numba import njit

from ..errors import ParameterError, ProtocolError
from ..net import Channel, handshake
from ..primitives.buffers import ScratchPool
from ..primitives.gf128 import gf128_mul_block
from ..primitives.hashing import cr, tccr
from ..rng import Rng
from . import keys, values
from .okvs import OkvsParams, OkvsRows, check_distinct, okvs_encode_random_seed
from .session import LAMBDA, MAX_ITEMS, PsiResult, coin_toss, default_base_ot, exchange_sizes

PROTOCOL = "RR22-PSI"
VERSION = 1
DEFAULT_BIN_SIZE = 1 << 15


def _label_key(label: str) -> bytes:
    return hashlib.sha256(b"pqmpc/rr22/" + label.encode()).digest()[:16]


#: Public AES keys that separate the hash roles (value to encode, output, malicious output, match proof).
KEY_VALUE, KEY_OUT, KEY_MAL, KEY_PROOF = (_label_key(x) for x in ("value", "out", "mal", "proof"))


def value_hash(ids: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``H_v``: the GF(2^128) value the receiver encodes for each id (into ``out`` if given)."""
    return cr(ids, key=KEY_VALUE, out=out)


def _out_hash(u: np.ndarray, ids: np.ndarray, w: np.ndarray | None, key: bytes, out=None) -> np.ndarray:
    """``H(u)`` (semi-honest) or ``TCCR(u + w, id)`` (malicious); ``u`` must already hold ``u + w`` when
    ``w`` is given (see :func:`_add_w`). ``out`` must not alias ``u``."""
    if w is None:
        return cr(u, key=key, out=out)
    return tccr(u, ids, key=key, out=out)


def _add_w(u: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    if w is not None:
        u ^= w
    return u


@njit(cache=True, nogil=True)
def _xor_mul_const(a, d0, d1, out):
    """``out[i] += a[i]·Δ`` over GF(2^128), in place: no broadcast copy of Δ, no product array."""
    for i in range(a.shape[0]):
        x = gf128_mul_block((a[i, 0], a[i, 1]), (d0, d1))
        out[i, 0] ^= x[0]
        out[i, 1] ^= x[1]


def xor_mul_const(a: np.ndarray, delta: np.ndarray, out: np.ndarray) -> None:
    """``out += a·Δ`` row by row (``(n, 16)`` uint8 blocks, ``Δ`` ``(16,)``), in place."""
    d = np.ascontiguousarray(delta, dtype=np.uint8).view(np.uint64)
    _xor_mul_const(np.ascontiguousarray(a).view(np.uint64), d[0], d[1], out.view(np.uint64))


class _Background:
    """Run ``fn`` in a thread (numba kernels release the GIL); :meth:`result` joins and re-raises."""

    def __init__(self, fn):
        self._out = self._err = None
        self._t = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._t.start()

    def _run(self, fn):
        try:
            self._out = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            self._err = exc

    def result(self):
        self._t.join()
        if self._err is not None:
            raise self._err
        return self._out


class _Now:
    """:class:`_Background`'s interface, run at once in this thread."""

    def __init__(self, fn):
        self._out = fn()

    def result(self):
        return self._out


#: Scratch names that share memory within a session, per role: the first is dead before the second
#: is asked for (e.g. the dedup table after the setup, the receiver's noise vector A once it masked
#: the table, the sender's decoded values once hashed), so a session keeps ~70 % of the memory that
#: one buffer per name would. Checked against the phase order in :func:`_run`, ``_receiver``, ``_sender``.
_ALIASES = {
    "receiver": {"dedup slots": "okvs table", "dedup reps": "okvs bins", "okvs values": "okvs decoded",
                 "oprf out": "okvs table", "peer tags": "vole noise", "tags": "item ids", "found": "okvs bins"},
    "sender": {"dedup slots": "okvs decoded", "dedup reps": "okvs bins", "tags": "okvs decoded",
               "sort k0": "okvs bins", "sort k1": "okvs cols", "values": "okvs dense"},
}


class _SessionPool(ScratchPool):
    """A :class:`ScratchPool` whose names alias per :data:`_ALIASES` (disjoint lifetimes share memory)."""

    def __init__(self, role: str):
        super().__init__()
        self._alias = _ALIASES[role]

    def get(self, name: str, shape, dtype=np.uint8) -> np.ndarray:
        return super().get(self._alias.get(name, name), shape, dtype)


#: The largest session workspace kept for the next session of the same role (a 2^22-item receiver
#: keeps ~0.9 GB); larger ones are freed at the end of their session.
KEEP_WORKSPACE_BYTES = 5 << 28

#: Working memory of finished sessions, per role, for the next session to reuse (see :func:`_workspace`).
_WORKSPACES: dict[str, list[ScratchPool]] = {"sender": [], "receiver": []}
_WORKSPACE_LOCK = threading.Lock()


@contextmanager
def _workspace(role: str):
    """A :class:`ScratchPool` for one session, kept for the next session of this role afterwards.

    The VOLE's code-length arrays (about 2·1.3·n blocks per party) come from it: on these VMs the
    first touch of fresh memory costs ~8 µs per 4 KiB page (more than the AES that fills it), and
    a big array freed and allocated again is fresh memory again (glibc maps blocks over 32 MiB, and
    a thread's arena cannot hold them, anew each time: at 2^22 items every array, at 2^20 none).
    Concurrent sessions each take their own pool. A pool over :data:`KEEP_WORKSPACE_BYTES` is not
    kept (about 2^22 items a side); :func:`release_workspaces` drops the kept memory."""
    with _WORKSPACE_LOCK:
        free = _WORKSPACES[role]
        pool = free.pop() if free else _SessionPool(role)
    try:
        yield pool
    finally:
        if pool.nbytes <= KEEP_WORKSPACE_BYTES:
            with _WORKSPACE_LOCK:
                _WORKSPACES[role].append(pool)


def session_workspace(role: str):
    """Context manager: the per-role :class:`~pqmpc.primitives.buffers.ScratchPool` RR22 sessions
    reuse (see :func:`_workspace`), for drivers built on RR22's OPRF (payload PSI) to pass as
    ``SilentVole(pool=...)`` and for their own set-sized scratch. Views of it are valid only inside
    the ``with`` block and until the next ``get`` of the same name: results a caller keeps must
    be copied out. Names of :data:`_ALIASES` share memory with others of the same role."""
    return _workspace(role)


def release_workspaces() -> int:
    """Drop the working memory RR22 PSI keeps between sessions; returns the bytes released."""
    with _WORKSPACE_LOCK:
        freed = sum(p.nbytes for pools in _WORKSPACES.values() for p in pools)
        for pools in _WORKSPACES.values():
            pools.clear()
    return freed


class Rr22OprfKey:
    """The sender's OPRF key: evaluate ``F`` on any ids with :meth:`eval`."""

    def __init__(self, delta, table, seed, params: OkvsParams, w, prepared=None):
        self.delta, self.table, self.seed, self.params, self.w = delta, table, seed, params, w
        self._prepared = prepared   # (ids, OkvsRows under self.seed) computed during the VOLE

    def eval(self, ids, proof: bool = False) -> np.ndarray:
        """``(n, 16)`` OPRF outputs (``proof=True``: the malicious-mode match proofs ``F'``)."""
        out, order = self.eval_binned(ids, proof)
        return _unbin(out, order)

    def eval_binned(self, ids, proof: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``(outputs, order)``: the outputs of ``ids[order]`` (the OKVS bin order, cache-friendly)."""
        ids = np.ascontiguousarray(ids, dtype=np.uint8)
        if ids.ndim != 2 or ids.shape[1] != 16:
            raise ParameterError(f"ids must be (n, 16) blocks, got {ids.shape}")
        if self._prepared is not None and self._prepared[0] is ids:
            rows = self._prepared[1]
        else:
            rows = OkvsRows(ids, self.seed, self.params)
        sk = rows.sorted_keys
        u = rows.decode(self.table, presorted=True)
        # the outputs' memory: the pool's when the rows came from it (then valid until its next use)
        vh = value_hash(sk, out=None if rows.pool is None else rows.pool.get("oprf values", (rows.n, 16)))
        xor_mul_const(vh, self.delta, u)
        key = KEY_PROOF if proof else KEY_MAL if self.w is not None else KEY_OUT
        # the outputs go to vh's memory: nothing new as long as the set
        return _out_hash(_add_w(u, self.w), sk, self.w, key, out=vh), rows.order


def _commit(w: np.ndarray) -> bytes:
    return hashlib.sha256(b"pqmpc/rr22/commit" + w.tobytes()).digest()


def rr22_oprf_sender(ch: Channel, n_receiver: int, rng=None, malicious: bool = False, vole=None,
                     bin_size: int = DEFAULT_BIN_SIZE, timings: dict | None = None, prepare=None,
                     overlap: bool = False) -> Rr22OprfKey:
    """Sender of the RR22 OPRF for a receiver with ``n_receiver`` ids; returns the key.

    The OKVS working arrays share ``vole``'s pool when it has one (``SilentVole(pool=...)``): the
    key is then valid until the pool's next use.

    ``prepare``: ``(n, 16)`` ids the caller will evaluate (pass the same array object to
    :meth:`Rr22OprfKey.eval`); their OKVS rows are computed under the first seed, in a thread while
    the VOLE runs if ``overlap`` (worth it when each party has cores of its own; with both parties
    in one process on two cores the extra thread only slows the VOLE down, hence off by default).
    """
    from ..ot.ext.vole import SilentVole

    rng = Rng.ensure(rng)
    vole = vole or SilentVole()
    p = OkvsParams(n_receiver, bin_size=bin_size)
    tm = timings if timings is not None else {}
    t0 = time.perf_counter()
    if malicious:
        w_s = rng.fork("rr22/w").blocks(1)[0]
        ch.send(_commit(w_s))
    seed0 = ch.recv_bytes(16, f"{PROTOCOL} OPRF step 1 (OKVS seed)")
    if prepare is not None:
        prepare = np.ascontiguousarray(prepare, dtype=np.uint8)
        ids = prepare
        job = (_Background if overlap else _Now)(lambda: OkvsRows(ids, seed0, p, getattr(vole, "pool", None)))
    delta, b = vole.send(ch, p.size, rng.fork("rr22/vole"))
    tm["vole"] = tm.get("vole", 0.0) + time.perf_counter() - t0
    w = None
    if malicious:
        w_r = ch.recv_array(np.uint8, (16,), f"{PROTOCOL} OPRF step 3 (receiver's w)")
        ch.send(w_s)
        w = w_r ^ w_s
    t0 = time.perf_counter()
    # The final seed: the first one unless the receiver's encoding failed under it (≤ 2^-40).
    seed = ch.recv_bytes(16, f"{PROTOCOL} OPRF step 4 (final OKVS seed)")
    # K = B + A'·Δ, frame by frame as values.send_rows framed A' (no table-sized temporaries)
    for r0 in range(0, p.size, values.FRAME_ROWS):
        r1 = min(p.size, r0 + values.FRAME_ROWS)
        a = ch.recv_array(np.uint8, (r1 - r0, 16), f"{PROTOCOL} OPRF step 4 (masked OKVS, {p.size} blocks)")
        xor_mul_const(a, delta, b[r0:r1])
        del a
    tm["okvs_recv"] = tm.get("okvs_recv", 0.0) + time.perf_counter() - t0
    prepared = None
    if prepare is not None:
        rows = job.result()
        prepared = (prepare, rows) if seed == seed0 else None
    return Rr22OprfKey(delta, b, seed, p, w, prepared)


def rr22_oprf_receiver(ch: Channel, ids, rng=None, malicious: bool = False, vole=None,
                       bin_size: int = DEFAULT_BIN_SIZE, proof: bool = False, timings: dict | None = None):
    """Receiver of the RR22 OPRF: ``F(ids)`` ``(n, 16)`` (and the match proofs ``F'`` too if ``proof``).

    ``ids`` must be distinct 16-byte blocks (:class:`ParameterError` otherwise).
    """
    out, prf, order = oprf_receive_binned(ch, ids, rng, malicious, vole, bin_size, proof, timings)
    return (_unbin(out, order), _unbin(prf, order)) if proof else _unbin(out, order)


def _unbin(rows: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``res[order] = rows`` for ``(n, 16)`` blocks, each row moved as one 16-byte item (numpy's
    fancy assignment on uint8 rows goes byte by byte: ~45 vs ~5 ms at 2^20)."""
    res = np.empty_like(rows)
    res.view("V16").reshape(-1)[order] = np.ascontiguousarray(rows).view("V16").reshape(-1)
    return res


def oprf_receive_binned(ch: Channel, ids, rng=None, malicious: bool = False, vole=None,
                        bin_size: int = DEFAULT_BIN_SIZE, proof: bool = False, timings: dict | None = None,
                        distinct: bool = False, overlap: bool = False):
    """:func:`rr22_oprf_receiver` in the OKVS bin order: ``(F(ids[order]), F'(ids[order]) or None, order)``.

    With a ``vole`` that has a pool (``SilentVole(pool=...)``) the results are views of it.

    ``distinct=True``: the caller guarantees distinct ids (skips the check). ``overlap``: encode the
    OKVS in a thread while the VOLE runs (see :func:`rr22_oprf_sender`).
    """
    from ..ot.ext.vole import SilentVole

    rng = Rng.ensure(rng)
    ids = np.ascontiguousarray(ids, dtype=np.uint8)
    if ids.ndim != 2 or ids.shape[1] != 16:
        raise ParameterError(f"ids must be (n, 16) blocks, got {ids.shape}")
    vole = vole or SilentVole()
    p = OkvsParams(ids.shape[0], bin_size=bin_size)
    tm = timings if timings is not None else {}
    if malicious:
        com = ch.recv_bytes(32, f"{PROTOCOL} OPRF step 0 (sender's commitment)")
    if not distinct:
        check_distinct(ids)
    okvs_rng = rng.fork("rr22/okvs")
    seed0 = okvs_rng.bytes(16)
    ch.send(np.frombuffer(seed0, dtype=np.uint8))

    def encode():
        t = time.perf_counter()
        pool = getattr(vole, "pool", None)
        vals = value_hash if pool is None else (lambda k: value_hash(k, out=pool.get("okvs values", (k.shape[0], 16))))
        r = okvs_encode_random_seed(ids, vals, okvs_rng, p, return_rows=True, first_seed=seed0, check=False,
                                    pool=pool)
        tm["okvs_encode"] = tm.get("okvs_encode", 0.0) + time.perf_counter() - t
        return r

    # The sender needs P only after the VOLE, so the encoding may run alongside it (numba releases the GIL).
    job = (_Background if overlap else _Now)(encode)
    t0 = time.perf_counter()
    a, c = vole.receive(ch, p.size, rng.fork("rr22/vole"))
    tm["vole"] = tm.get("vole", 0.0) + time.perf_counter() - t0
    w = None
    if malicious:
        w_r = rng.fork("rr22/w").blocks(1)[0]
        ch.send(w_r)
        w_s = ch.recv_array(np.uint8, (16,), f"{PROTOCOL} OPRF step 3 (sender's opening)")
        if _commit(w_s) != com:
            raise ProtocolError(f"{PROTOCOL} OPRF step 3 (sender's opening): does not match its commitment")
        w = w_r ^ w_s
    seed, table, rows = job.result()
    ch.send(np.frombuffer(seed, dtype=np.uint8))
    table ^= a
    values.send_rows(ch, table)
    del table, a
    t0 = time.perf_counter()
    sk = rows.sorted_keys
    u = _add_w(rows.decode(c, presorted=True), w)
    del c   # (its memory is the VOLE's code-length array)
    pool = getattr(vole, "pool", None)

    def dest(name):
        return None if pool is None else pool.get(name, (u.shape[0], 16))

    out = _out_hash(u, sk, w, KEY_MAL if malicious else KEY_OUT, out=dest("oprf out"))
    prf = _out_hash(u, sk, w, KEY_PROOF, out=dest("oprf proof")) if proof else None
    tm["decode"] = tm.get("decode", 0.0) + time.perf_counter() - t0
    return out, prf, rows.order


# --------------------------------------------------------------------- PSI


def tag_bytes(n_sender: int, n_receiver: int, malicious: bool) -> int:
    if malicious:
        return 16
    bits = LAMBDA + math.ceil(math.log2(max(1, n_sender) * max(1, n_receiver)))
    return min(16, (bits + 7) // 8)


def session_params(malicious: bool, reveal: bool, base_ot, bin_size: int, extra: dict | None) -> dict:
    from ..ot.ext.lpn_codes import ACCUMULATOR_WIDTH, EXPANDER_WEIGHT
    from ..ot.ext.vole import MIN_NOISE_WEIGHT

    params = {"mode": "malicious" if malicious else "semi-honest", "lambda": LAMBDA, "ssp": 40,
              "okvs": "RR22 binned w=3 + GF(2^128) dense", "okvs_bin_size": bin_size,
              "vole": f"silent GF(2^128), ExConv{EXPANDER_WEIGHT}x{ACCUMULATOR_WIDTH}, t>={MIN_NOISE_WEIGHT}",
              "vole_check": malicious, "cot": "KOS" if malicious else "IKNP",
              "base_ot": f"{getattr(base_ot, 'name', type(base_ot).__name__)}/{getattr(base_ot, 'variant', '')}",
              "output": "both" if reveal else "receiver"}
    params.update(extra or {})
    return params


def session_arguments(role: str, kappa: int, max_peer_items: int, rng, base_ot):
    """The checks every RR22 session driver makes before any message (``ParameterError``);
    returns ``(rng, base_ot)`` with their defaults filled in."""
    if role not in ("sender", "receiver"):
        raise ParameterError(f"role must be 'sender' or 'receiver', not {role!r}")
    if kappa != 128:
        raise ParameterError(f"rr22 runs at kappa = 128 only (VOLE over GF(2^128)), not {kappa}")
    if not 0 <= max_peer_items <= MAX_ITEMS:
        raise ParameterError(f"max_peer_items must be in [0, 2^30], not {max_peer_items}")
    return Rng.ensure(rng), (base_ot if base_ot is not None else default_base_ot(128))


def run_rr22(role: str, ch: Channel, items, rng=None, reveal_to_sender: bool = False, malicious: bool = False,
             base_ot=None, bin_size: int = DEFAULT_BIN_SIZE, extra_params: dict | None = None,
             max_peer_items: int = MAX_ITEMS, kappa: int = 128, progress=None, overlap: bool = False):
    """One RR22 PSI session as ``role``; returns a :class:`~pqmpc.psi.session.PsiResult`.

    Keywords as :func:`pqmpc.psi.kkrt_psi.run_psi` where they apply: ``base_ot``, ``extra_params``
    (joins the handshake), ``max_peer_items`` (refuse a peer announcing more distinct items, which
    bounds what it can make us allocate), ``progress`` (told of each phase); ``kappa`` must be 128
    (the VOLE is over GF(2^128)); ``bin_size`` is the OKVS bin size; ``overlap`` runs the OKVS
    work in a thread alongside the VOLE (for parties with cores of their own; same messages).
    """

    rng, base_ot = session_arguments(role, kappa, max_peer_items, rng, base_ot)
    cot = extension(base_ot, malicious)   # an unsuitable base is refused before any message
    # Session-sized scratch (VOLE, OKVS, dedup, sort): views of it never outlive this call (the
    # receiver's A and C are used up inside it, the sender's key is dropped at its end).
    with _workspace(role) as pool:
        return _run(role, ch, items, rng, reveal_to_sender, malicious, base_ot, cot, bin_size, extra_params,
                    max_peer_items, progress, overlap, pool)


def extension(base_ot, malicious: bool):
    """The COT extension under the VOLE: IKNP, or KOS in malicious mode (a malformed matrix from
    the COT receiver is caught instead of leaking bits of the VOLE sender's Δ); KOS refuses a
    base OT that is not secure against the same adversary."""
    from ..ot.ext.iknp import IKNP

    return IKNP(base=base_ot, security="malicious" if malicious else "semi-honest")


def _run(role, ch, items, rng, reveal_to_sender, malicious, base_ot, cot, bin_size, extra_params, max_peer_items,
         progress, overlap, pool):
    from ..ot.ext.vole import SilentVole

    seconds: dict = {}
    t0 = time.perf_counter()
    stats0 = ch.stats.snapshot()
    if progress is not None:
        progress.phase("RR22: hashing keys")
    data, offsets = items if keys.is_encoded(items) else keys.encode_items(items)
    n_items = offsets.shape[0] - 1
    if n_items > MAX_ITEMS:
        raise ParameterError(f"at most 2^30 items per side, got {n_items}")
    params = session_params(malicious, reveal_to_sender, base_ot, bin_size, extra_params)
    other = "receiver" if role == "sender" else "sender"
    handshake(ch, PROTOCOL, VERSION, params, role=role, peer_role=other)
    id_key = coin_toss(ch, role, rng, PROTOCOL, b"pqmpc/rr22-psi/v1/session")[:16]
    ids_all = keys.item_ids(data, offsets, id_key, out=pool.get("item ids", (n_items, 16)))
    reps, inverse = keys.dedup_ids(ids_all, pool)
    # reps lists first occurrences in order, so with no duplicates it is 0..n-1: skip the row gather
    ids = ids_all if reps.shape[0] == ids_all.shape[0] else np.ascontiguousarray(ids_all[reps])
    del ids_all
    n = ids.shape[0]
    n_peer = exchange_sizes(ch, n, PROTOCOL, max_peer_items)
    n_s, n_r = (n, n_peer) if role == "sender" else (n_peer, n)
    ell = tag_bytes(n_s, n_r, malicious)
    params = dict(params, tag_bits=8 * ell, sender_distinct=n_s, receiver_distinct=n_r,
                  okvs_size=OkvsParams(n_r, bin_size=bin_size).size)
    seconds["setup"] = time.perf_counter() - t0

    def finish(indices, inter):
        st = ch.stats.since(stats0)
        return PsiResult(indices=indices, items=n_items, distinct=n, peer_distinct=n_peer, intersection=inter,
                         params=params, seconds=seconds, bytes_sent=st.bytes_sent,
                         bytes_received=st.bytes_received)

    if n_s == 0 or n_r == 0:
        return finish(np.zeros(0, dtype=np.int64) if (role == "receiver" or reveal_to_sender) else None, 0)
    if progress is not None:
        progress.phase("RR22: base OTs, VOLE and OKVS")
    t0 = time.perf_counter()
    cot.setup(ch, role, rng.fork("rr22/base"))
    seconds["base_ot"] = time.perf_counter() - t0
    vole = SilentVole(cot, check=malicious, pool=pool)
    if role == "receiver":
        return finish(*_receiver(ch, ids, inverse, n_s, ell, reveal_to_sender, malicious, vole, rng, bin_size,
                                 seconds, overlap))
    return finish(*_sender(ch, ids, inverse, n_r, ell, reveal_to_sender, malicious, vole, rng, bin_size, seconds,
                           overlap))


STEP5 = f"{PROTOCOL} step 5 (sender values)"
STEP6 = f"{PROTOCOL} step 6 (matched positions)"
STEP7 = f"{PROTOCOL} step 7 (match proofs)"


def _receiver(ch, ids, inverse, n_s, ell, reveal, malicious, vole, rng, bin_size, seconds, overlap):
    out, prf, order = oprf_receive_binned(ch, ids, rng, malicious, vole, bin_size, proof=reveal and malicious,
                                          timings=seconds, distinct=True, overlap=overlap)   # ids are deduped
    t0 = time.perf_counter()
    pool = vole.pool
    tw = values.tag_words(values.recv_rows(ch, n_s, ell, STEP5), ell, pool.get("peer tags", (n_s, 16)))
    if not values.is_sorted(tw):
        raise ProtocolError(f"{STEP5}: values are not sorted")
    found = pool.get("found", (out.shape[0],), np.int64)
    queries = values.tag_words(out, ell, pool.get("tags", (out.shape[0], 16)))
    values.lookup(tw, queries, *values.bucket_bits(n_s, ell), found)
    hits = np.flatnonzero(found >= 0)     # in bin order
    if reveal:
        # Positions in the sender's sorted list: a function of the intersection (and of what the
        # sender knows) only, never of the receiver's input order.
        pos, first = np.unique(found[hits], return_index=True)
        values.send_rows(ch, pos.astype(np.int64).reshape(-1, 1), terminated=True)
        if malicious:
            values.send_rows(ch, prf[hits[first]])
    seconds["compare"] = time.perf_counter() - t0
    return keys.members_of(inverse, order[hits]), int(hits.shape[0])


def _sender(ch, ids, inverse, n_r, ell, reveal, malicious, vole, rng, bin_size, seconds, overlap):
    key = rr22_oprf_sender(ch, n_r, rng, malicious, vole, bin_size, timings=seconds, prepare=ids, overlap=overlap)
    t0 = time.perf_counter()
    out, border = key.eval_binned(ids)
    seconds["decode"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    n = ids.shape[0]
    pool = vole.pool
    msg = pool.get("values", (n, ell))
    order = pool.get("values order", (n,), np.int64)
    values.sort_values_into(values.tag_words(out, ell, pool.get("tags", (n, 16))), ell, *values.bucket_bits(n, ell),
                            order, msg, pool.get("sort k0", (n,), np.uint64), pool.get("sort k1", (n,), np.uint64))
    values.send_rows(ch, msg)
    del out, msg
    seconds["compare"] = time.perf_counter() - t0
    if not reveal:
        return None, None
    p = values.recv_rows_upto(ch, min(n, n_r), 1, STEP6, dtype=np.int64).reshape(-1)
    if p.size and (p.min() < 0 or p.max() >= n or np.any(np.diff(p) <= 0)):
        raise ProtocolError(f"{STEP6}: positions out of range, unsorted or repeated")
    hits = border[order[p]]
    if malicious:
        proofs = values.recv_rows(ch, p.size, 16, STEP7)
        if not np.array_equal(proofs, key.eval(ids[hits], proof=True)):
            raise ProtocolError(f"{STEP7}: the receiver claimed matches it cannot prove")
    return keys.members_of(inverse, hits), int(hits.shape[0])


def rr22_sender(ch: Channel, items, rng=None, malicious: bool = False, reveal_to_sender: bool = False, **kw):
    """Sender of RR22 PSI: its sorted matching indices with ``reveal_to_sender``, else ``None``."""
    return run_rr22("sender", ch, items, rng, reveal_to_sender, malicious, **kw).indices


def rr22_receiver(ch: Channel, items, rng=None, malicious: bool = False, reveal_to_sender: bool = False, **kw):
    """Receiver of RR22 PSI: the sorted indices of its items that the sender also holds."""
    return run_rr22("receiver", ch, items, rng, reveal_to_sender, malicious, **kw).indices


__all__ = ["rr22_sender", "rr22_receiver", "run_rr22", "extension", "rr22_oprf_sender", "rr22_oprf_receiver",
           "oprf_receive_binned",
           "Rr22OprfKey", "value_hash", "tag_bytes", "xor_mul_const", "release_workspaces", "session_arguments",
           "session_workspace", "PROTOCOL", "VERSION"]
