"""Private set intersection, post-quantum end to end: KKRT (OT extension) and RR22 (silent VOLE + OKVS).

``psi_sender/psi_receiver(..., protocol="kkrt"|"rr22", malicious=False, payload=None)`` (:mod:`.protocols`;
payload/labeled PSI on either protocol: :mod:`.payload`).
"""

from ..util.lazy import lazy_exports

_EXPORTS = {
    "psi_sender": ".protocols",
    "psi_receiver": ".protocols",
    "run_protocol": ".protocols",
    "PROTOCOLS": ".protocols",
    "DEFAULT_PROTOCOL": ".protocols",
    "PAYLOAD_PROTOCOL": ".protocols",
    "resolve_protocol": ".protocols",
    "run_psi": ".kkrt_psi",
    "run_rr22": ".rr22",
    "rr22_sender": ".rr22",
    "rr22_receiver": ".rr22",
    "rr22_oprf_sender": ".rr22",
    "rr22_oprf_receiver": ".rr22",
    "release_workspaces": ".rr22",
    "PsiResult": ".session",
    "PeerAbort": ".session",
    "PayloadJoin": ".payload_join",
    "run_rr22_payload": ".payload_rr22",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
