"""TCP transport: one listening side, one dialling side, timeouts everywhere."""

from __future__ import annotations

import ctypes
import socket
import time

from ..errors import ChannelClosed, ChannelError, ChannelTimeout
from .channel import Channel

_SMALL = 1 << 16  # below this a message goes out in one send with its header
_FIRST = 1 << 20
_SENDMSG = hasattr(socket.socket, "sendmsg")  # a receive buffer starts at most this large and grows as data arrives

try:  # CPython: grow in place (realloc, no zero-fill); the bytes are overwritten by recv_into
    _resize = ctypes.pythonapi.PyByteArray_Resize
    _resize.argtypes = (ctypes.py_object, ctypes.c_ssize_t)
    _resize.restype = ctypes.c_int
except AttributeError:  # pragma: no cover - other interpreters
    _resize = None


def _grow(buf: bytearray, size: int) -> None:
    if _resize is None or _resize(buf, size) != 0:
        buf.extend(bytes(size - len(buf)))


class TcpChannel(Channel):
    """A framed channel over a connected TCP socket.

    ``timeout`` bounds every blocking send and receive (seconds, ``None`` for
    no bound); when it runs out the call raises :class:`ChannelTimeout`.
    """

    def __init__(self, sock: socket.socket, timeout: float | None = 60.0, **kw):
        super().__init__(**kw)
        self.sock = sock
        self.timeout = timeout
        sock.settimeout(timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            host, port = sock.getpeername()[:2]
            self.peer = f"{host}:{port}"
        except OSError:
            self.peer = "?"

    @classmethod
    def connect(cls, host: str, port: int, timeout: float | None = 60.0, retry_for: float = 0.0, **kw) -> "TcpChannel":
        """Dial ``host:port``; keep retrying for ``retry_for`` seconds if refused."""
        deadline = time.monotonic() + retry_for
        delay = 0.05
        while True:
            try:
                sock = socket.create_connection((host, port), timeout=timeout if timeout else None)
                return cls(sock, timeout, **kw)
            except OSError as exc:
                if time.monotonic() + delay > deadline:
                    raise ChannelError(f"could not connect to {host}:{port}: {exc.strerror or exc}") from None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    @classmethod
    def accept(cls, host: str, port: int, timeout: float | None = 60.0, **kw) -> "TcpChannel":
        """Listen on ``host:port``, accept one peer, stop listening."""
        with TcpListener(host, port) as listener:
            return listener.accept(timeout, **kw)

    def set_timeout(self, seconds: float | None) -> None:
        """Bound every later blocking send and receive by ``seconds`` (``None``: wait forever)."""
        self.timeout = seconds
        self.sock.settimeout(seconds)

    def _write(self, parts) -> None:
        try:
            if len(parts) == 2 and parts[1].nbytes < _SMALL:
                self.sock.sendall(b"".join(parts))
            else:  # header and body in one system call, no copy into a joined buffer
                sent = self.sock.sendmsg(parts) if _SENDMSG else 0
                for part in parts:
                    if sent < part.nbytes:
                        self.sock.sendall(part[sent:])
                    sent = max(0, sent - part.nbytes)
        except TimeoutError:
            raise ChannelTimeout(f"sending to {self.peer} timed out after {self.timeout} s") from None
        except OSError as exc:
            raise ChannelClosed(f"connection to {self.peer} lost while sending: {exc.strerror or exc}") from None

    def _read_exact(self, n: int) -> bytearray:
        # The buffer grows with the data that actually arrived (doubling, so the
        # copies stay linear), never to a size the peer merely announced.
        buf = bytearray()
        _grow(buf, min(n, _FIRST))  # no zero-fill: recv_into overwrites every byte before we return
        got = 0
        while got < n:
            if got == len(buf):
                _grow(buf, min(n, 2 * got))
            got = self._fill(buf, got, len(buf))
        return buf

    def _read_exact_into(self, buf: bytearray, n: int) -> None:
        """Read exactly ``n`` bytes into the caller's ``buf`` (at least ``n`` long), for a
        caller that reuses one buffer: fresh pages cost more than the copy here."""
        got = 0
        while got < n:
            got = self._fill(buf, got, n)

    def _fill(self, buf: bytearray, got: int, end: int) -> int:
        with memoryview(buf) as view:
            try:
                k = self.sock.recv_into(view[got:end], end - got)
            except TimeoutError:
                raise ChannelTimeout(f"no data from {self.peer} for {self.timeout} s") from None
            except OSError as exc:
                raise ChannelClosed(f"connection to {self.peer} lost: {exc.strerror or exc}") from None
        if k == 0:
            what = "in the middle of a message" if got else "before the expected message"
            raise ChannelClosed(f"peer {self.peer} closed the connection {what}")
        return got + k

    def _close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class TcpListener:
    """A listening socket; ``port=0`` picks a free port, readable as ``.port``."""

    def __init__(self, host: str, port: int):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError as exc:
            self.sock.close()
            raise ChannelError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self.sock.listen(1)
        self.host = host
        self.port = self.sock.getsockname()[1]

    def accept(self, timeout: float | None = 60.0, **kw) -> TcpChannel:
        self.sock.settimeout(timeout)
        try:
            conn, _ = self.sock.accept()
        except TimeoutError:
            raise ChannelTimeout(f"no peer connected to {self.host}:{self.port} within {timeout} s") from None
        return TcpChannel(conn, timeout, **kw)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
