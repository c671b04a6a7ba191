"""Pieces every subcommand uses: host:port parsing, progress on stderr."""

from __future__ import annotations

import sys
import time

from ..errors import InputError


def parse_hostport(text: str, flag: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise InputError(f"{flag} expects HOST:PORT (e.g. 127.0.0.1:9000), got {text!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


class Progress:
    """Phase and progress lines on stderr; silent with ``quiet`` (the summary on stdout is not progress).

    On a terminal a phase is a tqdm bar (rate and ETA; a plain redrawn line if
    tqdm is missing); otherwise (logs, CI) one line per phase and a few
    percentage steps, never a flood.
    """

    def __init__(self, quiet: bool = False, stream=None):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._phase = None
        self._t0 = time.perf_counter()
        self._last = -1
        self._bar = None
        self._unit = ""
        try:
            import tqdm as _tqdm  # noqa: F401

            self._tqdm = self.tty and not quiet
        except ImportError:
            self._tqdm = False

    def phase(self, name: str, unit: str = "") -> None:
        self._end_line()
        self._phase = name
        self._unit = unit
        self._t0 = time.perf_counter()
        self._last = -1
        if not self.quiet and not self.tty:
            print(f"[pqmpc] {name} ...", file=self.stream, flush=True)

    def update(self, done: int, total: int) -> None:
        if self.quiet or total <= 0:
            return
        if self._tqdm:
            if self._bar is None:
                from tqdm import tqdm

                self._bar = tqdm(total=total, desc=f"[pqmpc] {self._phase}", unit=self._unit or "it",
                                 unit_scale=True, file=self.stream, leave=False, dynamic_ncols=True,
                                 mininterval=0.2)
            self._bar.total = total
            self._bar.update(max(0, done - self._bar.n))
            self._last = 0
            return
        pct = min(100, int(100 * done / total))
        if self.tty:
            if pct != self._last:
                bar = "#" * (pct // 4) + "." * (25 - pct // 4)
                print(f"\r[pqmpc] {self._phase:<28} [{bar}] {pct:3d}%", end="", file=self.stream, flush=True)
        elif pct // 25 > self._last // 25 and pct < 100:
            print(f"[pqmpc]   {self._phase}: {pct}%", file=self.stream, flush=True)
        self._last = pct

    def done(self, message: str | None = None) -> None:
        self._end_line()
        if message and not self.quiet:
            print(f"[pqmpc] {message}", file=self.stream, flush=True)
        self._phase = None

    def info(self, message: str) -> None:
        self._end_line()
        if not self.quiet:
            print(f"[pqmpc] {message}", file=self.stream, flush=True)

    def _end_line(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._phase and self.tty and not self.quiet and self._last >= 0:
            elapsed = time.perf_counter() - self._t0
            print(f"\r[pqmpc] {self._phase:<28} done in {elapsed:.2f} s" + " " * 20, file=self.stream, flush=True)
        self._last = -1


AUTH_HELP = ("authentication (one is required unless --insecure): --identity with --peer pins both parties' "
             "long-term keys (pqmpc keygen makes them); --psk uses a pre-shared key file; both may be combined")


def add_auth_args(p) -> None:
    """--identity/--peer/--psk/--insecure, the same on every command that talks to a peer."""
    g = p.add_argument_group("secure channel", AUTH_HELP)
    g.add_argument("--identity", metavar="NAME.key", help="your secret identity key (from pqmpc keygen)")
    g.add_argument("--peer", metavar="PEER.pub", help="the other party's public key file")
    g.add_argument("--psk", metavar="FILE", help="a pre-shared key file both parties hold (pqmpc keygen --psk FILE)")
    g.add_argument("--insecure", action="store_true",
                   help="no authentication or encryption: anyone who reaches the port can take part (tests only)")


class Auth:
    """The keys loaded before any connection, so a missing or wrong file costs no network round."""

    def __init__(self, identity=None, peer=None, psk=None, insecure: bool = False):
        self.identity, self.peer, self.psk, self.insecure = identity, peer, psk, insecure

    @property
    def mode(self) -> str:
        if self.insecure:
            return "insecure"
        return "+".join(m for m, on in (("identity keys", self.identity is not None),
                                        ("pre-shared key", self.psk is not None)) if on)


def load_auth(args) -> Auth:
    given = [f for f, v in (("--identity", args.identity), ("--peer", args.peer), ("--psk", args.psk)) if v]
    if args.insecure:
        if given:
            raise InputError(f"--insecure contradicts {', '.join(given)}: drop one of them")
        print("pqmpc: warning: --insecure: the connection is neither authenticated nor encrypted; anyone who "
              "can reach the port can take part, and anyone on the path can read the traffic",
              file=sys.stderr, flush=True)
        return Auth(insecure=True)
    if bool(args.identity) != bool(args.peer):
        have, need = ("--identity", "--peer PEER.pub") if args.identity else ("--peer", "--identity NAME.key")
        raise InputError(f"{have} needs {need} too (each side pins the other's public key)")
    if not given:
        raise InputError("no authentication: give --identity NAME.key --peer PEER.pub (pqmpc keygen makes keys) "
                         "and/or --psk FILE; or --insecure to run unauthenticated and unencrypted")
    from ..net.secure import Identity, PublicKey, load_psk

    def load(fn, path, flag):
        try:
            return fn(path)
        except OSError as exc:
            raise InputError(f"{flag}: cannot read {path}: {exc.strerror or exc}") from None

    return Auth(identity=load(Identity.load, args.identity, "--identity") if args.identity else None,
                peer=load(PublicKey.load, args.peer, "--peer") if args.peer else None,
                psk=load(load_psk, args.psk, "--psk") if args.psk else None)


def secure(ch, auth: Auth, role: str, progress: Progress):
    """Wrap a connected channel in the secure channel (``role``: "initiator" dials, "responder" listens)."""
    if auth.insecure:
        return ch
    from ..net.secure import SecureChannel

    progress.info("secure channel handshake (" + auth.mode + ") ...")
    sch = SecureChannel.wrap(ch, role=role, identity=auth.identity, peer=auth.peer, psk=auth.psk)
    who = f"peer {auth.peer.fingerprint}" if auth.peer is not None else "peer holds the pre-shared key"
    progress.info(f"secure channel up: {who}")
    return sch
