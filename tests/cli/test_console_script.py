"""The installed ``pqmpc`` console script -- what the README's commands run -- works.

Other CLI tests mostly start ``python -m pqmpc.cli.main``; this one goes through the
entry point that ``pip install`` wrote, so a broken ``[project.scripts]`` line or an
entry function that skips the Ctrl-C handling fails here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

import pqmpc
from tests.cli.scripts import console_script
from tests.cli.test_interrupt import Run, check_interrupted, free_port, interrupt, wait_ready

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def script():
    path = console_script()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("the pqmpc console script is not installed beside the interpreter")
        pytest.skip("pqmpc is not installed in this environment (pip install -e '.[test]')")
    return path


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = ROOT + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    return e


def test_version_and_info(script):
    p = subprocess.run([script, "--version"], capture_output=True, text=True, env=env(), timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == f"pqmpc {pqmpc.__version__}", p.stderr
    p = subprocess.run([script, "info", "--json"], capture_output=True, text=True, env=env(), timeout=120)
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert {b["name"] for b in info["kem_backends"]} == {"reference", "openssl", "liboqs"}
    p = subprocess.run([script, "psi", "serve", "--listen", "nowhere", "--input", "x.csv", "--key", "k",
                        "--output", "o.csv"],
                       capture_output=True, text=True, env=env(), timeout=120)
    assert p.returncode == 1 and p.stderr.strip() == (
        "pqmpc: error: --listen expects HOST:PORT (e.g. 127.0.0.1:9000), got 'nowhere'")


def test_the_script_handles_ctrl_c(script, tmp_path):
    """The script enters through the interrupt-safe entry (pqmpc.cli.main:entry), not bare main()."""
    port = free_port()
    run = Run([script, "2pc", "--listen", f"127.0.0.1:{port}", "--function", "equality", "--input", "1",
               "--timeout", "30", "--insecure"], tmp_path)
    wait_ready(run.p, timeout=60)
    assert interrupt(run.p, signal.SIGINT)
    rc, _, err = run.finish(60)
    check_interrupted(rc, err)


def test_script_runs_this_interpreter(script):
    with open(script, "rb") as fh:
        first = fh.readline().decode(errors="replace")
    # the script pip wrote starts the interpreter of its own environment (the one running the tests)
    assert first.startswith("#!") and os.path.dirname(first[2:].strip().split()[0]) == os.path.dirname(
        sys.executable)
