"""Per-channel sessions of the extensions built on κ base OTs (IKNP, KOS, SoftSpoken).

Each party keeps, per channel and role, the state its base OTs set up (PRG streams,
tweak counters). The classes differ in what a session holds and how it is set up;
what they share is here: the default base OT for the security level, looking sessions
up, dropping them, and dropping one when a call fails part-way.
"""

from __future__ import annotations

import functools
import weakref

from ...errors import ParameterError
from ...net import Channel
from ...rng import Rng
from ..interfaces import RandomOT

__all__ = ["ExtensionSessions", "drops_session_on_error"]


def drops_session_on_error(role: str):
    """A call that fails part-way leaves this party's PRG streams and tweak counter out of
    step with the peer's, so its session is dropped (the next call starts a new one); a
    caller's own ``ParameterError``, raised before any message, leaves it intact."""
    def deco(method):
        @functools.wraps(method)
        def wrapper(self, ch, *args, **kw):
            try:
                return method(self, ch, *args, **kw)
            except ParameterError:
                raise
            except BaseException:
                self.forget_role(ch, role)
                raise
        return wrapper
    return deco


class ExtensionSessions:
    """Session bookkeeping; the class sets ``level``, ``block_bytes`` and calls
    :meth:`init_sessions`, and defines ``setup(ch, role, rng=None, delta=None)``."""

    def init_sessions(self, base: RandomOT | None, chunk: int) -> None:
        """Check and keep the base OT (``None``: ML-KEM for the level) and the OTs per wire message."""
        if base is not None and not isinstance(base, RandomOT):
            raise ParameterError(f"base must be an OT instance, not {type(base).__name__}")
        if not isinstance(chunk, int) or not 0 < chunk <= 1 << 22 or chunk % 128:
            raise ParameterError(f"chunk must be a multiple of 128 in [128, 2^22], not {chunk!r}")
        self._base = base
        self.chunk = chunk
        self.mask_chunk = chunk  # chosen-message masks go out one chunk per message
        self._sessions: "weakref.WeakKeyDictionary[Channel, dict]" = weakref.WeakKeyDictionary()

    @property
    def base(self) -> RandomOT:
        if self._base is None:
            from ..base.kyber import KyberOT

            self._base = KyberOT(self.level.kem, block_bytes=self.block_bytes)
        return self._base

    @property
    def post_quantum(self) -> bool:
        return bool(getattr(self.base, "post_quantum", True))

    def session(self, ch: Channel, role: str):
        return self._sessions.get(ch, {}).get(role)

    def remember(self, ch: Channel, role: str, sess):
        """Keep ``sess`` as this party's ``role`` session on ``ch``; returns it."""
        self._sessions.setdefault(ch, {})[role] = sess
        return sess

    def forget(self, ch: Channel) -> None:
        """Drop this party's sessions on ``ch`` (the next call runs base OTs again)."""
        self._sessions.pop(ch, None)

    def forget_role(self, ch: Channel, role: str) -> None:
        self._sessions.get(ch, {}).pop(role, None)

    def ensure_session(self, ch: Channel, role: str, rng=None) -> None:
        if self.session(ch, role) is None:
            self.setup(ch, role, Rng.ensure(rng))

    def _get(self, ch, role, rng, delta=None):
        sess = self.session(ch, role)
        return sess if sess is not None else self.setup(ch, role, rng, delta)
