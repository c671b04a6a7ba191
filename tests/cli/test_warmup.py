"""`pqmpc warmup` fills numba's cache with what the CLI's runs need, and `kernels_cold()` sees it.

Each check runs in child processes with its own NUMBA_CACHE_DIR where it must start empty, so
that a warm-up that misses a kernel, or a `kernels_cold()` that answers without looking, fails.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.scripts import pqmpc_command

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLD = ("from pqmpc.cli.warmup import kernels_cold; import json; "
        "print(json.dumps({p: kernels_cold((p,)) for p in ('rr22', 'kkrt', '2pc')}))")


def _env(cache_dir=None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    return env


def _cold(cache_dir=None) -> dict:
    p = subprocess.run([sys.executable, "-c", COLD], capture_output=True, env=_env(cache_dir), timeout=120,
                       check=False)
    assert p.returncode == 0, p.stderr.decode()
    return json.loads(p.stdout)


def _cache_files(cache_dir: Path) -> set[str]:
    return {str(p.relative_to(cache_dir)) for p in cache_dir.rglob("*") if p.suffix in (".nbi", ".nbc")}


def test_an_empty_cache_is_cold_and_asking_compiles_nothing(tmp_path):
    assert _cold(tmp_path) == {"rr22": True, "kkrt": True, "2pc": True}
    assert _cache_files(tmp_path) == set()


def test_warmup_then_not_cold(tmp_path):
    # The default cache: warm after the other CLI tests, so this is quick; the slow test starts empty.
    p = subprocess.run([*pqmpc_command(), "warmup", "rr22"], capture_output=True, env=_env(), timeout=280,
                       cwd=tmp_path, check=False)
    assert p.returncode == 0, p.stderr.decode()
    lines = p.stderr.decode().splitlines()
    assert [ln.split(":")[0] for ln in lines[:-1]] == [
        "[pqmpc] secure channel (X-Wing handshake, AES-GCM records)", "[pqmpc] PSI rr22", "[pqmpc] PSI rr22 --malicious"]
    assert "kernels ready" in lines[-1] and p.stdout == b""
    assert _cold()["rr22"] is False


def test_unknown_target_is_one_line(tmp_path):
    p = subprocess.run([*pqmpc_command(), "warmup", "rr23"], capture_output=True, env=_env(), timeout=120,
                       cwd=tmp_path, check=False)
    assert p.returncode == 1
    assert p.stderr.decode().strip().splitlines() == [
        "pqmpc: error: unknown warm-up target(s) rr23; choose from rr22, kkrt, 2pc"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pair(listen: list[str], connect: list[str], env, cwd) -> None:
    a = subprocess.Popen([*pqmpc_command(), *listen], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                         cwd=cwd)
    try:
        b = subprocess.run([*pqmpc_command(), *connect], capture_output=True, env=env, cwd=cwd, timeout=200,
                           check=False)
        out_a, err_a = a.communicate(timeout=200)
    finally:
        if a.poll() is None:
            a.kill()
    assert a.returncode == 0 and b.returncode == 0, (err_a + b.stderr).decode()


@pytest.mark.slow
@pytest.mark.timeout(600)  # compiles every CLI kernel from nothing: 70-130 s measured on the loaded 2-core VM
def test_warmup_from_an_empty_cache_covers_the_cli_runs(tmp_path):
    cache = tmp_path / "numba-cache"
    env = _env(cache)
    p = subprocess.run([*pqmpc_command(), "warmup"], capture_output=True, env=env, timeout=480, cwd=tmp_path,
                       check=False)
    assert p.returncode == 0, p.stderr.decode()
    assert len(p.stderr.decode().splitlines()) == 7  # six groups and the total
    assert _cold(cache) == {"rr22": False, "kkrt": False, "2pc": False}
    filled = _cache_files(cache)
    assert filled
    # After warm-up the runs a user makes compile nothing: no new kernel, no new signature.
    d = subprocess.run([*pqmpc_command(), "demo", "--dir", str(tmp_path / "demo"), "--json"], capture_output=True,
                       env=env, timeout=200, cwd=tmp_path, check=False)
    assert d.returncode == 0 and json.loads(d.stdout)["serve"]["intersection"] == 90, d.stderr.decode()
    demo = tmp_path / "demo"
    port = _free_port()
    psi = ["--key", "email", "--normalize", "trim,lower", "--insecure", "--quiet", "--learn", "serve"]
    _pair(["psi", "serve", "--input", str(demo / "members_a.csv"), "--listen", f"127.0.0.1:{port}",
           "--output", str(tmp_path / "kkrt.csv"), "--protocol", "kkrt", *psi],
          ["psi", "connect", "--input", str(demo / "subscribers_b.csv"), "--connect", f"127.0.0.1:{port}",
           "--protocol", "kkrt", *psi], env, tmp_path)
    port = _free_port()
    aes = ["--function", "aes128", "--insecure", "--quiet"]
    _pair(["2pc", "--listen", f"127.0.0.1:{port}", "--input", "0x" + "00" * 16, *aes],
          ["2pc", "--connect", f"127.0.0.1:{port}", "--input", "0x" + "11" * 16, *aes], env, tmp_path)
    assert _cache_files(cache) == filled
