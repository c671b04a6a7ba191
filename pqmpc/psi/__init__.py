"""Private set intersection from OT extension (post-quantum end to end)."""

from ..util.lazy import lazy_exports

_EXPORTS = {
    "psi_sender": ".kkrt_psi",
    "psi_receiver": ".kkrt_psi",
    "run_psi": ".kkrt_psi",
    "PsiResult": ".session",
    "PeerAbort": ".session",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
