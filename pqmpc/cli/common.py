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
    """Phase and progress lines on stderr; silent with ``quiet``.

    On a terminal a phase redraws one line with a bar; otherwise (logs, CI)
    it prints one line per phase and a few percentage steps, never a flood.
    """

    def __init__(self, quiet: bool = False, stream=None):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._phase = None
        self._t0 = time.perf_counter()
        self._last = -1

    def phase(self, name: str) -> None:
        self._end_line()
        self._phase = name
        self._t0 = time.perf_counter()
        self._last = -1
        if not self.quiet and not self.tty:
            print(f"[pqmpc] {name} ...", file=self.stream, flush=True)

    def update(self, done: int, total: int) -> None:
        if self.quiet or total <= 0:
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
        if self._phase and self.tty and not self.quiet and self._last >= 0:
            elapsed = time.perf_counter() - self._t0
            print(f"\r[pqmpc] {self._phase:<28} done in {elapsed:.2f} s" + " " * 20, file=self.stream, flush=True)
        self._last = -1
