"""One entry point for every PSI protocol: ``psi_sender/psi_receiver(..., protocol="kkrt"|"rr22")``.

* ``"kkrt"`` — :mod:`.kkrt_psi` (Kolesnikov–Kumaresan–Rosulek–Trieu, CCS 2016), semi-honest;
  keywords ``kappa`` (128/256), ``chunk``, ``base_ot``, ``progress``, ``max_peer_items``.
* ``"rr22"`` — :mod:`.rr22` (Raghuraman–Rindal, CCS 2022) on silent VOLE and an OKVS, about 4x
  less traffic; ``malicious=True`` selects its malicious mode; keywords ``base_ot``, ``bin_size``,
  ``progress``, ``max_peer_items``.

``protocol=None`` (the default) picks ``"rr22"``, with or without payloads.

Payloads (:mod:`.payload`, both protocols): ``payload`` (one ``str``/``bytes`` per item,
learned by the peer for its matching items), ``peer_payload=True`` (learn the peer's
payloads; the answer is then a :class:`~.payload.PayloadJoin`), ``payload_width`` (bytes
every payload is padded to; both sides must agree). The receiver's payloads reach the sender
only with ``reveal_to_sender=True``.

Both parties must name the same protocol and mode: the session handshake names them, so a
mismatch is a :class:`~pqmpc.errors.HandshakeError` on both sides.
"""

from __future__ import annotations

from ..errors import ParameterError

PROTOCOLS = ("kkrt", "rr22")
#: The protocol used when none is named.
DEFAULT_PROTOCOL = "rr22"
#: The protocol used when none is named and ``payload``/``peer_payload`` is given (the same).
PAYLOAD_PROTOCOL = "rr22"


def resolve_protocol(protocol: str | None, kw) -> str:
    """``protocol``, or the default for this call when it is ``None``."""
    if protocol is not None:
        return protocol
    return PAYLOAD_PROTOCOL if kw.get("payload") is not None or kw.get("peer_payload") else DEFAULT_PROTOCOL


def run_protocol(protocol: str | None, role: str, ch, items, rng=None, reveal_to_sender: bool = False,
                 malicious: bool = False, **kw):
    """One session of ``protocol`` as ``role``; returns the :class:`~pqmpc.psi.session.PsiResult`.

    ``protocol=None``: see :func:`resolve_protocol`."""
    protocol = resolve_protocol(protocol, kw)
    kw = dict(kw)
    if protocol == "rr22":
        if kw.get("payload") is not None or kw.get("peer_payload"):
            from .payload_rr22 import run_rr22_payload

            return run_rr22_payload(role, ch, items, rng, reveal_to_sender, malicious, **kw)
        from .rr22 import run_rr22

        kw.pop("payload", None)
        kw.pop("peer_payload", None)
        kw.pop("payload_width", None)
        return run_rr22(role, ch, items, rng, reveal_to_sender, malicious, **kw)
    if protocol == "kkrt":
        if malicious:
            raise ParameterError("KKRT PSI is semi-honest only; use protocol='rr22' for malicious=True")
        from .kkrt_psi import run_psi

        return run_psi(role, ch, items, rng, reveal_to_sender, **kw)
    raise ParameterError(f"unknown PSI protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")


def _answer(res, kw):
    # With peer_payload the caller asked for the join, not the bare indices.
    return res.pairs if kw.get("peer_payload") else res.indices


def psi_sender(ch, items, rng=None, reveal_to_sender: bool = False, protocol: str | None = None,
               malicious: bool = False, **kw):
    """Sender side; its sorted matching indices if ``reveal_to_sender``, else ``None``
    (a :class:`~.payload.PayloadJoin` with ``peer_payload=True``). ``protocol=None``: ``"rr22"``."""
    return _answer(run_protocol(protocol, "sender", ch, items, rng, reveal_to_sender, malicious, **kw), kw)


def psi_receiver(ch, items, rng=None, reveal_to_sender: bool = False, protocol: str | None = None,
                 malicious: bool = False, **kw):
    """Receiver side; the sorted indices (int64) of its items that the sender also holds
    (a :class:`~.payload.PayloadJoin` with ``peer_payload=True``). ``protocol=None``: ``"rr22"``."""
    return _answer(run_protocol(protocol, "receiver", ch, items, rng, reveal_to_sender, malicious, **kw), kw)


__all__ = ["PROTOCOLS", "DEFAULT_PROTOCOL", "PAYLOAD_PROTOCOL", "resolve_protocol", "run_protocol",
           "psi_sender", "psi_receiver"]
