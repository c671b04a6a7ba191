"""Session handshake: both sides state protocol, version and parameters.

Each side sends its statement and compares the peer's with its own. Both
compute the same list of differences, so a mismatch stops *both* sides
with the same message instead of one side hanging or computing garbage.
"""

from __future__ import annotations

from .. import __version__ as _pkg_version
from ..errors import HandshakeError, ProtocolError
from .channel import Channel

MAGIC = "pqmpc-handshake/1"


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
