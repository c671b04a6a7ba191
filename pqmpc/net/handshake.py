"""Session handshake: both sides state protocol, version and parameters.

Each side sends its statement and compares the peer's with its own. Both
compute the same list of differences, so a mismatch stops *both* sides
with the same message instead of one side hanging or computing garbage.
"""

from __future__ import annotations

from .. import __version__ as _pkg_version
from ..errors import ChannelError, HandshakeError, PeerStopped, ProtocolError
from .channel import Channel

MAGIC = "pqmpc-handshake/1"
MAX_REASON = 300  # characters of a peer's stop reason shown to the user


def send_abort(ch: Channel, reason: str) -> bool:
    """Tell the peer, in place of a handshake, that this side stopped and why.

    For a failure found before the session starts (a bad input file, a missing
    column): the peer's :func:`handshake` then raises :class:`PeerStopped` with
    ``reason`` instead of waiting for a timeout. Send only a reason, never data.
    Best effort: returns False if the channel is already gone.
    """
    try:
        ch.send_json({"magic": MAGIC, "abort": str(reason)[:MAX_REASON]})
        return True
    except (ChannelError, OSError):
        return False


def _describe(v) -> str:
    return "(absent)" if v is None else repr(v)


def handshake(ch: Channel, protocol: str, version, params: dict | None = None,
              role: str | None = None, peer_role: str | None = None) -> dict:
    """Exchange and compare session parameters; return the peer's statement.

    ``params`` must be JSON-serialisable and equal on both sides. ``role`` is
    this side's role; if ``peer_role`` is given the peer must claim it (so two
    senders or two receivers are caught).
    """
    mine = {"magic": MAGIC, "protocol": protocol, "version": version, "params": params or {},
            "role": role, "pqmpc": _pkg_version}
    binding = getattr(ch, "transcript_hash", None)
    if binding is not None:
        # Bind the session to the secure channel under it: both ends must see the
        # same authenticated key exchange (docs/secure-channel.md).
        mine["channel"] = binding.hex()
    ch.send_json(mine)
    # Parameters are small but a circuit's input layout can make them a few KiB.
    theirs = ch.recv_json(f"{protocol} handshake", max_bytes=1 << 16)
    if not isinstance(theirs, dict) or theirs.get("magic") != MAGIC:
        raise ProtocolError(f"{protocol} handshake: the peer is not speaking the pqmpc handshake")
    if "abort" in theirs:
        reason = theirs["abort"] if isinstance(theirs["abort"], str) else repr(theirs["abort"])
        raise PeerStopped(f"the other side stopped before the session: {reason[:MAX_REASON]}")
    diffs = []
    if mine.get("channel") != theirs.get("channel"):
        diffs.append("channel binding: " + ("the peer is not on the same secure channel"
                                            if "channel" in mine else "the peer is on a secure channel, we are not"))
    for key in ("protocol", "version"):
        if theirs.get(key) != mine[key]:
            diffs.append(f"{key}: ours {_describe(mine[key])}, peer's {_describe(theirs.get(key))}")
    tp = theirs.get("params") if isinstance(theirs.get("params"), dict) else {}
    for key in sorted(set(mine["params"]) | set(tp)):
        a, b = mine["params"].get(key), tp.get(key)
        if a != b:
            diffs.append(f"{key}: ours {_describe(a)}, peer's {_describe(b)}")
    if peer_role is not None and theirs.get("role") != peer_role:
        diffs.append(f"role: peer should be {peer_role!r} but says {_describe(theirs.get('role'))}")
    if role is not None and theirs.get("role") == role and peer_role is None:
        diffs.append(f"role: both sides are {role!r}")
    if diffs:
        raise HandshakeError(f"{protocol} handshake failed, parameters differ: " + "; ".join(diffs))
    return theirs
