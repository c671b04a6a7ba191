"""Run benchmark suites and write one JSON file with results and machine facts."""

from __future__ import annotations

import datetime
import importlib
import json
import os
import platform
import subprocess
import sys
import time

#: suite name -> module; each module has ``run(quick: bool) -> list[dict]``.
SUITES = {
    "primitives": "pqmpc.bench.suites.primitives",
    "base_ot": "pqmpc.bench.suites.base_ot",
    "base_ot_saber": "pqmpc.bench.suites.base_ot_saber",
    "ot_ext": "pqmpc.bench.suites.ot_ext",
    "ot_ext_calls": "pqmpc.bench.suites.ot_ext_calls",
    "gc": "pqmpc.bench.suites.gc",
    "yao": "pqmpc.bench.suites.yao",
    "psi": "pqmpc.bench.suites.psi",
}


def available_suites() -> list[str]:
    import importlib.util

    return [name for name, mod in SUITES.items() if importlib.util.find_spec(mod) is not None]


def _cpu() -> dict:
    info = {"machine": platform.machine(), "processor": platform.processor(), "cores": os.cpu_count()}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        from numba.core.codegen import get_host_cpu_features

        feats = set(get_host_cpu_features().split(","))
        info["flags"] = {f: f"+{f}" in feats for f in ("aes", "pclmul", "avx2", "avx512f", "vaes", "vpclmulqdq")}
    except Exception as exc:  # numba missing or odd host: still write the rest
        info["flags_error"] = str(exc)
    return info


def _git_commit() -> str | None:
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict:
    import cryptography
    import numpy

    from .. import __version__

    env = {"pqmpc": __version__, "python": sys.version.split()[0], "numpy": numpy.__version__,
           "cryptography": cryptography.__version__, "platform": platform.platform(), "cpu": _cpu(),
           "git_commit": _git_commit()}
    try:
        import numba

        env["numba"] = numba.__version__
    except ImportError:
        pass
    try:
        from cryptography.hazmat.backends.openssl import backend

        env["openssl"] = backend.openssl_version_text()
    except Exception:
        pass
    return env


def run_suites(names, quick: bool = False, progress=None) -> dict:
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        from ..errors import ParameterError

        raise ParameterError(f"unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}")
    doc = {"started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
           "quick": quick, "environment": environment(), "suites": {}}
    for name in names:
        if progress:
            progress(f"suite {name} ...")
        t0 = time.perf_counter()
        module = importlib.import_module(SUITES[name])
        doc["suites"][name] = {"results": module.run(quick), "seconds": time.perf_counter() - t0}
        if progress:
            progress(f"suite {name} done in {time.perf_counter() - t0:.1f} s")
    return doc


def write_json(doc: dict, path: str) -> None:
    from ..util.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(doc, indent=2, sort_keys=True, default=float) + "\n")
