"""Bucketed PSI: both inputs hashed into B buckets under a coin-tossed salt, one PSI session per
bucket pair (in parallel, resumable), outputs merged in input order. See docs/bucketed-psi.md.

``run_bucketed(role, ch, source, dials=..., open_channel=...)`` (:mod:`.runner`).
"""

from ...util.lazy import lazy_exports

_EXPORTS = {
    "run_bucketed": ".runner",
    "ItemsSource": ".runner",
    "BucketedResult": ".runner",
    "merge_outputs": ".runner",
    "input_file_digest": ".runner",
    "Batch": ".partition",
    "Manifest": ".manifest",
    "suggest_buckets": ".handshake",
    "BUCKET_ITEMS": ".handshake",
    "MAX_BUCKETS": ".handshake",
    "WIRE_VERSION": ".handshake",
    "run_local": ".local",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
