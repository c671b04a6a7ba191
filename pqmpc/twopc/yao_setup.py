"""Arguments of a Yao run: who owns which input, the inputs, the OT, the security level.

Everything here is checked before the first message, so a caller's mistake is a
:class:`~pqmpc.errors.ParameterError` on its own side, never a confused peer.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import numpy as np

from pqmpc.errors import ParameterError, ProtocolError
from pqmpc.gc import Circuit, label_bytes_for
from pqmpc.net import Channel
from pqmpc.ot import CorrelatedOT, RandomOT, as_correlated
from pqmpc.params import level_for_kappa
from pqmpc.rng import Rng

__all__ = ["REVEALS", "OT_KINDS", "input_ownership", "normalise_inputs", "ot_name", "ot_object",
           "check_common", "circuit_digest", "cot_send", "cot_receive"]

REVEALS = ("both", "garbler", "evaluator")
OT_KINDS = ("iknp", "softspoken", "ferret", "base")


def input_ownership(circuit: Circuit, garbler_inputs, evaluator_inputs) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(garbler groups, evaluator groups)``: input 0 is the garbler's and the rest the
    evaluator's unless told otherwise; every input must belong to exactly one party."""
    n = len(circuit.input_sizes)
    g = (0,) if garbler_inputs is None else tuple(int(j) for j in _as_index_list(garbler_inputs))
    if evaluator_inputs is None:
        e = tuple(j for j in range(n) if j not in g)
    else:
        e = tuple(int(j) for j in _as_index_list(evaluator_inputs))
    if n == 0:
        g = () if garbler_inputs is None else g
    owned = list(g) + list(e)
    if any(j < 0 or j >= n for j in owned):
        raise ParameterError(f"input indices must be in 0..{n - 1}; garbler {list(g)}, evaluator {list(e)}")
    if sorted(owned) != list(range(n)):
        raise ParameterError(f"every circuit input must belong to exactly one party: circuit has {n} inputs, "
                             f"garbler owns {list(g)}, evaluator owns {list(e)}")
    return g, e


def _as_index_list(x) -> list:
    if isinstance(x, (int, np.integer)):
        return [int(x)]
    return list(x)


def normalise_inputs(circuit: Circuit, groups: Sequence[int], inputs, who: str):
    """Own inputs as ``{group: array}`` (1-D shared or 2-D batched) and the batch size."""
    if isinstance(inputs, np.ndarray) and len(groups) == 1:
        inputs = [inputs]
    if inputs is None:
        inputs = []
    inputs = list(inputs)
    if len(inputs) != len(groups):
        raise ParameterError(f"the {who} owns circuit inputs {list(groups)} and must give {len(groups)} "
                             f"input array(s), got {len(inputs)}")
    out, batch = {}, None
    for j, x in zip(groups, inputs):
        a = np.asarray(x)
        n = circuit.input_sizes[j]
        if a.ndim == 1 and a.shape[0] == n:
            pass
        elif a.ndim == 2 and a.shape[1] == n:
            if batch is not None and a.shape[0] != batch:
                raise ParameterError(f"{who} inputs have different batch sizes ({batch} and {a.shape[0]})")
            batch = a.shape[0]
        else:
            raise ParameterError(f"circuit input {j} has {n} bits: give shape ({n},) or (batch, {n}), "
                                 f"got {a.shape}")
        if a.size and (a.dtype.kind not in "uib" or a.min() < 0 or a.max() > 1):
            raise ParameterError(f"circuit input {j}: values must be 0 or 1")
        out[j] = np.ascontiguousarray(a, dtype=np.uint8)
    return out, batch


def ot_name(ot) -> str:
    if isinstance(ot, str):
        return ot
    return str(getattr(ot, "name", type(ot).__name__))


def _is_ot(ot) -> bool:
    return isinstance(ot, RandomOT)


def ot_object(ot, kappa: int = 128) -> CorrelatedOT:
    """The correlated OT for a kind name at this security level, or for the caller's OT
    object (any OT becomes correlated OT through :func:`pqmpc.ot.as_correlated`)."""
    width = label_bytes_for(kappa)
    if not isinstance(ot, str):
        if not _is_ot(ot):
            raise ParameterError(f"ot must be one of {OT_KINDS} or an OT object")
        if ot.block_bytes != width:
            raise ParameterError(f"kappa = {kappa} needs {width}-byte OT blocks, but {ot_name(ot)} gives "
                                 f"{ot.block_bytes}")
        return as_correlated(ot)
    level = level_for_kappa(kappa)
    if ot == "iknp":
        from pqmpc.ot import IKNP
        return IKNP(kappa=kappa)
    if ot == "softspoken":
        # k = 4: a quarter of IKNP's traffic per OT, for links where bandwidth is what costs
        from pqmpc.ot import SoftSpoken
        return SoftSpoken(k=4, kappa=kappa)
    if ot == "ferret":
        if kappa != 128:
            raise ParameterError("Ferret's correlations are 128-bit; kappa = 256 needs ot='iknp' or 'base'")
        from pqmpc.ot import Ferret
        return Ferret()
    if ot == "base":
        from pqmpc.ot import KyberOT
        # one ML-KEM OT per evaluator input bit, made correlated by one extra block each
        return as_correlated(KyberOT.for_level(level))
    raise ParameterError(f"ot must be one of {OT_KINDS} or an OT object, got {ot!r}")


def check_common(circuit, reveal, chunk_ands, ot, kappa) -> None:
    if isinstance(ot, str) and ot not in OT_KINDS:
        raise ParameterError(f"ot must be one of {OT_KINDS} or an OT object, got {ot!r}")
    if not isinstance(ot, str) and not _is_ot(ot):
        raise ParameterError(f"ot must be one of {OT_KINDS} or an OT object")
    if not isinstance(circuit, Circuit):
        raise ParameterError(f"circuit must be a pqmpc.gc.Circuit, got {type(circuit).__name__}")
    if reveal not in REVEALS:
        raise ParameterError(f"reveal must be one of {REVEALS}, got {reveal!r}")
    if isinstance(chunk_ands, bool) or not isinstance(chunk_ands, (int, np.integer)) or chunk_ands < 1:
        raise ParameterError("chunk_ands must be a positive integer")
    label_bytes_for(kappa)


_DIGESTS: dict[int, tuple[object, str]] = {}


def circuit_digest(circuit: Circuit) -> str:
    """Hex SHA-256 of the canonical Bristol text, memoised per circuit object.

    Circuits are immutable (their arrays are read-only), so the digest of a circuit
    object never changes; the memo saves the text rendering on repeated runs.
    """
    key = id(circuit)
    hit = _DIGESTS.get(key)
    if hit is not None and hit[0]() is circuit:
        return hit[1]
    digest = circuit.digest().hex()
    ref = weakref.ref(circuit, lambda _r, k=key: _DIGESTS.pop(k, None))
    _DIGESTS[key] = (ref, digest)
    return digest


def _check_blocks(x, n: int, width: int) -> np.ndarray:
    x = np.asarray(x)
    if x.shape != (n, width) or x.dtype != np.uint8:
        raise ProtocolError(f"correlated OT returned {x.dtype} {x.shape}, expected ({n}, {width}) uint8")
    return np.ascontiguousarray(x)


def cot_send(ot: CorrelatedOT, ch: Channel, n: int, delta: np.ndarray, rng: Rng) -> np.ndarray:
    """Sender of ``n`` correlated OTs with correlation ``delta``: returns ``q``."""
    _, q = ot.send_correlated(ch, n, delta=delta, rng=rng)
    return _check_blocks(q, n, delta.shape[0])


def cot_receive(ot: CorrelatedOT, ch: Channel, choices: np.ndarray, rng: Rng, width: int) -> np.ndarray:
    """Receiver side: ``t_i = q_i ⊕ choices_i·Δ``."""
    return _check_blocks(ot.receive_correlated(ch, choices, rng=rng), choices.shape[0], width)
