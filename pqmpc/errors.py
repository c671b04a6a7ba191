"""One exception hierarchy for the whole package.

Callers catch :class:`PqmpcError` for anything pqmpc raises on purpose; the
subclasses say whose fault it is: the peer (:class:`ProtocolError`), the
transport (:class:`ChannelError`), the caller (:class:`ParameterError`) or the
data (:class:`CircuitError`, :class:`InputError`).
"""

from __future__ import annotations


class PqmpcError(Exception):
    """Root of every error pqmpc raises deliberately."""


class ProtocolError(PqmpcError):
    """A peer message was malformed, truncated or out of range.

    The text names the protocol step, so that a failure in a long run can be
    traced to the message that caused it.
    """


class HandshakeError(ProtocolError):
    """The two parties disagree on protocol, version or parameters."""


class AuthenticationError(HandshakeError):
    """The secure channel's handshake failed: wrong peer key, missing key, PSK mismatch, impostor.

    The text says which check failed and on whose side, where that is knowable.
    """


class IntegrityError(ProtocolError):
    """A secure-channel record failed authentication: tampered, replayed, reordered or dropped."""


class CheatingDetected(ProtocolError):
    """A consistency check of an actively secure protocol failed: the peer deviated.

    Raised on the honest side (e.g. the KOS or SoftSpoken sender when the
    receiver's check values do not match). Unlike a malformed message, this
    is evidence of a modified peer (or of a corrupting transport); the session
    is dropped and its outputs must not be used.
    """


class PeerStopped(ProtocolError):
    """The peer stopped before or during the session and said why (an input error on its
    side, an interrupt). The text is the peer's one-line reason; it never carries data."""


class ChannelError(PqmpcError):
    """The transport failed: the peer went away or did not answer in time."""


class ChannelClosed(ChannelError):
    """The peer closed the connection (or this side closed it)."""


class ChannelTimeout(ChannelError):
    """No data arrived within the channel's timeout."""


class TruncationError(IntegrityError, ChannelClosed):
    """A secure channel's transport ended without the peer's authenticated close record.

    Both a transport failure (the peer crashed, the link was cut) and a possible
    truncation attack, so it is a :class:`ChannelClosed` and an :class:`IntegrityError`.
    """


class ParameterError(PqmpcError, ValueError):
    """The caller passed arguments that cannot work (shape, variant, size)."""


class CircuitError(PqmpcError, ValueError):
    """A circuit is malformed; ``line`` is the 1-based Bristol line, if known."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        if line is not None:
            message = f"line {line}: {message}"
        super().__init__(message)


class InputError(PqmpcError):
    """User data (a CSV file, a command-line value) cannot be used."""
