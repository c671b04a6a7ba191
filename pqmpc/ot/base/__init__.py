"""Base OTs: Masny-Rindal over ML-KEM, Mod-LWR OT over Saber, X25519 baseline.

Names say what each protocol is; the first names stay as aliases (docs/api.md):

=====================  ==============================================  =====================
class                  protocol                                        public alias
=====================  ==============================================  =====================
``MR19MlkemOT``        Masny–Rindal endemic OT over ML-KEM keys        ``KyberOT``
``ModLwrOT``           Dong et al. Mod-LWR OT, Saber parameters        ``SaberOT(..., "np")``
``MR19SaberOT``        Masny–Rindal endemic OT over Saber keys         ``SaberOT(..., "mr")``
``MRR20X25519OT``      McQuoid–Rosulek–Roy POPF OT over X25519         ``SimplestOT``
=====================  ==============================================  =====================
"""

from ...util.lazy import lazy_exports

_EXPORTS = {
    "MR19MlkemOT": ".kyber",
    "KyberOT": ".kyber",
    "SaberOT": ".saber",
    "ModLwrOT": ".saber",
    "MR19SaberOT": ".saber_mr",
    "MRR20X25519OT": ".simplest",
    "SimplestOT": ".simplest",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
