"""TCP transport: one listening side, one dialling side, timeouts everywhere."""

from __future__ import annotations

import ctypes
import errno
import socket
import struct
import sys
import time

from ..errors import ChannelClosed, ChannelError, ChannelTimeout
from .channel import Channel

_SMALL = 1 << 16  # below this a message goes out in one send with its header
_FIRST = 1 << 20
_SENDMSG = hasattr(socket.socket, "sendmsg")  # a receive buffer starts at most this large and grows as data arrives
# Linux: the socket stays blocking and the kernel enforces the timeout (SO_RCVTIMEO/SO_SNDTIMEO), so a
# 1 MiB frame is one recv(MSG_WAITALL) and one sendmsg that sleep and wake inside the kernel. Python's
# own timeout makes the fd non-blocking and puts a poll() before every partial read and write (about
# four system calls and as many returns to Python per MiB on loopback). Elsewhere, Python's timeout.
_KERNEL_TIMEOUT = sys.platform.startswith("linux") and hasattr(socket, "SO_RCVTIMEO")
_WAITALL = getattr(socket, "MSG_WAITALL", 0) if _KERNEL_TIMEOUT else 0
_TIMEVAL = struct.Struct("@ll")


def _sysctl_ints(name: str) -> list[int]:
    try:
        with open(f"/proc/sys/{name}") as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


def _send_buffer_request() -> int:
    """The SO_SNDBUF to ask for, or 0 to leave the kernel's autotuning alone.

    A writer blocks once ``sndbuf`` bytes are queued and not yet acknowledged. On loopback the
    peer acknowledges as it reads, so whenever the reader is busy with the previous message (or
    descheduled on a shared machine) a writer at the autotuning cap (``tcp_wmem[2]``, 4 MiB by
    default) sleeps and is woken again per drained piece. Linux grants twice the request, up to
    ``wmem_max``; ask only when that beats the autotuning cap (an explicit size turns autotuning
    off, which would cost where ``wmem_max`` is the usual 208 KiB). Measured on 2^24 IKNP calls
    (2 shared vCPUs): the bulk writer's sleeps per call 35-42 -> 13-21 (CPU and wall within the noise)."""
    if not sys.platform.startswith("linux"):
        return 0
    wmem_max, tcp_wmem = _sysctl_ints("net/core/wmem_max"), _sysctl_ints("net/ipv4/tcp_wmem")
    if not wmem_max or len(tcp_wmem) != 3 or 2 * wmem_max[0] <= tcp_wmem[2]:
        return 0
    return wmem_max[0]


_SNDBUF = _send_buffer_request()
_AGAIN = (errno.EAGAIN, errno.EWOULDBLOCK)

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
        self._kernel_timeout = False
        self.set_timeout(timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if _SNDBUF:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SNDBUF)
            except OSError:
                pass
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

    @classmethod
    def loopback_pair(cls, timeout: float | None = 60.0, **kw) -> tuple["TcpChannel", "TcpChannel"]:
        """Two connected ends over 127.0.0.1 on a free port, ``(accepted, dialled)``: real TCP
        without a network, for tests and unshaped loopback benchmarks. The kernel finishes the
        handshake into the listen backlog, so no second thread is needed to accept."""
        with TcpListener("127.0.0.1", 0) as listener:
            dialled = cls.connect("127.0.0.1", listener.port, timeout=timeout, **kw)
            try:
                return listener.accept(timeout, **kw), dialled
            except BaseException:
                dialled.close()
                raise

    def set_timeout(self, seconds: float | None) -> None:
        """Bound every later blocking send and receive by ``seconds`` (``None``: wait forever)."""
        self.timeout = seconds
        if _KERNEL_TIMEOUT:
            # 0 means "no timeout" to the kernel; anything positive is at least 1 µs
            us = 0 if seconds is None else max(1, round(seconds * 1e6))
            tv = _TIMEVAL.pack(us // 1_000_000, us % 1_000_000)
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
            except OSError:
                pass
            else:
                self.sock.settimeout(None)  # blocking fd: the kernel times out each wait
                self._kernel_timeout = True
                return
        self._kernel_timeout = False
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
            if exc.errno in _AGAIN:  # the kernel's SO_SNDTIMEO: no progress for `timeout` seconds
                raise ChannelTimeout(f"sending to {self.peer} timed out after {self.timeout} s") from None
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
                # MSG_WAITALL (blocking fd only): the kernel fills [got, end) before returning, or
                # returns short on its timeout, a signal or the peer closing; the caller loops.
                k = self.sock.recv_into(view[got:end], end - got, _WAITALL if self._kernel_timeout else 0)
            except TimeoutError:
                raise ChannelTimeout(f"no data from {self.peer} for {self.timeout} s") from None
            except OSError as exc:
                if exc.errno in _AGAIN:  # the kernel's SO_RCVTIMEO ran out with nothing read
                    raise ChannelTimeout(f"no data from {self.peer} for {self.timeout} s") from None
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
