"""The protocols the fuzz harness drives: one row per protocol, two roles each.

A row gives, for each role, a function ``party(ch, rng)`` that runs that role
once with small sizes. Inputs are fixed (derived from constant seeds) so that
a replayed peer stays in sync with a re-run honest party until the message
the harness mutates.

Adding a protocol is one row in ``PROTOCOLS``: every test in this package
(replay check, per-step sweep, hypothesis) then covers both of its roles.
A party must be deterministic given its ``rng`` (OpenSSL coins included: see
the secure channel's ``encaps_derand``), or the replay check fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pqmpc.rng import Rng

N_OT = 37  # not a multiple of 8 or 128: exercises padding and partial chunks


def _ot_pair(make, n: int = N_OT, width: int = 16):
    """Chosen-message OT (random OT plus the masks message) with fixed messages and choices."""
    data = Rng(b"fuzz/ot-inputs")
    m0, m1 = data.blocks(n, width), data.blocks(n, width)
    choices = data.bits(n)

    def sender(ch, rng):
        return make().send(ch, m0, m1, rng=rng)

    def receiver(ch, rng):
        return make().receive(ch, choices, rng=rng)

    return sender, receiver


def _kyber():
    from pqmpc.ot import KyberOT
    return KyberOT("ML-KEM-768")


def _saber(construction):
    def make():
        from pqmpc.ot import SaberOT
        return SaberOT(construction=construction)
    return make


def _simplest():
    from pqmpc.ot import SimplestOT
    return SimplestOT()


def _iknp(kappa, **kw):
    def make():
        from pqmpc.ot import IKNP
        return IKNP(kappa=kappa, **kw)
    return make


def _kos():
    from pqmpc.ot import KOS
    return KOS()


def _softspoken(k, security):
    def make():
        from pqmpc.ot import SoftSpoken
        return SoftSpoken(k=k, security=security)
    return make


def _ferret(security="semi-honest"):
    def make():
        from pqmpc.ot import Ferret
        from pqmpc.ot.ext.ferret_params import FERRET_TEST
        return Ferret(FERRET_TEST, security=security)
    return make


def _psi(reveal: bool, n: int = 12, sender_kw=None, receiver_kw=None, **kw):
    sender_items = [f"item-{i}" for i in range(0, n)] + ["é", b"\x00\xff"]
    receiver_items = [f"item-{i}" for i in range(n // 2, n + 3)] + [b"\x00\xff", ""]

    def sender(ch, rng):
        from pqmpc.psi import psi_sender
        return psi_sender(ch, sender_items, rng=rng, reveal_to_sender=reveal, **kw, **(sender_kw or {}))

    def receiver(ch, rng):
        from pqmpc.psi import psi_receiver
        return psi_receiver(ch, receiver_items, rng=rng, reveal_to_sender=reveal, **kw, **(receiver_kw or {}))

    return sender, receiver


def _payload_psi(both: bool, **kw):
    """Payload PSI: the sender's payloads to the receiver (duplicates, an empty and a long one) and,
    with ``both``, the receiver's to the sender over the reveal path."""
    n = 12
    mine = [f"p{i}" * (i % 4) for i in range(n)] + ["x" * 40, ""]
    theirs = [f"r{i}" for i in range(n // 2, n + 3)] + ["é", "z"]
    sender_kw = {"payload": mine, "payload_width": 48}
    receiver_kw = {"peer_payload": True, "payload_width": 48}
    if both:
        sender_kw["peer_payload"] = True
        receiver_kw["payload"] = theirs
    return _psi(both, n=n, sender_kw=sender_kw, receiver_kw=receiver_kw, **kw)


def _yao(**kw):
    def garbler(ch, rng):
        from pqmpc.twopc import functions
        return functions.millionaires(ch, "garbler", 100, bits=8, rng=rng, **kw)

    def evaluator(ch, rng):
        from pqmpc.twopc import functions
        return functions.millionaires(ch, "evaluator", 200, bits=8, rng=rng, **kw)

    return garbler, evaluator


def _yao_batched(ot="iknp"):
    """Three instances at once (the layout step announces a batch) on an 8-bit comparison."""
    from pqmpc.twopc.functions import less_than_circuit

    data = Rng(b"fuzz/yao-batch")
    a, b = data.bits(3 * 8).reshape(3, 8), data.bits(3 * 8).reshape(3, 8)

    def garbler(ch, rng):
        from pqmpc.twopc import yao_garbler
        return yao_garbler(ch, less_than_circuit(8), [a], rng=rng, ot=ot)

    def evaluator(ch, rng):
        from pqmpc.twopc import yao_evaluator
        return yao_evaluator(ch, less_than_circuit(8), [b], rng=rng, ot=ot)

    return garbler, evaluator


def _handshake():
    params = {"n": 5, "variant": "fuzz", "nested": {"k": [1, 2, 3]}}

    def alice(ch, rng):
        from pqmpc.net import handshake
        return handshake(ch, "Fuzz", 1, params, role="alice", peer_role="bob")

    def bob(ch, rng):
        from pqmpc.net import handshake
        return handshake(ch, "Fuzz", 1, params, role="bob", peer_role="alice")

    return alice, bob


def _secure():
    """The post-quantum secure channel (static keys + PSK, seeded coins) carrying a short exchange."""
    payloads = [np.arange(n, dtype=np.uint8) for n in (0, 5, 3000, (1 << 20) + 17)]  # crosses a record

    def run(ch, rng, role):
        from pqmpc.lattice import mlkem
        from pqmpc.net import SecureChannel, handshake
        from pqmpc.net.secure import Identity

        ids = {r: Identity(f"fuzz identity {r}".encode().ljust(32, b".")) for r in ("initiator", "responder")}
        other = "responder" if role == "initiator" else "initiator"
        s = SecureChannel.wrap(ch, role=role, identity=ids[role], peer=ids[other].public, psk=b"k" * 32, rng=rng,
                               encaps_derand=lambda pk, m: mlkem.encaps("ML-KEM-768", pk, m))
        handshake(s, "FuzzOverSecure", 1, {"n": len(payloads)}, role=role, peer_role=other)
        got = []
        for p in payloads:
            if role == "initiator":
                s.send(p)
                got.append(s.recv_array(np.uint8, p.shape, "fuzz echo"))
            else:
                got.append(s.recv_array(np.uint8, p.shape, "fuzz payload"))
                s.send(got[-1])
        return [g.sum() for g in got]

    return (lambda ch, rng: run(ch, rng, "initiator")), (lambda ch, rng: run(ch, rng, "responder"))


@dataclass(frozen=True)
class Protocol:
    """``hostile``: field patches a generic mutation is unlikely to hit, as
    ``(keys, patches)``: applied to every peer JSON message that has all of ``keys``
    (``patches`` as in ``engine.retype``, token names from ``engine.RETYPE_TOKENS``)."""

    name: str
    roles: tuple[str, str]
    parties: Callable[[], tuple[Callable, Callable]]
    hostile: tuple = ()


# A consistent batch announcement: the peer claims a large batch over the inputs it owns.
_YAO_BATCH = ((frozenset({"batch", "batched"}), ((("batch",), "count-2^20"), (("batched",), "list-1"))),
              (frozenset({"batch", "batched"}), ((("batch",), "count-2^20"), (("batched",), "list-0"))),
              (frozenset({"batch", "batched"}), ((("batch",), "count-2^31-1"), (("batched",), "list-1"))),
              (frozenset({"batch", "batched"}), ((("batch",), "count-2^31-1"), (("batched",), "list-0"))))
# Counts that pass a type check: a call header or set size announcing far more than was agreed.
_COUNTS = ((frozenset({"call", "n", "op"}), ((("n",), "count-2^29"),)),
           (frozenset({"distinct"}), ((("distinct",), "count-2^29"),)),
           (frozenset({"rows"}), ((("rows",), "count-2^29"),)),
           (frozenset({"magic", "params"}), ((("params", "n"), "count-2^29"),)))


PROTOCOLS = [
    Protocol("KyberOT-ML-KEM-768", ("sender", "receiver"), lambda: _ot_pair(_kyber)),
    Protocol("SaberOT-np", ("sender", "receiver"), lambda: _ot_pair(_saber("np"))),
    Protocol("SaberOT-mr", ("sender", "receiver"), lambda: _ot_pair(_saber("mr"))),
    Protocol("SimplestOT", ("sender", "receiver"), lambda: _ot_pair(_simplest)),
    Protocol("IKNP-128", ("sender", "receiver"), lambda: _ot_pair(_iknp(128), n=200)),
    Protocol("IKNP-128-chunked", ("sender", "receiver"), lambda: _ot_pair(_iknp(128, chunk=128), n=300)),
    Protocol("IKNP-256", ("sender", "receiver"), lambda: _ot_pair(_iknp(256), n=130, width=32)),
    Protocol("KOS-128", ("sender", "receiver"), lambda: _ot_pair(_kos, n=200)),
    Protocol("SoftSpoken-k4-malicious", ("sender", "receiver"), lambda: _ot_pair(_softspoken(4, "malicious"), n=200)),
    Protocol("SoftSpoken-k2", ("sender", "receiver"), lambda: _ot_pair(_softspoken(2, "semi-honest"), n=150)),
    Protocol("Ferret-test", ("sender", "receiver"), lambda: _ot_pair(_ferret(), n=150)),
    Protocol("Ferret-test-malicious", ("sender", "receiver"), lambda: _ot_pair(_ferret("malicious"), n=150)),
    # More than one round's usable outputs (3360 with this set): the second round's trees too.
    Protocol("Ferret-test-2-rounds", ("sender", "receiver"), lambda: _ot_pair(_ferret(), n=4000)),
    Protocol("PSI", ("sender", "receiver"), lambda: _psi(False, protocol="kkrt"), _COUNTS),
    Protocol("PSI-reveal", ("sender", "receiver"), lambda: _psi(True, protocol="kkrt"), _COUNTS),
    # Small OPRF chunks: several correction-matrix messages, the last one partial.
    Protocol("PSI-chunked-reveal", ("sender", "receiver"),
             lambda: _psi(True, n=150, chunk=128, protocol="kkrt"), _COUNTS),
    Protocol("PSI-256-reveal", ("sender", "receiver"), lambda: _psi(True, kappa=256, protocol="kkrt"), _COUNTS),
    Protocol("RR22", ("sender", "receiver"), lambda: _psi(False, protocol="rr22"), _COUNTS),
    Protocol("RR22-malicious", ("sender", "receiver"), lambda: _psi(False, protocol="rr22", malicious=True), _COUNTS),
    Protocol("RR22-reveal", ("sender", "receiver"), lambda: _psi(True, protocol="rr22"), _COUNTS),
    Protocol("RR22-malicious-reveal", ("sender", "receiver"),
             lambda: _psi(True, protocol="rr22", malicious=True), _COUNTS),
    Protocol("RR22-payload", ("sender", "receiver"), lambda: _payload_psi(False, protocol="rr22"), _COUNTS),
    Protocol("RR22-payload-both-malicious", ("sender", "receiver"),
             lambda: _payload_psi(True, protocol="rr22", malicious=True), _COUNTS),
    Protocol("KKRT-payload-both", ("sender", "receiver"), lambda: _payload_psi(True, protocol="kkrt"), _COUNTS),
    Protocol("Yao-millionaires", ("garbler", "evaluator"), _yao, _YAO_BATCH + _COUNTS),
    Protocol("Yao-threehalves", ("garbler", "evaluator"), lambda: _yao(scheme="threehalves"), _COUNTS),
    Protocol("Yao-batched-base-OT", ("garbler", "evaluator"), lambda: _yao_batched("base"), _COUNTS),
    Protocol("handshake", ("alice", "bob"), _handshake),
    Protocol("secure-channel", ("initiator", "responder"), _secure),
]

BY_NAME = {p.name: p for p in PROTOCOLS}


def seed_for(protocol: str, role: str) -> bytes:
    return f"fuzz/{protocol}/{role}".encode()


def as_plain(result):
    """A comparable form of a party's output (arrays, tuples, dicts, results)."""
    if isinstance(result, np.ndarray):
        return ("array", result.dtype.str, result.shape, result.tobytes())
    if isinstance(result, (list, tuple)):
        return tuple(as_plain(r) for r in result)
    if isinstance(result, dict):
        return tuple(sorted((k, as_plain(v)) for k, v in result.items()))
    if hasattr(result, "pairs") and hasattr(result, "payload_index"):  # a PayloadJoin
        return ("join", tuple(result.pairs()))
    return result
