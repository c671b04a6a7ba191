"""Old name of the KKRT PSI driver, kept so that existing imports work; use :mod:`pqmpc.psi`.

The protocol lives in :mod:`.kkrt_psi` (steps and ``run_psi``) and
:mod:`.session` (result, limits, coin toss, set sizes).
"""

from .kkrt_psi import (  # noqa: F401
                       LAMBDA,
                       MAX_ITEMS,
                       PROTOCOL,
                       VERSION,
                       PeerAbort,
                       PsiResult,
                       default_base_ot,
                       psi_receiver,
                       psi_sender,
                       run_psi,
                       session_params,
                       tag_bytes,
)
