"""The bucketed run's handshake: parameters, B, workers, a coin-tossed salt, and resume checks.

Over the control connection, the dialing party ("initiator") first:

1. Both send a hello (JSON, at most :data:`HELLO_MAX` bytes): wire version,
   the run parameters (protocol, mode, who learns, payload directions and width,
   key description), their suggested number of buckets (⌈rows / 2^20⌉; not the row count), an explicit ``buckets``
   or null, their worker count, the SHA-256 of their input, and, when resuming,
   the run id and the peer input digest their manifest recorded, or ``"lost"`` when resuming
   without a manifest (the side was killed before the handshake saved it).
2. Each side checks the peer's hello and both exchange a verdict (a list of
   problems, capped); if either lists one, both stop with the same
   :class:`~pqmpc.errors.HandshakeError` naming every problem (a parameter that
   differs, one side resuming and the other not, an input changed since the run began).
3. A fresh run tosses the salt with commit-then-open: the initiator sends
   ``SHA-256("commit" || r_i)``, the responder its ``r_r``, the initiator opens
   ``r_i``; salt = ``SHA-256("salt" || r_i || r_r || transcript)``. Neither
   party can bias the salt after seeing the other's coin. A resumed run keeps
   the salt of its manifest. When one side resumes and the other lost the run (``"lost"``: no
bucket can have finished, as every bucket needs both), both start afresh and the resuming side
discards its run directory's partition.

B is the explicit value (both explicit values must agree) or the larger of the
two suggestions; workers are the smaller of the two counts. The run id is the
SHA-256 of both hellos and the salt; each bucket session names it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass

from ...errors import HandshakeError, PqmpcError, ProtocolError

__all__ = ["WIRE_VERSION", "MAX_BUCKETS", "BUCKET_ITEMS", "LOST", "Agreement", "suggest_buckets", "agree"]

#: Wire version of the bucketed handshake (bump on any change of its messages). 2: ``resume`` may be
#: ``"lost"`` (resuming, but this side has no record of the run).
WIRE_VERSION = 2
MAX_BUCKETS = 1 << 16
MAX_WORKERS = 1024
#: Items per bucket the automatic choice aims at (a PSI session of 2^20 items runs in about a second).
BUCKET_ITEMS = 1 << 20
HELLO_MAX = 8192
VERDICT_MAX = 4096
KIND = "pqmpc-bucketed-psi"
STEP = "bucketed PSI handshake"


LOST = "lost"


@dataclass
class Agreement:
    buckets: int
    workers: int
    salt: bytes
    run_id: str
    peer_input: str
    #: The run starts afresh although this side resumed (the peer had lost the run).
    restarted: bool = False


def suggest_buckets(rows: int) -> int:
    return max(1, min(MAX_BUCKETS, math.ceil(rows / BUCKET_ITEMS)))


def _hex64(v) -> bool:
    return isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)


def _int_in(v, lo, hi) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _check_hello(msg) -> dict:
    keys = {"kind", "v", "params", "suggest", "buckets", "workers", "input", "resume"}
    if not isinstance(msg, dict) or set(msg) != keys:
        raise ProtocolError(f"{STEP}: the peer's hello is not a bucketed-PSI hello")
    if msg["kind"] != KIND:
        raise ProtocolError(f"{STEP}: the peer does not run bucketed PSI (kind {str(msg['kind'])[:40]!r})")
    if msg["v"] != WIRE_VERSION:
        raise HandshakeError(f"{STEP}: wire version: ours {WIRE_VERSION}, peer's {str(msg['v'])[:20]}")
    p = msg["params"]
    if (not isinstance(p, dict) or len(p) > 32
            or not all(isinstance(k, str) and len(k) <= 40 and (v is None or isinstance(v, (str, int, bool)))
                       for k, v in p.items())):
        raise ProtocolError(f"{STEP}: malformed parameters in the peer's hello")
    ok = (_int_in(msg["suggest"], 1, MAX_BUCKETS)
          and (msg["buckets"] is None or _int_in(msg["buckets"], 1, MAX_BUCKETS))
          and _int_in(msg["workers"], 1, MAX_WORKERS) and _hex64(msg["input"]))
    r = msg["resume"]
    ok = ok and (r is None or r == LOST or (isinstance(r, dict) and set(r) == {"run", "peer_input"}
                                            and _hex64(r["run"]) and _hex64(r["peer_input"])))
    if not ok:
        raise ProtocolError(f"{STEP}: malformed field in the peer's hello")
    return msg


def _recv(ch, step, cap):
    try:
        return ch.recv_json(step, max_bytes=cap)
    except PqmpcError:
        raise
    except (RecursionError, ValueError) as exc:
        raise ProtocolError(f"{step}: control message cannot be parsed ({type(exc).__name__})") from None


def _problems(mine: dict, peer: dict, resume) -> list[str]:
    out = []
    for k in sorted(set(mine["params"]) | set(peer["params"])):
        a, b = mine["params"].get(k), peer["params"].get(k)
        if a != b:
            out.append(f"{k}: ours {a!r}, peer's {b!r}")
    if mine["buckets"] is not None and peer["buckets"] is not None and mine["buckets"] != peer["buckets"]:
        out.append(f"buckets: ours {mine['buckets']}, peer's {peer['buckets']}")
    if (mine["resume"] is None) != (peer["resume"] is None) and LOST not in (mine["resume"], peer["resume"]):
        who = "this side resumes a run but the peer starts a fresh one" if mine["resume"] else \
              "the peer resumes a run but this side starts a fresh one (pass --resume and the same --work-dir)"
        out.append(who)
    elif isinstance(resume, dict) and isinstance(peer["resume"], dict):
        if peer["resume"]["run"] != resume["run"]:
            out.append("the two work directories belong to different runs")
        else:
            if peer["input"] != resume["peer_input"]:
                out.append("the peer's input changed since the run began (its digest differs)")
            if peer["resume"]["peer_input"] != mine["input"]:
                out.append("this side's input changed since the run began (its digest differs)")
            if resume.get("params") is not None and resume["params"] != mine["params"]:
                out.append("this side's parameters differ from the ones the run began with")
    return out


def agree(ch, initiator: bool, params: dict, rows: int, buckets: int | None, workers: int, input_digest: str,
          resume: dict | str | None = None) -> Agreement:
    """Run the handshake on the control channel ``ch``; see the module docstring.

    ``resume``: ``{"run", "peer_input", "params", "salt", "buckets", "workers"}`` from the manifest,
    or :data:`LOST` (resuming without a manifest)."""
    # Only the coarse suggestion leaves, not the row count (which would count duplicates too).
    stated = resume if resume in (None, LOST) else {"run": resume["run"], "peer_input": resume["peer_input"]}
    mine = {"kind": KIND, "v": WIRE_VERSION, "params": params,
            "suggest": suggest_buckets(rows), "buckets": buckets, "workers": int(workers), "input": input_digest,
            "resume": stated}
    ch.send_json(mine)
    peer = _check_hello(_recv(ch, f"{STEP} (hello)", HELLO_MAX))
    problems = _problems(mine, peer, resume)
    ch.send_json({"problems": [p[:300] for p in problems[:8]]})
    verdict = _recv(ch, f"{STEP} (verdict)", VERDICT_MAX)
    if (not isinstance(verdict, dict) or set(verdict) != {"problems"} or not isinstance(verdict["problems"], list)
            or not all(isinstance(p, str) for p in verdict["problems"])):
        raise ProtocolError(f"{STEP}: malformed verdict from the peer")
    if problems or verdict["problems"]:
        theirs = "; ".join(verdict["problems"])
        text = "; ".join(problems) or "(no problem on this side)"
        raise HandshakeError(f"bucketed PSI: the two sides do not agree: {text}"
                             + (f" [the peer reports: {theirs}]" if theirs else ""))
    first, second = (mine, peer) if initiator else (peer, mine)
    transcript = hashlib.sha256(json.dumps([first, second], sort_keys=True).encode()).digest()
    if isinstance(mine["resume"], dict) and isinstance(peer["resume"], dict):
        return Agreement(buckets=int(resume["buckets"]), workers=min(workers, peer["workers"]),
                         salt=bytes.fromhex(resume["salt"]), run_id=resume["run"], peer_input=peer["input"])
    # A fresh run, also when one side lost the run it resumes (both see the same two hellos).
    salt = _coin_toss(ch, initiator, transcript)
    b = mine["buckets"] or peer["buckets"] or max(mine["suggest"], peer["suggest"])
    run_id = hashlib.sha256(b"run\x00" + transcript + salt).hexdigest()
    return Agreement(buckets=b, workers=min(workers, peer["workers"]), salt=salt, run_id=run_id,
                     peer_input=peer["input"], restarted=isinstance(mine["resume"], dict))


def _coin_toss(ch, initiator: bool, transcript: bytes) -> bytes:
    step = f"{STEP} (salt coin toss)"
    if initiator:
        r_i = os.urandom(32)
        ch.send(hashlib.sha256(b"commit\x00" + r_i).digest())
        r_r = ch.recv_bytes(32, step)
        ch.send(r_i)
    else:
        commit = ch.recv_bytes(32, step)
        r_r = os.urandom(32)
        ch.send(r_r)
        r_i = ch.recv_bytes(32, step)
        if hashlib.sha256(b"commit\x00" + r_i).digest() != commit:
            raise ProtocolError(f"{step}: the peer's opened coin does not match its commitment")
    return hashlib.sha256(b"salt\x00" + r_i + r_r + transcript).digest()
