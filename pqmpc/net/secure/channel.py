"""``SecureChannel``: a post-quantum authenticated, encrypted ``Channel`` over any transport.

After the handshake (``handshake.py``) every message travels as one or more
records, each one inner-channel frame::

    type (u8) ‖ total (u64 LE)  ‖  AES-256-GCM(k, nonce = counter, ad = type ‖ total, chunk) ‖ tag

``total`` is the whole message's length, ``chunk`` at most ``RECORD_BYTES``.
Nonces are implicit per-direction counters, so a dropped, duplicated, replayed
or reordered record fails its tag; the header is the AAD, so a changed length
or type does too. ``close()`` sends an authenticated CLOSE record, so a cut
connection is told apart from a clean end (:class:`TruncationError`). Keys are
ratcheted with Noise's Rekey() every ``REKEY_RECORDS`` records.
"""

from __future__ import annotations

import struct
import threading
from pathlib import Path

from ...errors import (
    AuthenticationError,
    ChannelClosed,
    ChannelError,
    IntegrityError,
    ParameterError,
    PqmpcError,
    ProtocolError,
    TruncationError,
)
from ..channel import Channel
from ..tcp import _grow  # in-place growth as records arrive
from .handshake import Coins, Session
from .keys import Identity, PublicKey, check_psk, load_psk
from .noise import TAGLEN, DecryptFailed

__all__ = ["SecureChannel", "RECORD_BYTES", "REKEY_RECORDS"]

RECORD_BYTES = 1 << 20
REKEY_RECORDS = 1 << 16  # ≤ 2^36 bytes per AES-GCM key: far inside its usage limits
HDR = struct.Struct("<BQ")
DATA, CLOSE, ABORT, CONFIRM = 1, 2, 3, 4
_CONFIRM_TEXT = {"initiator": b"pqmpc confirm initiator", "responder": b"pqmpc confirm responder"}
ROLES = ("initiator", "responder")



def _as_identity(x) -> Identity | None:
    if x is None or isinstance(x, Identity):
        return x
    if isinstance(x, (str, Path)):
        return Identity.load(x)
    raise ParameterError(f"identity must be an Identity or a .key path, not {type(x).__name__}")


def _as_public(x) -> PublicKey | None:
    if x is None or isinstance(x, PublicKey):
        return x
    if isinstance(x, Identity):
        return x.public
    if isinstance(x, (str, Path)):
        return PublicKey.load(x)
    raise ParameterError(f"peer must be a PublicKey or a .pub path, not {type(x).__name__}")


def _as_psk(x) -> bytes | None:
    if x is None:
        return None
    if isinstance(x, (str, Path)):
        return load_psk(x)
    return check_psk(x)


class SecureChannel(Channel):
    """Build with :meth:`wrap`; then use it like any other channel."""

    def __init__(self, inner: Channel, tx, rx, transcript_hash: bytes, role: str, mode: str,
                 peer: PublicKey | None, max_message: int | None = None):
        super().__init__(max_message=inner.max_message if max_message is None else max_message)
        self.inner = inner
        self._tx, self._rx = tx, rx
        self.transcript_hash = transcript_hash
        self.role = role
        self.mode = mode
        self.peer_key = peer
        self.handshake_bytes = 0
        self._send_lock = threading.Lock()
        self._txbuf = bytearray(HDR.size + RECORD_BYTES + TAGLEN)
        # Records are read into one reused buffer on stream transports and decrypted out
        # of it at once: a fresh 1 MiB per record cost page faults on par with the AEAD.
        self._rxbuf = bytearray(HDR.size + RECORD_BYTES + TAGLEN)
        self._broken: str | None = None
        self._peer_closed = False
        self._step = "secure channel"

    # -- construction -----------------------------------------------------------
    @classmethod
    def wrap(cls, channel: Channel, *, role: str, identity=None, peer=None, psk=None,
             rng=None, encaps_derand=None, max_message: int | None = None) -> SecureChannel:
        """Run the handshake on ``channel`` and return the secure channel over it.

        ``role`` is ``"initiator"`` (the side that connects) or ``"responder"``.
        Authentication: ``identity`` (an :class:`Identity` or ``.key`` path) together
        with ``peer`` (a :class:`PublicKey` or ``.pub`` path), and/or ``psk`` (32 bytes
        or a PSK file path). At least one is required. ``rng`` + ``encaps_derand``
        make the handshake deterministic (test vectors only). On failure the inner
        channel is closed and :class:`AuthenticationError` / :class:`HandshakeError`
        raised; the peer is told with an alert so that it stops too.
        """
        if role not in ROLES:
            raise ParameterError(f"role must be 'initiator' or 'responder', not {role!r}")
        identity, peer, psk = _as_identity(identity), _as_public(peer), _as_psk(psk)
        if (identity is None) != (peer is None):
            missing = "the peer's public key (peer=)" if peer is None else "our identity key (identity=)"
            raise ParameterError(f"static-key authentication needs both keys: {missing} is missing")
        if identity is None and psk is None:
            raise ParameterError("no authentication: give identity= and peer=, and/or psk= "
                                 "(an unauthenticated channel is not a secure channel)")
        if identity is not None and peer == identity.public:
            raise ParameterError("peer= is our own public key; give the other party's .pub file")
        mode = "+".join(m for m, on in (("static", identity is not None), ("psk", psk is not None)) if on)
        sess = Session(channel, role, identity, peer, psk, Coins(rng, encaps_derand))
        try:
            ss = sess.initiate() if role == "initiator" else sess.respond()
            c1, c2 = ss.split()
            tx, rx = (c1, c2) if role == "initiator" else (c2, c1)
            self = cls(channel, tx, rx, ss.h, role, mode, peer, max_message)
            self._confirm(sess)
        except BaseException:
            channel.close()
            raise
        self.handshake_bytes = sess.bytes_sent + sess.bytes_received
        return self

    def _confirm(self, sess: Session) -> None:
        """Key confirmation: each side proves it derived the same keys before any data flows."""
        other = "responder" if self.role == "initiator" else "initiator"
        self._send_record(CONFIRM, memoryview(_CONFIRM_TEXT[self.role]))
        sess.bytes_sent += HDR.size + len(_CONFIRM_TEXT[self.role]) + TAGLEN + 4
        frame = bytes(self.inner._frame(1024, "secure channel handshake, confirmation"))
        sess.bytes_received += len(frame) + 4
        if frame[:4] == b"PQSA":
            raise AuthenticationError("secure channel handshake: the peer refused the handshake: "
                                      + frame[4:].decode("utf-8", "replace"))
        ok = False
        if len(frame) == HDR.size + len(_CONFIRM_TEXT[other]) + TAGLEN:
            rtype, total = HDR.unpack_from(frame)
            out = bytearray(len(frame) - HDR.size - TAGLEN)
            try:
                self._rx.decrypt_into(frame[:HDR.size], memoryview(frame)[HDR.size:], out)
                ok = rtype == CONFIRM and bytes(out) == _CONFIRM_TEXT[other]
            except DecryptFailed:
                ok = False
        if not ok:
            who = (f"identity {self.peer_key.fingerprint}" if self.peer_key is not None else "the pre-shared key")
            sess.fail(f"the peer failed to prove it holds {who} (an impostor holding only the public key, "
                      f"or tampering)", "we could not verify your key confirmation (do you hold the key?)")

    # -- records ------------------------------------------------------------------
    def _send_record(self, rtype: int, chunk: memoryview, total: int | None = None) -> None:
        # One reused buffer (callers hold the send lock): a channel's send() is done
        # with the bytes when it returns, and fresh 1 MiB buffers cost page faults.
        n = chunk.nbytes
        frame = self._txbuf
        HDR.pack_into(frame, 0, rtype, n if total is None else total)
        with memoryview(frame) as view:
            self._tx.encrypt_into(view[:HDR.size], chunk, view[HDR.size:HDR.size + n + TAGLEN])
            if self._tx.n % REKEY_RECORDS == 0:
                self._tx.rekey()
            self.inner.send(view[:HDR.size + n + TAGLEN])

    def _send_message(self, payload: memoryview) -> None:
        self._check_usable()
        total = payload.nbytes
        with self._send_lock:
            off = 0
            while True:
                n = min(RECORD_BYTES, total - off)
                self._send_record(DATA, payload[off:off + n], total)
                off += n
                if off >= total:
                    break

    def _check_usable(self) -> None:
        if self._peer_closed:
            raise ChannelClosed("peer closed the secure channel")
        if self._broken is not None:
            raise IntegrityError(f"secure channel is unusable: {self._broken}")

    def _abort(self, ours: str, theirs: str, cls=IntegrityError):
        self._broken = ours
        if self._send_lock.acquire(timeout=1.0):
            try:
                self._send_record(ABORT, memoryview(theirs.encode()[:900]))
            except (PqmpcError, OSError):
                pass
            finally:
                self._send_lock.release()
        self.closed = True
        self.inner.close()
        raise cls(ours)

    def _next_record(self, step: str | None):
        """(type, total, frame) of the next record, header checked, body still encrypted."""
        where = f"{step}: " if step else ""
        try:
            limit = HDR.size + RECORD_BYTES + TAGLEN
            frame = self.inner._frame_into(self._rxbuf, limit, step)
            if frame is None:
                frame = self.inner._frame(limit, step)
        except ChannelClosed:
            if self.closed:
                raise ChannelClosed("channel is closed") from None
            self._broken = "the connection ended without a close record"
            raise TruncationError(f"{where}the secure channel's connection ended without the peer's close "
                                  f"record (the peer crashed, or the stream was cut)") from None
        except ProtocolError as exc:
            self._abort(f"{where}secure channel record too large ({exc})", "we received an oversized record")
        if len(frame) < HDR.size + TAGLEN:
            self._abort(f"{where}secure channel record of {len(frame)} bytes is truncated",
                        "we received a truncated record")
        rtype, total = HDR.unpack_from(frame)
        return rtype, total, frame

    def _open_into(self, frame, out, at: int, step: str | None) -> None:
        n = len(frame) - HDR.size - TAGLEN
        seq = self._rx.n
        try:
            with memoryview(frame) as fv, memoryview(out) as ov:
                self._rx.decrypt_into(fv[:HDR.size], fv[HDR.size:], ov[at:at + n])
        except DecryptFailed:
            where = f"{step}: " if step else ""
            self._abort(f"{where}secure channel record {seq} failed authentication (tampered with, dropped, "
                        f"duplicated, replayed or reordered); connection aborted",
                        f"your record {seq} failed authentication here (tampering on the path?)")
        if self._rx.n % REKEY_RECORDS == 0:
            self._rx.rekey()

    def _recv_bounded(self, limit: int, step: str | None, exact: bool = False):
        self._check_usable()
        try:
            return self._recv_message_records(limit, step, exact)
        except ChannelError:
            # A timeout or a cut in the middle of a message leaves the record
            # counter and the message boundary unknown: nothing after it is trusted.
            if self._broken is None and not self._peer_closed and not self.closed:
                self._broken = "a receive failed part-way"
            raise

    def _recv_message_records(self, limit: int, step: str | None, exact: bool):
        where = f"{step}: " if step else ""
        out = bytearray()
        got = 0
        total = None
        while True:
            rtype, rtotal, frame = self._next_record(step)
            n = len(frame) - HDR.size - TAGLEN
            if total is None and rtype != DATA:
                body = bytearray(n)
                self._open_into(frame, body, 0, step)
                self._control(rtype, bytes(body), where)
            if total is None:
                _grow(out, n)
            elif got + n > total:
                # Refuse before decrypting: the buffer is sized by the announced total.
                self._abort(f"{where}secure channel: records overrun the announced {total}-byte message",
                            "you sent more than the announced message length", ProtocolError)
            elif got + n > len(out):
                _grow(out, min(total, max(2 * len(out), got + n)))
            self._open_into(frame, out, got, step)
            if rtype != DATA or (total is not None and rtotal != total):
                self._abort(f"{where}secure channel: record type {rtype} (total {rtotal}) in the middle of a "
                            f"{total}-byte message", "you sent an inconsistent record sequence", ProtocolError)
            if total is None:
                total = rtotal
                if total > limit:
                    self._abort(self._too_large(total, limit, step, "announced", exact),
                                f"your {total}-byte message is above our limit of {limit} bytes", ProtocolError)
            got += n
            if got > total or (n == 0 and total != 0):
                self._abort(f"{where}secure channel: records overrun the announced {total}-byte message",
                            "you sent more than the announced message length", ProtocolError)
            if got == total:
                return out

    def _control(self, rtype: int, body: bytes, where: str):
        if rtype == CLOSE:
            self._peer_closed = True
            raise ChannelClosed("peer closed the secure channel")
        if rtype == ABORT:
            self._broken = "the peer aborted"
            self.closed = True
            self.inner.close()
            raise IntegrityError(f"{where}the peer aborted the secure channel: {body.decode('utf-8', 'replace')}")
        self._abort(f"{where}secure channel: unexpected record type {rtype}", f"unexpected record type {rtype}",
                    ProtocolError)

    def _close(self) -> None:
        if self._broken is None and self._send_lock.acquire(timeout=1.0):
            try:
                self._send_record(CLOSE, memoryview(b""))
            except (ChannelError, PqmpcError, OSError):
                pass
            finally:
                self._send_lock.release()
        self.inner.close()

    def __repr__(self) -> str:
        peer = f", peer {self.peer_key.fingerprint}" if self.peer_key is not None else ""
        return f"SecureChannel({self.role}, {self.mode}{peer}, over {type(self.inner).__name__})"
