"""One engine for every protocol: record an honest transcript, replay it with one message mutated.

The honest party's randomness is seeded, so a re-run produces exactly the
messages it produced while recording; a peer that replays the other side's
recorded messages therefore stays in sync up to the mutated message, and the
harness reaches every receive step of a protocol, not just the first.

Two transports:

* ``memory``: the peer pushes whole messages into a ``MemoryChannel`` (the
  message-level mutations: truncated, extended, bit-flipped, replaced,
  dropped);
* ``tcp``: the peer writes a raw byte stream to a loopback ``TcpChannel``,
  which also allows what only a byte stream can carry: a frame header that
  announces far more bytes than follow, or a stream cut inside a header.

After the mutated message the peer keeps replaying the recorded remainder and
then closes, so the honest party ends in one of: a normal return (a semi-honest
protocol cannot notice every change), :class:`ProtocolError` (or a subclass),
or :class:`ChannelClosed` once the replay has run out. Anything else, a hang,
an exception escaping a helper thread, or an allocation far above the honest
run's, is a finding.
"""

from __future__ import annotations

import functools
import json
import socket
import struct
import threading
import time
import traceback
import tracemalloc
from dataclasses import dataclass, field

from pqmpc.errors import ChannelClosed, ProtocolError
from pqmpc.net import MemoryChannel, TcpListener, run_pair
from pqmpc.rng import Rng

from ..helpers import RecordingChannel
from .protocols import BY_NAME, as_plain, seed_for

HEADER = struct.Struct("<I")

#: Seconds an honest party may take on one mutated replay before it counts as a hang.
CASE_TIMEOUT = 15.0
#: Extra bytes above the honest replay's own peak that a mutated run may allocate.
MEMORY_SLACK = 32 << 20

# Peer-caused endings that are fine (PSI's PeerAbort, "the peer said it stops", is a
# ProtocolError too).
ACCEPTED = (ProtocolError, ChannelClosed)


# -- recording -----------------------------------------------------------------

@dataclass
class Transcript:
    protocol: str
    frames: tuple[list[bytes], list[bytes]]  # what role 0 / role 1 sent, in order
    outputs: tuple  # as_plain() of both parties' results


@functools.cache
def record(protocol: str) -> Transcript:
    """Run the protocol honestly once with seeded randomness; keep both sides' messages."""
    p = BY_NAME[protocol]
    f0, f1 = p.parties()
    ch0, ch1 = RecordingChannel.pair()
    r0, r1 = run_pair(lambda ch: f0(ch, Rng(seed_for(protocol, p.roles[0]))),
                      lambda ch: f1(ch, Rng(seed_for(protocol, p.roles[1]))),
                      timeout=300, channels=(ch0, ch1))
    return Transcript(protocol, (list(ch0.sent), list(ch1.sent)), (as_plain(r0), as_plain(r1)))


# -- mutations -----------------------------------------------------------------

def _deep(depth: int, open_: str = "[", close: str = "]", inner: str = "") -> bytes:
    return (open_ * depth + inner + close * depth).encode()


BIG_INT = "1" + "0" * 5000  # above Python's default int-digit limit for str <-> int

#: Replacement messages: JSON that parses to the wrong thing, or does not parse at all.
GARBAGE = {
    "nested-list-400KB": _deep(200_000),
    "nested-dict": _deep(50_000, '{"a":', "}", "1"),
    "int-5000-digits": BIG_INT.encode(),
    "neg-int-5000-digits": ("-" + "9" * 5000).encode(),
    "float-overflow": b"1e999",
    "nan": b"NaN",
    "null": b"null",
    "true": b"true",
    "string": b'"pqmpc"',
    "empty-list": b"[]",
    "empty-object": b"{}",
    "list-of-ints": b"[1,2,3]",
    "long-list": ("[" + ",".join(["0"] * 50_000) + "]").encode(),
    "long-string": b'"' + b"a" * 100_000 + b'"',
    "handshake-wrong-types": b'{"magic":"pqmpc-handshake/1","protocol":5,"version":[],"params":[1],"role":{}}',
    "not-utf8": b"\xff\xfe\xfd\x00",
    "overlong-utf8": b"\xc0\x80",
    "empty": b"",
    "zeros-16": bytes(16),
}

#: Wrong-typed values put in place of one field of a JSON message (raw JSON tokens).
RETYPE_TOKENS = {
    "int-5000-digits": BIG_INT,
    "negative": "-1",
    "zero": "0",
    "huge-u64": "18446744073709551616",
    # Plausible counts: pass a type check, then size whatever the receiver allocates.
    "count-2^20": "1048576",
    "count-2^29": "536870912",
    "count-2^31-1": "2147483647",
    "huge-i64": "-9223372036854775809",
    "float": "0.5",
    "float-overflow": "1e999",
    "nan": "NaN",
    "null": "null",
    "bool": "true",
    "string": '"x"',
    "long-string": '"' + "a" * 20_000 + '"',
    "list": "[1,2]",
    "object": '{"k":1}',
    "deep-list": "[" * 100_000 + "]" * 100_000,
    "list-0": "[0]",
    "list-1": "[1]",
}

FRAME_KINDS = ("truncate", "extend", "bitflip", "fill", "garbage", "retype", "drop", "duplicate", "swap")
STREAM_KINDS = ("huge_length", "stream_cut")


@dataclass(frozen=True)
class Mutation:
    kind: str
    index: int  # which of the peer's messages
    arg: object = None  # kind-specific: new length, extra bytes, bit positions, garbage name, patches

    @property
    def transport(self) -> str:
        return "tcp" if self.kind in STREAM_KINDS else "memory"

    def describe(self) -> str:
        a = self.arg
        if isinstance(a, (bytes, bytearray)):
            a = f"{len(a)} bytes {bytes(a[:8]).hex()}..."
        return f"{self.kind}(message {self.index}, {a!r})"


def json_paths(obj, prefix=()):
    """Every path (tuple of keys/indices) into a parsed JSON value, the root included."""
    out = [prefix]
    if isinstance(obj, dict):
        for k in sorted(obj):
            out += json_paths(obj[k], prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:8]):
            out += json_paths(v, prefix + (i,))
    return out


def parse_json(frame: bytes):
    try:
        return json.loads(frame.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def is_json(frame: bytes) -> bool:
    return frame[:1] in (b"{", b"[") and parse_json(frame) is not None


_PLACEHOLDER = "\x00fuzz-placeholder\x00"


def retype(frame: bytes, patches) -> bytes:
    """``frame`` (a JSON message) with each ``(path, token)`` value replaced by the raw JSON token."""
    patches = sorted(patches, key=lambda pt: len(pt[0]))
    if any(not path for path, _ in patches):
        return RETYPE_TOKENS[next(t for path, t in patches if not path)].encode()
    obj = parse_json(frame)
    holders = {}
    for n, (path, token) in enumerate(patches):
        node = obj
        try:
            for k in path[:-1]:
                node = node[k]
            node[path[-1]] = f"{_PLACEHOLDER}{n}"
        except (KeyError, IndexError, TypeError):
            continue  # an earlier patch replaced an ancestor of this path
        holders[n] = RETYPE_TOKENS[token]
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    for n, token in holders.items():
        text = text.replace(json.dumps(f"{_PLACEHOLDER}{n}"), token)
    return text.encode()


def mutate_frame(m: Mutation, frame: bytes) -> bytes | None:
    """The replacement for message ``m.index`` (``None``: drop it)."""
    if m.kind == "truncate":
        return frame[: m.arg]
    if m.kind == "extend":
        return frame + bytes(m.arg)
    if m.kind == "bitflip":
        buf = bytearray(frame)
        for bit in m.arg:
            buf[(bit // 8) % len(buf)] ^= 1 << (bit % 8)
        return bytes(buf)
    if m.kind == "fill":  # same length, so shape checks pass and value-range checks are reached
        return bytes([m.arg]) * len(frame)
    if m.kind == "garbage":
        return GARBAGE[m.arg]
    if m.kind == "retype":
        return retype(frame, m.arg)
    if m.kind == "drop":
        return None
    raise ValueError(m.kind)


def framed(frames) -> bytes:
    return b"".join(HEADER.pack(len(f)) + f for f in frames)


def mutated_messages(frames: list[bytes], m: Mutation) -> list[bytes]:
    i = m.index
    if m.kind == "duplicate":
        return frames[: i + 1] + frames[i:]
    if m.kind == "swap":  # with the next message (the last one has none: then it is dropped)
        return frames[:i] + frames[i + 1: i + 2] + ([frames[i]] if i + 1 < len(frames) else []) + frames[i + 2:]
    new = mutate_frame(m, frames[i])
    return frames[:i] + ([] if new is None else [new]) + frames[i + 1:]


def mutated_stream(frames: list[bytes], m: Mutation) -> bytes:
    head, rest = framed(frames[: m.index]), framed(frames[m.index:])
    if m.kind == "huge_length":
        # A header that announces m.arg bytes, followed by whatever the replay has left
        # (the rest of the original message and everything after it), then EOF.
        return head + HEADER.pack(m.arg) + rest[HEADER.size:]
    if m.kind == "stream_cut":
        return head + rest[: m.arg]
    if m.kind in FRAME_KINDS:
        return framed(mutated_messages(frames, m))
    raise ValueError(m.kind)


# -- running one honest party against the replaying peer -------------------------

@dataclass
class Outcome:
    result: object = None
    exc: BaseException | None = None
    tb: str = ""
    hung: bool = False
    seconds: float = 0.0
    peak_bytes: int = 0
    thread_errors: list = field(default_factory=list)

    def kind(self) -> str:
        if self.hung:
            return "hang"
        if self.exc is None:
            return "returned"
        return type(self.exc).__name__

    def accepted(self) -> bool:
        if self.hung or self.thread_errors:
            return False
        return self.exc is None or isinstance(self.exc, ACCEPTED)

    def summary(self) -> str:
        s = f"{self.kind()} after {self.seconds:.2f} s, peak {self.peak_bytes / 2**20:.1f} MiB"
        if self.exc is not None:
            s += f": {type(self.exc).__name__}: {str(self.exc)[:300]}"
        if self.thread_errors:
            s += f"; exceptions escaped helper threads: {self.thread_errors}"
        if self.tb and not self.accepted():
            s += "\n" + self.tb
        return s


class _PeakMemory:
    """Peak memory of the process during one case, above where it started.

    On Linux the kernel's resident-set high-water mark can be reset
    (``/proc/self/clear_refs``), which costs nothing per allocation and also sees
    numba's and OpenSSL's allocations, but only counts pages that were touched.
    With ``trace`` (and wherever the reset is unavailable) tracemalloc also
    counts untouched buffers (``np.empty`` of an announced size), at about five
    times the run time, so it is used where announcements are the point.
    """

    def __init__(self, trace: bool = False):
        self.rss = _can_reset_rss()
        self.trace = trace or not self.rss
        self.rss_base = self.traced_base = 0
        self.started_tracing = False

    def start(self) -> None:
        if self.trace:
            self.started_tracing = not tracemalloc.is_tracing()
            if self.started_tracing:
                tracemalloc.start()
            tracemalloc.reset_peak()
            self.traced_base = tracemalloc.get_traced_memory()[0]
        if self.rss:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.rss_base = _status_kib("VmRSS") << 10

    def peak(self) -> int:
        peak = 0
        if self.rss:
            peak = (_status_kib("VmHWM") << 10) - self.rss_base
        if self.trace:
            peak = max(peak, tracemalloc.get_traced_memory()[1] - self.traced_base)
        return max(0, peak)

    def stop(self) -> None:
        if self.started_tracing:
            tracemalloc.stop()


def _status_kib(field_name: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise OSError(field_name)


@functools.cache
def _can_reset_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        _status_kib("VmHWM")
        return True
    except (OSError, ValueError):
        return False


class _Peer:
    """The replaying side of one case: feeds the honest party, drains what it sends."""

    def __init__(self, transport: str, payload):
        self.transport = transport
        self.payload = payload
        self.threads: list[threading.Thread] = []

    def open(self):
        if self.transport == "memory":
            honest, peer = MemoryChannel.pair()
            for msg in self.payload:
                peer.send(msg)
            peer.close()
            self._close = honest.close
            return honest
        with TcpListener("127.0.0.1", 0) as listener:
            raw = socket.create_connection(("127.0.0.1", listener.port), timeout=CASE_TIMEOUT)
            honest = listener.accept(timeout=CASE_TIMEOUT)
        honest.timeout = CASE_TIMEOUT * 2
        honest.sock.settimeout(CASE_TIMEOUT * 2)

        def write():
            try:
                raw.sendall(self.payload)
                raw.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the honest side stopped reading and closed: fine

        def drain():
            try:
                while raw.recv(1 << 16):
                    pass
            except OSError:
                pass

        self.threads = [threading.Thread(target=write, daemon=True, name="fuzz-peer-write"),
                        threading.Thread(target=drain, daemon=True, name="fuzz-peer-drain")]
        for t in self.threads:
            t.start()

        def close():
            honest.close()
            try:
                raw.close()
            except OSError:
                pass
        self._close = close
        return honest

    def close(self):
        self._close()
        for t in self.threads:
            t.join(5.0)


def run_honest(protocol: str, role_index: int, transport: str, payload, timeout: float | None = None,
               trace: bool = False) -> Outcome:
    """Run role ``role_index`` of ``protocol`` honestly against a peer that plays ``payload``."""
    timeout = CASE_TIMEOUT if timeout is None else timeout
    p = BY_NAME[protocol]
    party = p.parties()[role_index]
    rng = Rng(seed_for(protocol, p.roles[role_index]))
    peer = _Peer(transport, payload)
    out = Outcome()
    ch = peer.open()

    def body():
        try:
            out.result = party(ch, rng)
        except BaseException as exc:  # judged by the caller
            out.exc = exc
            out.tb = "".join(traceback.format_exception(exc)[-6:])

    old_hook = threading.excepthook

    def hook(args):
        if args.thread is not None and args.thread.name.startswith("fuzz-peer"):
            return
        out.thread_errors.append(f"{args.exc_type.__name__} in {args.thread.name if args.thread else '?'}: "
                                 f"{str(args.exc_value)[:200]}")

    threading.excepthook = hook
    meter = _PeakMemory(trace)
    try:
        meter.start()
        t0 = time.monotonic()
        worker = threading.Thread(target=body, daemon=True, name="fuzz-honest")
        worker.start()
        worker.join(timeout)
        out.seconds = time.monotonic() - t0
        if worker.is_alive():
            out.hung = True
        out.peak_bytes = meter.peak()
    finally:
        peer.close()
        if out.hung:
            worker.join(1.0)  # closing the channel should release it; a real hang stays reported
        meter.stop()
        threading.excepthook = old_hook
    return out


def peer_frames(protocol: str, role_index: int) -> list[bytes]:
    """The messages the honest party ``role_index`` receives: what the other role sent."""
    return record(protocol).frames[1 - role_index]


def payload_for(protocol: str, role_index: int, m: Mutation | None, transport: str | None = None):
    frames = peer_frames(protocol, role_index)
    transport = transport or (m.transport if m else "memory")
    if transport == "memory":
        return transport, (list(frames) if m is None else mutated_messages(frames, m))
    return transport, (framed(frames) if m is None else mutated_stream(frames, m))


@functools.cache
def baseline(protocol: str, role_index: int, transport: str = "memory") -> Outcome:
    """The unmutated replay: must reproduce the recorded output (else replay is out of sync)."""
    t, payload = payload_for(protocol, role_index, None, transport)
    # Traced as well: the resident-set peak alone undercounts a run that reuses pages
    # an earlier run freed, and the limit below must not be set by such luck.
    return run_honest(protocol, role_index, t, payload, timeout=CASE_TIMEOUT * 4, trace=True)


def run_case(protocol: str, role_index: int, m: Mutation, trace: bool | None = None) -> Outcome:
    """``trace``: also count untouched allocations (default: for announced lengths)."""
    transport, payload = payload_for(protocol, role_index, m)
    trace = m.kind == "huge_length" if trace is None else trace
    return run_honest(protocol, role_index, transport, payload, trace=trace)


def honest_peak(protocol: str, role_index: int) -> int:
    return max(baseline(protocol, role_index, t).peak_bytes for t in ("memory", "tcp"))


def memory_limit(protocol: str, role_index: int) -> int:
    return 2 * honest_peak(protocol, role_index) + MEMORY_SLACK


def check(protocol: str, role_index: int, m: Mutation, trace: bool | None = None) -> str | None:
    """``None`` if the case ended acceptably, else a description of the finding."""
    out = run_case(protocol, role_index, m, trace)
    problems = []
    if not out.accepted():
        problems.append(out.summary())
    limit = memory_limit(protocol, role_index)
    if out.peak_bytes > limit:
        problems.append(f"allocated {out.peak_bytes / 2**20:.1f} MiB, limit {limit / 2**20:.1f} MiB "
                        f"(honest replay {honest_peak(protocol, role_index) / 2**20:.1f} MiB)")
    if not problems:
        return None
    role = BY_NAME[protocol].roles[role_index]
    return f"{protocol}, honest {role}, {m.describe()}: " + "; ".join(problems)
