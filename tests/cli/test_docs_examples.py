"""Every ```python block of the README and of the user docs listed here runs as printed.

Each block runs alone in a fresh interpreter (a reader copies one block, not the page), in
an empty folder. A block may opt out only when it cannot run in one process: its first line
is a comment with "not run by the docs test" and the reason. Today that is two blocks, the
two-machine secure channel in docs/quickstart.md and the two-process TCP Yao in docs/2pc.md
(both stand in run form elsewhere: the quickstart's run_pair blocks and `pqmpc 2pc`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["README.md", "docs/quickstart.md", "docs/index.md", "docs/2pc.md", "docs/channels.md",
         "docs/benchmarks.md", "docs/secure-channel.md", "docs/ot-extension.md", "docs/psi.md", "docs/rr22.md",
         "docs/payload-psi.md", "docs/garbling.md"]
SKIP = "not run by the docs test"
#: the blocks allowed to opt out (page, first line): a new opt-out is a visible change here
ALLOWED_SKIPS = {
    ("docs/quickstart.md", "# two machines: not run by the docs test (tests/cli/test_docs_examples.py)"),
    ("docs/2pc.md", "# two processes: not run by the docs test (tests/cli/test_docs_examples.py)"),
}
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def blocks():
    out = []
    for page in PAGES:
        text = (ROOT / page).read_text(encoding="utf-8")
        for m in BLOCK.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            out.append(pytest.param(page, m.group(1), id=f"{page}:{line}"))
    return out


def test_the_pages_have_blocks_and_few_opt_outs():
    found = blocks()
    assert len(found) >= 8
    skipped = {(p.values[0], p.values[1].splitlines()[0]) for p in found if SKIP in p.values[1].splitlines()[0]}
    assert skipped == ALLOWED_SKIPS


@pytest.mark.parametrize(("page", "code"), blocks())
def test_block_runs(page, code, tmp_path):
    if SKIP in code.splitlines()[0]:
        pytest.skip(code.splitlines()[0].lstrip("# "))
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    script = tmp_path / "block.py"
    script.write_text(code, encoding="utf-8")
    p = subprocess.run([sys.executable, str(script)], capture_output=True, env=env, cwd=tmp_path, timeout=240,
                       check=False)
    assert p.returncode == 0, f"{page}: the block fails:\n{code}\n{p.stderr.decode()[-3000:]}"


def test_the_index_links_every_page_and_every_link_resolves():
    text = (ROOT / "docs/index.md").read_text(encoding="utf-8")
    links = {m.split("#")[0] for m in re.findall(r"\]\(([^)]+)\)", text) if "://" not in m}
    for link in links:
        assert (ROOT / "docs" / link).exists(), f"docs/index.md links {link}, which does not exist"
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")} - {"index.md"}
    missing = sorted(pages - links)
    assert not missing, f"docs/index.md does not link {missing}: add a row saying what each page is for"


def test_every_page_with_python_examples_is_run():
    # A new page with a python block joins PAGES, so its examples keep running as printed.
    with_code = {p.relative_to(ROOT).as_posix() for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]
                 if "```python" in p.read_text(encoding="utf-8")}
    assert with_code <= set(PAGES), sorted(with_code - set(PAGES))
