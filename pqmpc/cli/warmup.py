"""``pqmpc warmup``: compile the numba kernels ahead, so that the first real run does not stall.

numba compiles a kernel on its first call and keeps the machine code in its cache
(``__pycache__`` beside the installed sources, or ``NUMBA_CACHE_DIR``); later
processes load it in milliseconds. A fresh install therefore pays 10-60 s of
compiling inside its first PSI or 2PC run. ``pqmpc warmup`` pays it up front: it
runs each command the way a user would (two parties in this process over TCP
127.0.0.1, secure channel with throwaway identities, the bundled example data)
and prints one line per group of kernels.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

HELP = "compile the numba kernels ahead (PSI, secure channel, 2pc), so that the first real run does not stall"


@dataclass(frozen=True)
class Group:
    """Kernels one CLI feature needs: how to run it once, and the modules whose kernels it compiles."""

    name: str
    label: str
    modules: tuple[str, ...]


# The modules whose numba kernels each group fills, for kernels_cold(); tests/cli/test_warmup.py
# checks that warming a group fills each one and that a run after warm-up compiles nothing new.
# Only modules whose kernels every CPU compiles are named: the AES and GF(2^128) kernels
# come in AES-NI / VAES / table variants of which a CPU uses some.
_OT_BASE = ("pqmpc.primitives.keccak", "pqmpc.lattice.mlkem_keccak", "pqmpc.lattice.mlkem_poly",
            "pqmpc.primitives.transpose_kernels", "pqmpc.ot.ext.cot")
_RR22 = _OT_BASE + ("pqmpc.ot.derive", "pqmpc.psi.keys", "pqmpc.psi.values", "pqmpc.psi.okvs", "pqmpc.ot.ext.vole",
                    "pqmpc.ot.ext.lpn_codes")
_KKRT = _OT_BASE + ("pqmpc.psi.keys", "pqmpc.psi.values", "pqmpc.psi.cuckoo", "pqmpc.psi.kkrt_psi",
                    "pqmpc.ot.ext.kkrt")
GROUPS: dict[str, Group] = {g.name: g for g in (
    # The channel has no numba kernels (X-Wing and AES-GCM come from OpenSSL); its line shows its import cost.
    Group("channel", "secure channel (X-Wing handshake, AES-GCM records)", ()),
    Group("rr22", "PSI rr22", _RR22),
    Group("rr22-malicious", "PSI rr22 --malicious", _RR22),
    Group("kkrt", "PSI kkrt", _KKRT),
    Group("kkrt-256", "PSI kkrt --kappa 256", _KKRT),
    # the garbling walk itself is fused (AES-NI) or fused_vaes by CPU, so only gc.kernels is named
    Group("2pc", "2pc (Yao, one AES-128 block)", _OT_BASE + ("pqmpc.gc.kernels",)),
)}
#: what each name given to :func:`warm` and :func:`kernels_cold` stands for
PROTOCOL_GROUPS = {"rr22": ("channel", "rr22", "rr22-malicious"), "kkrt": ("channel", "kkrt", "kkrt-256"),
                   "2pc": ("channel", "2pc")}


def add_parser(sub) -> None:
    p = sub.add_parser("warmup", help=HELP, description=__doc__.split("\n\n")[1].replace("``", "'"))
    p.add_argument("what", nargs="*", metavar="WHAT",
                   help=f"what to warm up: {', '.join(PROTOCOL_GROUPS)} (default: all)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def run(args) -> int:
    protocols = tuple(args.what) or tuple(PROTOCOL_GROUPS)
    progress = None if args.quiet else (lambda line: print(f"[pqmpc] {line}", file=sys.stderr, flush=True))
    t0 = time.perf_counter()
    warm(protocols, progress)
    if progress:
        progress(f"kernels ready in {time.perf_counter() - t0:.1f} s; later runs load them from the cache")
    return 0


def _groups(protocols) -> list[str]:
    unknown = [p for p in protocols if p not in PROTOCOL_GROUPS]
    if unknown:
        from ..errors import ParameterError

        raise ParameterError(f"unknown warm-up target(s) {', '.join(unknown)}; "
                             f"choose from {', '.join(PROTOCOL_GROUPS)}")
    return list(dict.fromkeys(g for p in protocols for g in PROTOCOL_GROUPS[p]))


def warm(protocols=("rr22", "kkrt"), progress=None) -> None:
    """Compile (or load) every kernel the CLI's runs of ``protocols`` need.

    ``protocols`` names entries of :data:`PROTOCOL_GROUPS` ("rr22" also warms the
    malicious mode, "kkrt" both security levels, "2pc" a Yao AES), each with the secure
    channel. ``progress(line)`` is called once per group, when it is done.
    """
    names = _groups(protocols)
    with tempfile.TemporaryDirectory(prefix="pqmpc-warmup-") as folder:
        data = _Setup(folder)
        for name in names:
            t0 = time.perf_counter()
            _RUNNERS[name](data)
            if progress:
                progress(f"{GROUPS[name].label}: {time.perf_counter() - t0:.1f} s")


class _Setup:
    """Throwaway identities and the bundled example files in a temporary folder."""

    def __init__(self, folder: str):
        from ..net.secure import Identity
        from .demo import copy_examples

        self.folder = folder
        self.a_csv, self.b_csv = copy_examples(folder)
        self.keys = {}
        for label in ("serve", "connect"):
            key, pub = Identity.generate().save(os.path.join(folder, label), overwrite=True)
            self.keys[label] = (str(key), str(pub))

    def auth(self, label: str) -> list[str]:
        other = "connect" if label == "serve" else "serve"
        return ["--identity", self.keys[label][0], "--peer", self.keys[other][1]]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: generous: the peer may be compiling kernels for tens of seconds between two messages
_PATIENCE = "900"


def _both(command: str, listen: list[str], connect: list[str]) -> None:
    """Run the CLI's ``command`` as both parties in two threads of this process; raise what either raised."""
    from .main import build_parser

    parser = build_parser(command)
    errors: list[BaseException] = []

    def side(argv):
        try:
            args = parser.parse_args(argv)
            args.func(args)
        except BaseException as exc:  # handed to the caller
            errors.append(exc)

    threads = [threading.Thread(target=side, args=(argv,), daemon=True) for argv in (listen, connect)]
    # The commands print their results; warm-up shows only its own lines.
    with contextlib.redirect_stdout(io.StringIO()):
        for th in threads:
            th.start()
        for th in threads:
            # a failed side leaves the other waiting for its peer: stop at the first error
            while th.is_alive() and not errors:
                th.join(0.2)
    if errors:
        raise errors[0]


def _psi(flags: list[str]):
    def run_psi(s: _Setup) -> None:
        port = _free_port()
        common = ["--key", "email", "--normalize", "trim,lower", "--quiet", "--timeout", _PATIENCE, *flags]
        out = os.path.join(s.folder, f"out-{port}")
        _both("psi",
              ["psi", "serve", "--input", s.a_csv, "--listen", f"127.0.0.1:{port}", "--output", out + "-a.csv",
               "--wait", _PATIENCE, *s.auth("serve"), *common],
              ["psi", "connect", "--input", s.b_csv, "--connect", f"127.0.0.1:{port}", "--output", out + "-b.csv",
               "--connect-retry", _PATIENCE, *s.auth("connect"), *common])
    return run_psi


def _twopc(s: _Setup) -> None:
    port = _free_port()
    common = ["--function", "aes128", "--quiet", "--timeout", _PATIENCE]
    _both("2pc",
          ["2pc", "--listen", f"127.0.0.1:{port}", "--input", "0x000102030405060708090a0b0c0d0e0f",
           *s.auth("serve"), *common],
          ["2pc", "--connect", f"127.0.0.1:{port}", "--input", "0x00112233445566778899aabbccddeeff",
           "--connect-retry", _PATIENCE, *s.auth("connect"), *common])


def _channel(s: _Setup) -> None:
    from ..net import run_pair
    from ..net.secure import Identity, PublicKey, SecureChannel

    ids = {label: Identity.load(s.keys[label][0]) for label in s.keys}
    pubs = {label: PublicKey.load(s.keys[label][1]) for label in s.keys}

    def side(role, me, peer):
        def go(ch):
            with SecureChannel.wrap(ch, role=role, identity=ids[me], peer=pubs[peer]) as sch:
                sch.send(me.encode())
                return sch.recv()
        return go

    got = run_pair(side("responder", "serve", "connect"), side("initiator", "connect", "serve"))
    if got != (b"connect", b"serve"):
        from ..errors import PqmpcError

        raise PqmpcError(f"warm-up: the secure channel carried {got!r}")


_RUNNERS = {
    "channel": _channel,
    "rr22": _psi(["--protocol", "rr22"]),
    "rr22-malicious": _psi(["--protocol", "rr22", "--malicious"]),
    "kkrt": _psi(["--protocol", "kkrt"]),
    "kkrt-256": _psi(["--protocol", "kkrt", "--kappa", "256"]),
    "2pc": _twopc,
}


# -- is the cache warm? ---------------------------------------------------------------------------

def _dispatchers(module):
    from numba.core.dispatcher import Dispatcher

    return [obj for obj in vars(module).values()
            if isinstance(obj, Dispatcher) and getattr(obj.py_func, "__module__", None) == module.__name__]


def _cached_here(disp) -> bool:
    """Whether numba's cache holds machine code of ``disp`` that this process would load.

    Mirrors numba's own lookup (``Cache.load_overload``): the index must be of this numba
    version and of the current source file (its stamp), and hold an entry for this CPU and
    this bytecode. Nothing is compiled or loaded. numba keeps these objects private; if
    they change shape the answer is "not cached", which costs a needless notice, not a
    wrong result.
    """
    try:
        cache = disp._cache
        index = cache._cache_file._load_index()
        codegen = disp.targetctx.codegen()
        return any(key == cache._index_key(key[0], codegen) for key in index)
    except Exception:
        return False


def kernels_cold(protocols=("rr22", "kkrt")) -> bool:
    """True when a run of ``protocols`` (see :func:`warm`) would compile kernels first.

    Cheap: imports the kernel modules (the run imports them anyway) and reads numba's
    cache index files; compiles nothing. A module counts as warm when numba would load
    at least one of its kernels from the cache: after a fresh install, a numba upgrade,
    an edited source file or on another CPU, none loads.
    """
    for name in dict.fromkeys(m for g in _groups(protocols) for m in GROUPS[g].modules):
        module = importlib.import_module(name)
        if not any(_cached_here(d) for d in _dispatchers(module)):
            return True
    return False


__all__ = ["GROUPS", "PROTOCOL_GROUPS", "Group", "HELP", "add_parser", "kernels_cold", "run", "warm"]
