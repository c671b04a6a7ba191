"""`pqmpc demo` runs the shipped example end to end and its numbers match a plain computation."""

from __future__ import annotations

import csv
import json
import os
import subprocess

from tests.cli.scripts import pqmpc_command

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def plain(path, key="email"):
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return rows, [r[key].strip().lower() for r in rows]


def test_demo_runs_and_is_correct(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    # the README's first line runs `pqmpc demo`: the installed console script, as users do
    p = subprocess.run([*pqmpc_command(), "demo", "--dir", str(tmp_path), "--json"],
                       capture_output=True, env=env, timeout=300, cwd=tmp_path, check=False)
    assert p.returncode == 0, p.stderr.decode()
    doc = json.loads(p.stdout)
    rows_a, keys_a = plain(tmp_path / "members_a.csv")
    rows_b, keys_b = plain(tmp_path / "subscribers_b.csv")
    inter = set(keys_a) & set(keys_b)
    assert 50 < len(inter) < len(set(keys_a))  # the example data overlaps in part
    assert doc["serve"]["intersection"] == doc["connect"]["intersection"] == len(inter)
    assert doc["serve"]["protocol"] == doc["connect"]["protocol"] == "rr22"  # the default
    assert doc["serve"]["mode"] == "semi-honest"
    assert doc["serve"]["duplicate_keys"] == len(keys_a) - len(set(keys_a)) > 0
    out_a, _ = plain(doc["serve"]["output"])
    out_b, _ = plain(doc["connect"]["output"])
    assert out_a == [r for r, k in zip(rows_a, keys_a) if k in inter]
    assert out_b == [r for r, k in zip(rows_b, keys_b) if k in inter]
    assert any(ord(ch) > 127 for r in rows_a for ch in r["full_name"])  # unicode in the example data
    assert b"[serve]" in p.stderr and b"[connect]" in p.stderr  # progress shown
    # the two processes ran over the secure channel with throwaway identities, each pinning the other's
    from pqmpc.net.secure import PublicKey

    fps = {label: PublicKey.load(tmp_path / f"demo-{label}.pub").fingerprint for label in ("serve", "connect")}
    assert doc["fingerprints"] == fps and fps["serve"] != fps["connect"]
    assert doc["serve"]["peer_fingerprint"] == fps["connect"] and doc["connect"]["peer_fingerprint"] == fps["serve"]
    assert doc["serve"]["channel"] == "identity keys" and b"--insecure" not in p.stderr
    from pqmpc.cli.demo import _report

    text = _report({"serve": doc["serve"], "connect": doc["connect"]}, str(tmp_path), doc["seconds"], 9000, fps)
    assert f"intersection: {len(inter)} e-mail addresses" in text
    assert fps["serve"] in text and fps["connect"] in text and "--identity A.key --peer B.pub" in text
    assert f"A wrote {len(out_a)} matching rows" in text and "post-quantum" in text
    one_sided = dict(doc["connect"], output=None)
    assert "B learns nothing and wrote no file" in _report({"serve": doc["serve"], "connect": one_sided},
                                                           str(tmp_path), 1.0, 9000)


def test_the_printed_hint_repeats_the_demo(tmp_path):
    """Typing the report's "run it yourself" commands on the same files gives the demo's result."""
    import re
    import shlex

    from tests.cli.test_warmup import _free_port

    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    folder = tmp_path / "demo"
    p = subprocess.run([*pqmpc_command(), "demo", "--dir", str(folder), "--quiet"], capture_output=True, env=env,
                       timeout=300, cwd=tmp_path, check=False)
    assert p.returncode == 0, p.stderr.decode()
    report = p.stdout.decode()
    assert "intersection: 90 e-mail addresses" in report
    hint = report.split("Run it yourself", 1)[1].splitlines()[1:]
    cmds = [shlex.split(line, comments=True) for line in hint if line.strip()]
    assert [c[:2] for c in cmds] == [["pqmpc", "keygen"]] * 2 + [["pqmpc", "psi"]] * 2
    port = str(_free_port())
    cmds = [[*pqmpc_command(), *(re.sub(r":\d+$", ":" + port, w) for w in c[1:])] for c in cmds]
    for c in cmds[:2]:
        subprocess.run(c, check=True, capture_output=True, env=env, cwd=folder, timeout=120)
    serve = subprocess.Popen(cmds[2], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=folder)
    try:
        conn = subprocess.run(cmds[3], capture_output=True, env=env, cwd=folder, timeout=200, check=False)
        out, err = serve.communicate(timeout=200)
    finally:
        if serve.poll() is None:
            serve.kill()
    assert serve.returncode == 0 and conn.returncode == 0, (err + conn.stderr).decode()
    # the same rows as the demo wrote, byte for byte, on both sides: 90 shared e-mail addresses
    assert (folder / "A.matches.csv").read_bytes() == (folder / "members_a.matches.csv").read_bytes()
    assert (folder / "B.matches.csv").read_bytes() == (folder / "subscribers_b.matches.csv").read_bytes()
    _, keys = plain(folder / "A.matches.csv")
    assert len(set(keys)) == 90


def test_demo_help_has_no_markup():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    for cmd in ("demo", "keygen", "warmup", "bench", "2pc", "info"):
        p = subprocess.run([*pqmpc_command(), cmd, "--help"], capture_output=True, env=env, timeout=60, check=True)
        text = p.stdout.decode()
        assert "``" not in text and ":func:" not in text and ":class:" not in text, (cmd, text)
