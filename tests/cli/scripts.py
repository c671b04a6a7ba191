"""How tests start the command line the way users do: the installed ``pqmpc`` console script."""

from __future__ import annotations

import os
import shutil
import sys

import pytest


def console_script() -> str | None:
    """The ``pqmpc`` script installed beside this interpreter (a venv's bin/), if any."""
    return shutil.which("pqmpc", path=os.path.dirname(sys.executable))


def pqmpc_command() -> list[str]:
    """``[pqmpc]`` where it is installed; in CI it must be (pip install -e '.[test]')."""
    script = console_script()
    if script:
        return [script]
    if os.environ.get("CI"):
        pytest.fail("the pqmpc console script is not installed beside the interpreter; CI runs what users run")
    return [sys.executable, "-m", "pqmpc.cli.main"]
