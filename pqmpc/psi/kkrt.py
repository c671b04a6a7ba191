"""The KKRT batched OPRF moved to :mod:`pqmpc.ot.ext.kkrt` (public as
``pqmpc.ot.kkrt``), next to the OT extension whose matrix core it shares;
this module keeps the old names working for :mod:`pqmpc.psi.api` and tests."""

from ..ot.ext.kkrt import (
    DEFAULT_CHUNK,
    SUB_CHUNK,
    code_round_keys,
    fixed_key_schedule,
    oprf_receive,
    oprf_send,
    receiver_hash_kernel,
    width_blocks,
)

# Old spellings used by tests/psi (public names of pqmpc.ot.kkrt under their former private names).
_pi_round_keys = fixed_key_schedule


def _receiver_hash_kernel(pi_rk, rows, start, count, out):
    """The old five-argument form: the untagged hash (tag 0), as before protocol tags
    existed; the protocol itself now hashes under ``TAG_KKRT``."""
    receiver_hash_kernel(pi_rk, rows, start, count, out, 0)

__all__ = ["DEFAULT_CHUNK", "SUB_CHUNK", "width_blocks", "code_round_keys", "fixed_key_schedule",
           "receiver_hash_kernel", "oprf_receive", "oprf_send"]
