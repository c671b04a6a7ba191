"""The ``pqmpc psi`` command line's own handshake (``pqmpc-psi-cli``, version 2), before the PSI's.

Three steps on the secure channel (docs/wire-format.md §8c):

1. the flags both sides must pass alike (:func:`agree_flags`, the library's ``handshake``);
2. the run plan (:func:`agree_plan`): each side's ``--buckets`` request and the size class of its
   input (⌈rows / 2^20⌉, as coarse as the bucketed handshake's suggestion); both apply the same
   rule to the same two statements, so both choose the in-memory or the bucketed path alike;
3. after reading the input: payload column names, padded width, ``--protocol``
   (:func:`agree_payload`). A side whose input fails while reading sends ``net.send_abort``'s
   frame here instead, and the peer stops with the reason.
"""

from __future__ import annotations

import math

from ..errors import ChannelError, HandshakeError, PeerStopped, ProtocolError

__all__ = ["CLI_PROTOCOL", "CLI_VERSION", "SIZE_UNIT", "AUTO_CLASSES", "agree_flags", "agree_plan", "decide",
           "agree_payload", "peer_names", "flag_hint", "other"]

CLI_PROTOCOL = "pqmpc-psi-cli"
#: 2: the plan message (step 2) was added; abort frames are accepted at step 3.
CLI_VERSION = 2
MAX_PAYLOAD_COLUMNS = 64
MAX_WIDTH = 1 << 16
PROTOCOL_CHOICES = ("rr22", "kkrt")
#: Rows per size class in the plan message.
SIZE_UNIT = 1 << 20
#: ``--buckets auto`` runs bucketed when the larger side's size class exceeds this: above about
#: 4.2 million rows (RR22 in memory holds ~350 bytes per item: ~1.5 GB there, 3.5 GB at 10^7).
AUTO_CLASSES = 4
MAX_CLASS = 1 << 24
PLAN_STEP = f"{CLI_PROTOCOL} run plan"


def other(mode: str) -> str:
    return "connect" if mode == "serve" else "serve"


def agree_flags(ch, params: dict, mode: str) -> None:
    from ..net import handshake

    try:
        handshake(ch, CLI_PROTOCOL, CLI_VERSION, params, role=mode, peer_role=other(mode))
    except HandshakeError as exc:
        if f"protocol: ours '{CLI_PROTOCOL}'" in str(exc):
            raise HandshakeError(f"the other side runs a pqmpc without the command line's handshake (another "
                                 f"version?); install the same pqmpc on both sides ({exc})") from None
        if "version: ours" in str(exc):
            raise HandshakeError(f"the other side runs another pqmpc version (its command-line handshake "
                                 f"differs); install the same pqmpc on both sides ({exc})") from None
        raise
    except (PeerStopped, ChannelError):
        # a peer that said why, or a connection that ended (a secure channel's truncation is both a
        # ProtocolError and a ChannelClosed: the peer stopped mid-handshake, not another program)
        raise
    except ProtocolError as exc:
        # The first message from the peer: anything but a pqmpc handshake is another program.
        msg = str(exc)
        raise ProtocolError(msg if "not speaking pqmpc" in msg else f"the peer is not speaking pqmpc ({msg})") from None


def size_class(rows: int) -> int:
    return min(MAX_CLASS, math.ceil(max(0, rows) / SIZE_UNIT))


def _valid_request(v) -> bool:
    return v in ("auto", "off", "on") or (isinstance(v, int) and not isinstance(v, bool) and 2 <= v <= 65536)


def _describe(v) -> str:
    return {"auto": "--buckets auto", "off": "in memory (--buckets off)",
            "on": "buckets (a bucketed flag)"}.get(v, f"--buckets {v}")


def decide(mine: dict, peer: dict, mode: str) -> dict:
    """``{"bucketed": bool, "buckets": B or None}`` from both plan messages (the same on both sides)."""
    a, b = mine["buckets"], peer["buckets"]
    if "off" in (a, b):
        if {a, b} - {"off", "auto"}:
            raise HandshakeError(f"--buckets differs: {mode} runs {_describe(a)}, {other(mode)} runs {_describe(b)}")
        return {"bucketed": False, "buckets": None}
    ints = [v for v in (a, b) if isinstance(v, int)]
    if len(ints) == 2 and ints[0] != ints[1]:
        raise HandshakeError(f"--buckets differs: {mode} runs {_describe(a)}, {other(mode)} runs {_describe(b)}")
    if ints:
        return {"bucketed": True, "buckets": ints[0]}
    if "on" in (a, b) or max(mine["size_class"], peer["size_class"]) > AUTO_CLASSES:
        return {"bucketed": True, "buckets": None}
    return {"bucketed": False, "buckets": None}


def agree_plan(ch, mode: str, rows_estimate: int, request) -> dict:
    """Step 2: send this side's request and size class, decide; adds ``peer_rows`` (an upper bound)."""
    mine = {"buckets": request, "size_class": size_class(rows_estimate)}
    ch.send_json(mine)
    peer = ch.recv_json(PLAN_STEP, max_bytes=512)
    if (not isinstance(peer, dict) or set(peer) != {"buckets", "size_class"} or not _valid_request(peer["buckets"])
            or isinstance(peer["size_class"], bool) or not isinstance(peer["size_class"], int)
            or not 0 <= peer["size_class"] <= MAX_CLASS):
        raise ProtocolError(f"{PLAN_STEP}: the {other(mode)} side's plan is malformed")
    out = decide(mine, peer, mode)
    out["peer_rows"] = peer["size_class"] * SIZE_UNIT
    return out


def agree_payload(ch, args, plan, width: int, peer_prefix: str) -> dict:
    """Step 3: each side's payload columns, width and protocol; the session's PSI keywords."""
    mode = plan["mode"]
    ch.send_json({"payload_columns": plan["payload"], "payload_width": width, "protocol": args.protocol})
    theirs = ch.recv_json(f"{CLI_PROTOCOL} payload columns", max_bytes=1 << 16)
    if isinstance(theirs, dict) and "abort" in theirs and "magic" in theirs:
        reason = theirs["abort"] if isinstance(theirs["abort"], str) else repr(theirs["abort"])
        raise PeerStopped(f"the other side stopped before the session: {reason[:300]}")
    cols, pwidth, proto = (theirs.get(k) for k in ("payload_columns", "payload_width", "protocol")) \
        if isinstance(theirs, dict) else (None, None, None)
    if (not isinstance(cols, list) or len(cols) > MAX_PAYLOAD_COLUMNS
            or not all(isinstance(c, str) and 0 < len(c) <= 256 for c in cols)
            or isinstance(pwidth, bool) or not isinstance(pwidth, int) or not 0 <= pwidth <= MAX_WIDTH
            or proto not in (None, *PROTOCOL_CHOICES) or bool(cols) != bool(pwidth)):
        raise ProtocolError(f"{CLI_PROTOCOL}: the {other(mode)} side's payload columns are malformed")
    if cols and not plan["learns"]:
        raise ProtocolError(f"{CLI_PROTOCOL}: the {other(mode)} side sends payload columns to a side that "
                            f"learns nothing")
    any_payload = bool(cols) or bool(plan["payload"])
    ours, peers = (p or "rr22" for p in (args.protocol, proto))
    if ours != peers:
        raise HandshakeError(f"--protocol differs: {mode} runs {ours}, {other(mode)} runs {peers}")
    kw = {}
    if any_payload:
        kw = {"payload_width": max(pwidth, width), "peer_payload": bool(cols) and plan["learns"]}
    return {"protocol": ours, "kw": kw, "peer_columns": cols, "peer_names": peer_names(cols, peer_prefix)}


def drain_payload_message(ch) -> None:
    """After sending an abort at step 3, take in the peer's step-3 message: closing with it unread
    resets the connection, and the peer could lose the reason with it."""
    try:
        ch.recv_json(f"{CLI_PROTOCOL} payload columns", max_bytes=1 << 16)
    except Exception:  # best effort: the abort is already sent
        pass


def peer_names(cols, prefix) -> list[str]:
    names, seen = [], set()
    for c in cols:
        name, k = prefix + c, 2
        while name in seen:
            name, k = f"{prefix}{c}_{k}", k + 1
        seen.add(name)
        names.append(name)
    return names


def flag_hint(msg: str, mode: str) -> str:
    # The library's handshake names the wire protocol, mode and its internal roles; the user knows
    # flags and serve/connect.
    if "protocol: ours" in msg:
        msg = f"--protocol differs from the other side's: {msg}"
    elif "mode: ours" in msg:
        msg = f"--malicious differs from the other side's: {msg}"
    for role in ("receiver", "sender"):
        side = "the side that learns" if role == "receiver" else "the side that sends"
        msg = msg.replace(f"'{role}'", f"'{role}' ({side})")
    return msg.replace("ours ", f"{mode}'s ").replace("peer's ", f"{other(mode)}'s ")
