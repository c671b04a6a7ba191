"""Reproduce or explore fuzz findings from a shell (not collected by pytest).

One case, with the full traceback::

    python -m tests.fuzz.repro PSI sender garbage 2 nested-list-400KB
    python -m tests.fuzz.repro Yao-millionaires evaluator huge_length 6 268435456
    python -m tests.fuzz.repro IKNP-128 receiver truncate 3 100
    python -m tests.fuzz.repro Yao-millionaires garbler retype 1 "((('batch',), 'count-2^20'), (('batched',), 'list-1'))"

Random exploration (distinct findings, grouped by exception and raising line)::

    python -m tests.fuzz.repro --explore 200 [PROTOCOL ...]
"""

from __future__ import annotations

import ast
import sys
import traceback

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from . import engine
from .protocols import BY_NAME, PROTOCOLS
from .strategies import mutations


def _arg(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def one(protocol: str, role: str, kind: str, index: str, *args: str) -> int:
    role_index = BY_NAME[protocol].roles.index(role)
    arg = _arg(args[0]) if args else None
    if kind == "extend" and isinstance(arg, int):
        arg = bytes(arg)
    m = engine.Mutation(kind, int(index), arg)
    out = engine.run_case(protocol, role_index, m)
    print(f"{protocol}, honest {role}, {m.describe()}: {out.kind()} in {out.seconds:.2f} s, "
          f"peak {out.peak_bytes / 2**20:.1f} MiB (limit {engine.memory_limit(protocol, role_index) / 2**20:.1f})")
    if out.exc is not None:
        traceback.print_exception(out.exc)
    return 0 if engine.check(protocol, role_index, m) is None else 1


def where(out: engine.Outcome) -> str:
    if out.exc is None:
        return ""
    tb = traceback.extract_tb(out.exc.__traceback__)
    frames = [f for f in tb if "/pqmpc/" in f.filename] or list(tb)
    f = frames[-1] if frames else None
    return "" if f is None else f"{f.filename.split('/pqmpc/')[-1]}:{f.lineno}"


def explore(n: int, names: list[str]) -> None:
    findings: dict = {}
    for p in PROTOCOLS:
        if names and p.name not in names:
            continue
        for role_index, role in enumerate(p.roles):
            frames = engine.peer_frames(p.name, role_index)

            @settings(max_examples=n, deadline=None, database=None, phases=[p_ for p_ in __import__(
                "hypothesis").Phase if p_.name in ("generate",)], suppress_health_check=list(HealthCheck))
            @given(st.data())
            def run(data):
                m = data.draw(mutations(frames))
                problem = engine.check(p.name, role_index, m)
                if problem:
                    out = engine.run_case(p.name, role_index, m)
                    key = (p.name, role, m.kind, out.kind(), where(out), "memory" if "allocated" in problem else "")
                    findings.setdefault(key, (m, problem))

            run()
            print(f"{p.name} {role}: done", file=sys.stderr)
    for key, (m, problem) in sorted(findings.items()):
        print(" | ".join(key), "\n    e.g.", m.describe(), "\n    ", problem.splitlines()[0][:400])


if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv and argv[0] == "--explore":
        explore(int(argv[1]), argv[2:])
    else:
        sys.exit(one(*argv))
