"""The ``Channel`` base class: framing, accounting and checked receives.

Wire format of one message: ``u32 little-endian payload length ‖ payload``.

A transport plugs in at one of two levels:

* a byte stream (TCP, a pipe, your own socket wrapper): implement
  ``_write(parts)`` (write every buffer in order) and ``_read_exact(n)``
  (return exactly ``n`` bytes or raise :class:`ChannelClosed`); framing,
  the size cap and the statistics come from this class;
* a message transport (queues, an RPC layer that already frames): override
  ``_send_message(payload)`` and ``_recv_message()`` instead.
"""

from __future__ import annotations

import functools
import inspect
import json
import struct
from dataclasses import dataclass

import numpy as np

from ..errors import ChannelClosed, ParameterError, ProtocolError

HEADER = struct.Struct("<I")
DEFAULT_MAX_MESSAGE = 1 << 30  # 1 GiB: bulk protocols chunk well below this.
DEFAULT_MAX_JSON = 4096
# Every pqmpc session opens with a handshake of at most a few KiB; a first frame announcing 16 MiB
# or more is another protocol's bytes ("HTTP" reads as 1.2 GB, a TLS hello as 33 MB).
FOREIGN_FIRST_FRAME = 1 << 24  # control messages are a few hundred bytes; a peer must not make us parse more.


def _refuse_constant(name: str):
    # NaN and Infinity are Python extensions to JSON; a peer has no business sending them.
    raise ValueError(f"non-standard JSON constant {name}")


def foreign_peer_message(step: str | None, first: bytes) -> str:
    """What to tell the user when the peer's first bytes are not a pqmpc frame."""
    shown = first.decode("ascii") if all(32 <= b < 127 for b in first) else first.hex(" ")
    where = f"{step}: " if step else ""
    return (f"{where}the peer is not speaking pqmpc (its first bytes are {shown!r}, not a pqmpc message; "
            "is the address right, and is the other side running pqmpc?)")


@functools.cache
def _takes_limit(fn) -> bool:
    """Whether a (possibly overridden) ``recv_frame`` accepts ``max_bytes``/``step``."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return ("max_bytes" in params and "step" in params) or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


@dataclass
class ChannelStats:
    """Bytes and messages through one end of a channel (frame headers included)."""

    bytes_sent: int = 0
    bytes_received: int = 0
    messages_sent: int = 0
    messages_received: int = 0

    def snapshot(self) -> "ChannelStats":
        return ChannelStats(self.bytes_sent, self.bytes_received, self.messages_sent, self.messages_received)

    def since(self, earlier: "ChannelStats") -> "ChannelStats":
        return ChannelStats(
            self.bytes_sent - earlier.bytes_sent,
            self.bytes_received - earlier.bytes_received,
            self.messages_sent - earlier.messages_sent,
            self.messages_received - earlier.messages_received,
        )

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def as_buffer(data) -> memoryview:
    """A flat byte view of ``data`` without copying it."""
    if isinstance(data, np.ndarray):
        if not data.flags.c_contiguous:
            raise ParameterError("numpy arrays sent on a channel must be C-contiguous")
        data = data.reshape(-1).view(np.uint8)
    try:
        mv = memoryview(data)
    except TypeError as exc:
        raise ParameterError(f"cannot send {type(data).__name__}: need bytes-like or numpy array") from exc
    if not mv.c_contiguous:
        raise ParameterError("buffers sent on a channel must be contiguous")
    return mv.cast("B") if mv.format != "B" or mv.ndim != 1 else mv


def _writable_bytes(out) -> memoryview:
    """A flat writable byte view of a caller's receive buffer."""
    if isinstance(out, np.ndarray):
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise ParameterError("a receive buffer must be a writable, C-contiguous numpy array")
        out = out.reshape(-1).view(np.uint8)
    try:
        mv = memoryview(out)
    except TypeError as exc:
        raise ParameterError(f"cannot receive into {type(out).__name__}: need a writable buffer") from exc
    if mv.readonly or not mv.c_contiguous:
        raise ParameterError("a receive buffer must be writable and contiguous")
    return mv.cast("B") if mv.format != "B" or mv.ndim != 1 else mv


class Channel:
    """A reliable, ordered, framed message pipe between two parties."""

    #: The secure channel's handshake hash (bytes) on a :class:`SecureChannel`;
    #: ``None`` on a plain transport. The MPC handshake binds to it.
    transcript_hash: bytes | None = None

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE):
        self.stats = ChannelStats()
        self.max_message = max_message
        self.closed = False

    # -- transport hooks --------------------------------------------------
    def _write(self, parts: list[memoryview]) -> None:
        raise ChannelClosed(f"{type(self).__name__} implements neither _write nor _send_message")

    def _read_exact(self, n: int):
        raise ChannelClosed(f"{type(self).__name__} implements neither _read_exact nor _recv_message")

    def _send_message(self, payload: memoryview) -> None:
        self._write([memoryview(HEADER.pack(payload.nbytes)), payload])

    def _recv_message(self):
        return self._recv_stream(self.max_message, None)

    def _recv_stream(self, limit: int, step: str | None, exact: bool = False):
        header = self._read_exact(HEADER.size)
        (n,) = HEADER.unpack(bytes(header))
        if n > limit:
            if self.stats.messages_received == 0 and n >= FOREIGN_FIRST_FRAME:
                # A first frame no pqmpc session starts with: an HTTP server, TLS, a port scanner. Its
                # length field is just the first four bytes of some other protocol; say that instead.
                raise ProtocolError(foreign_peer_message(step, bytes(header)))
            # Never allocate (or read) what a peer merely announces.
            raise ProtocolError(self._too_large(n, limit, step, "announced", exact))
        return self._read_exact(n) if n else bytearray()

    def _too_large(self, n: int, limit: int, step: str | None, verb: str, exact: bool = False) -> str:
        where = f"{step}: " if step else ""
        if exact:  # the step knows its size: say it the way every length check does
            return f"{where}expected {limit} bytes, got {n}" + (" (refused on the announced length)"
                                                                   if verb == "announced" else "")
        whose = "this step's" if limit < self.max_message else "this channel's"
        return f"{where}peer {verb} a {n}-byte message, above {whose} limit of {limit} bytes"

    def _recv_bounded(self, limit: int, step: str | None, exact: bool = False):
        """One frame of at most ``limit`` bytes, checked before the body is read when possible."""
        if type(self)._recv_message is Channel._recv_message:
            return self._recv_stream(limit, step, exact)
        # A message transport hands over whole messages: nothing was allocated on
        # our side on the peer's word, but the cap still holds.
        frame = self._recv_message()
        if len(frame) > limit:
            raise ProtocolError(self._too_large(len(frame), limit, step, "sent", exact))
        return frame

    def _recv_counted(self, max_bytes: int, step: str | None, exact: bool = False):
        if self.closed:
            raise ChannelClosed("channel is closed")
        limit = min(int(max_bytes), self.max_message)
        frame = self._recv_bounded(limit, step, exact and limit == max_bytes)
        self.stats.bytes_received += len(frame) + HEADER.size
        self.stats.messages_received += 1
        return frame

    def _frame_into(self, buf: bytearray, limit: int, step: str | None):
        """The next frame read into ``buf`` (``limit`` bytes at least) as a memoryview valid
        until the next call, for a caller that reuses one buffer (the secure channel's
        records); ``None`` when this transport cannot read into a caller's buffer."""
        if type(self)._recv_message is not Channel._recv_message or not hasattr(self, "_read_exact_into"):
            return None
        if self.closed:
            raise ChannelClosed("channel is closed")
        (n,) = HEADER.unpack(bytes(self._read_exact(HEADER.size)))
        if n > limit or n > len(buf):
            raise ProtocolError(self._too_large(n, min(limit, len(buf)), step, "announced"))
        self._read_exact_into(buf, n)
        self.stats.bytes_received += n + HEADER.size
        self.stats.messages_received += 1
        return memoryview(buf)[:n]

    @property
    def reads_into(self) -> bool:
        """Whether frames go from the transport straight into a caller's buffer: a byte stream
        with ``_read_exact_into`` whose receive path no subclass replaced (a secure or shaped
        channel, a test's tampering channel take the copying path)."""
        t = type(self)
        return (hasattr(self, "_read_exact_into") and t.recv_frame is Channel.recv_frame
                and t._recv_message is Channel._recv_message and t._recv_bounded is Channel._recv_bounded
                and t._recv_counted is Channel._recv_counted and t._frame is Channel._frame)

    def _recv_direct(self, view: memoryview, step: str | None) -> None:
        """One frame of exactly ``view.nbytes`` bytes read from the stream into ``view``."""
        if self.closed:
            raise ChannelClosed("channel is closed")
        want = view.nbytes
        limit = min(want, self.max_message)
        (n,) = HEADER.unpack(bytes(self._read_exact(HEADER.size)))
        if n > limit:
            if self.stats.messages_received == 0 and n >= FOREIGN_FIRST_FRAME:
                raise ProtocolError(foreign_peer_message(step, HEADER.pack(n)))
            raise ProtocolError(self._too_large(n, limit, step, "announced", limit == want))
        if n:
            self._read_exact_into(view, n)  # a short frame still leaves the stream in step
        self.stats.bytes_received += n + HEADER.size
        self.stats.messages_received += 1
        if n != want:
            where = f"{step}: " if step else ""
            raise ProtocolError(f"{where}expected {want} bytes, got {n}")

    def _frame(self, limit: int, step: str | None, exact: bool = False):
        fn = type(self).recv_frame
        if fn is Channel.recv_frame:
            return self._recv_counted(limit, step, exact)
        # Subclasses written before recv_frame took keywords override it with no
        # arguments; they still get the cap, checked once the frame is in.
        frame = self.recv_frame(max_bytes=limit, step=step) if _takes_limit(fn) else self.recv_frame()
        if len(frame) > limit:
            raise ProtocolError(self._too_large(len(frame), limit, step, "sent", exact))
        return frame

    def _close(self) -> None:
        pass

    # -- public API ---------------------------------------------------------
    def send(self, data) -> None:
        """Send one message: bytes-like or a C-contiguous numpy array (no copy)."""
        if self.closed:
            raise ChannelClosed("channel is closed")
        payload = as_buffer(data)
        if payload.nbytes > self.max_message:
            raise ParameterError(
                f"message of {payload.nbytes} bytes exceeds the channel limit of {self.max_message}; send it in chunks"
            )
        self._send_message(payload)
        self.stats.bytes_sent += payload.nbytes + HEADER.size
        self.stats.messages_sent += 1

    def recv_frame(self, max_bytes: int | None = None, step: str | None = None):
        """One message as a writable buffer (``bytearray`` for built-in transports).

        ``max_bytes`` caps this message below the channel's ``max_message``; the
        announced length is checked before the body is read, and a larger one
        raises :class:`ProtocolError` naming ``step``.
        """
        return self._recv_counted(self.max_message if max_bytes is None else max_bytes, step)

    def recv(self, max_bytes: int | None = None, step: str | None = None) -> bytes:
        """One message as ``bytes`` (``max_bytes``/``step`` as in :meth:`recv_frame`)."""
        frame = self.recv_frame() if max_bytes is None and step is None else self._frame(
            self.max_message if max_bytes is None else max_bytes, step)
        return frame if isinstance(frame, bytes) else bytes(frame)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- checked helpers used by every protocol ---------------------------
    def recv_bytes(self, nbytes: int, step: str) -> bytes:
        frame = self._frame(nbytes, step, exact=True)
        if len(frame) != nbytes:
            raise ProtocolError(f"{step}: expected {nbytes} bytes, got {len(frame)}")
        return bytes(frame)

    def recv_array(self, dtype, shape, step: str, max_bytes: int | None = None) -> np.ndarray:
        """Receive one message as an array of exactly ``shape`` (one ``-1`` allowed).

        With a fixed shape the expected size is the cap; with a ``-1`` the cap is
        ``max_bytes`` (default: the channel's ``max_message``). Either way the
        announced length is checked before the body is read.
        """
        dtype = np.dtype(dtype)
        shape = tuple(int(s) for s in (shape if isinstance(shape, (tuple, list)) else (shape,)))
        if shape.count(-1) > 1:
            raise ParameterError("at most one -1 in a shape")
        fixed = dtype.itemsize
        for s in shape:
            if s != -1:
                fixed *= s
        limit = fixed if -1 not in shape else (self.max_message if max_bytes is None else max_bytes)
        frame = self._frame(limit, step, exact=-1 not in shape)
        got = len(frame)
        if -1 in shape:
            if fixed == 0 or got % fixed:
                raise ProtocolError(f"{step}: {got} bytes is not a whole number of {fixed}-byte rows")
            shape = tuple(got // fixed if s == -1 else s for s in shape)
        elif got != fixed:
            raise ProtocolError(f"{step}: expected {fixed} bytes, got {got}")
        if not isinstance(frame, bytearray):
            frame = bytearray(frame)
        return np.frombuffer(frame, dtype=dtype).reshape(shape)

    def recv_into(self, out, step: str):
        """Receive one message of exactly ``out``'s size into ``out`` (a writable, C-contiguous
        numpy array or buffer) and return ``out``. A byte-stream transport (TCP) reads the
        body from the socket straight into it; other channels (secure, in-memory) receive
        the frame and copy it in. A frame of another size is a :class:`ProtocolError`
        naming ``step`` (a longer one is refused on its announced length, unread)."""
        view = _writable_bytes(out)
        if self.reads_into:
            self._recv_direct(view, step)
            return out
        frame = self._frame(view.nbytes, step, exact=True)
        if len(frame) != view.nbytes:
            raise ProtocolError(f"{step}: expected {view.nbytes} bytes, got {len(frame)}")
        view[:] = frame
        return out

    def recv_array_into(self, scratch: np.ndarray, step: str) -> np.ndarray:
        """One message as an array of ``scratch``'s shape and dtype, without a fresh buffer:
        read into ``scratch`` where the transport can (TCP), else the received frame itself
        (in-memory and secure channels already hand over a buffer of their own). The result
        is valid until ``scratch`` is reused; sizes are checked as in :meth:`recv_into`."""
        if self.reads_into:
            return self.recv_into(scratch, step)
        return self.recv_array(scratch.dtype, scratch.shape, step)

    def send_bits(self, bits: np.ndarray) -> None:
        """Send 0/1 values packed eight to a byte, little-endian bit order."""
        self.send(np.packbits(np.asarray(bits, dtype=np.uint8), bitorder="little"))

    def recv_bits(self, n: int, step: str) -> np.ndarray:
        packed = self.recv_array(np.uint8, ((n + 7) // 8,), step)
        if n % 8 and packed[-1] >> (n % 8):
            raise ProtocolError(f"{step}: padding bits of the packed bit vector are not zero")
        return np.unpackbits(packed, count=n, bitorder="little")

    def send_json(self, obj) -> None:
        self.send(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode())

    def recv_json(self, step: str, max_bytes: int = DEFAULT_MAX_JSON):
        """One small JSON control message; anything else is a ProtocolError naming ``step``."""
        frame = self._frame(max_bytes, step)
        try:
            return json.loads(bytes(frame).decode("utf-8"), parse_constant=_refuse_constant)
        except RecursionError:
            raise ProtocolError(f"{step}: control message is nested too deeply") from None
        except (ValueError, MemoryError) as exc:  # bad UTF-8 or JSON, an int past the digit limit
            raise ProtocolError(f"{step}: control message is not valid JSON ({exc})") from None
