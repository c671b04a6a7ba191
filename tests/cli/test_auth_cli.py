"""The command line is authenticated by default (issue 13): keygen, refusal, wrong keys.

psi serve/connect and 2pc refuse to run without --identity/--peer or --psk unless
--insecure (then they warn); a wrong peer key, a missing key or a PSK mismatch stops
both sides with one line naming it, a non-zero exit and no output file.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pqmpc.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "pqmpc" / "data" / "demo"


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    return e


def cli(*args):
    return [sys.executable, "-m", "pqmpc.cli.main", *map(str, args)]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(folder: Path, name: str) -> str:
    assert main(["keygen", "--out", str(folder / name)]) == 0
    return str(folder / name)


@pytest.fixture
def keys(tmp_path):
    for n in ("a", "b", "c"):
        keygen(tmp_path, n)
    for n in ("s", "t"):
        assert main(["keygen", "--psk", str(tmp_path / f"{n}.psk")]) == 0
    return tmp_path


def test_keygen_files_modes_and_fingerprint(tmp_path, capsys):
    from pqmpc.net.secure import Identity, PublicKey, load_psk

    assert main(["keygen", "--out", str(tmp_path / "alice")]) == 0
    out = capsys.readouterr().out
    key, pub = tmp_path / "alice.key", tmp_path / "alice.pub"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert not pub.stat().st_mode & stat.S_IWOTH
    fp = Identity.load(key).fingerprint
    assert PublicKey.load(pub).fingerprint == fp and f"fingerprint: {fp}" in out
    assert "PRIVATE" not in pub.read_text().upper() and key.read_text() not in pub.read_text()
    # never overwrite a key by accident
    assert main(["keygen", "--out", str(tmp_path / "alice")]) == 1
    assert "already exists" in capsys.readouterr().err
    assert Identity.load(key).fingerprint == fp
    # a pre-shared key file: secret, 32 bytes
    assert main(["keygen", "--psk", str(tmp_path / "x.psk")]) == 0
    assert stat.S_IMODE((tmp_path / "x.psk").stat().st_mode) == 0o600 and len(load_psk(tmp_path / "x.psk")) == 32
    # a key others can read is refused when loaded
    os.chmod(key, 0o640)
    rc = main(["2pc", "--connect", "127.0.0.1:1", "--function", "equality", "--input", "1",
               "--identity", str(key), "--peer", str(pub)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and str(key) in err[0], err


@pytest.mark.parametrize("argv", [
    ["psi", "serve", "--listen", "127.0.0.1:0", "--input", "a.csv", "--key", "k", "--output", "o.csv"],
    ["psi", "connect", "--connect", "127.0.0.1:1", "--input", "a.csv", "--key", "k", "--output", "o.csv"],
    ["2pc", "--listen", "127.0.0.1:0", "--function", "equality", "--input", "1"],
])
def test_no_authentication_is_refused_before_the_network(argv, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pqmpc: error: no authentication:") and "--insecure" in err[0]


def test_flag_combinations(keys, capsys):
    base = ["2pc", "--listen", "127.0.0.1:0", "--function", "equality", "--input", "1"]
    assert main([*base, "--identity", str(keys / "a.key")]) == 1
    assert "--identity needs --peer" in capsys.readouterr().err
    assert main([*base, "--peer", str(keys / "b.pub")]) == 1
    assert "--peer needs --identity" in capsys.readouterr().err
    assert main([*base, "--insecure", "--psk", str(keys / "s.psk")]) == 1
    assert "--insecure contradicts --psk" in capsys.readouterr().err
    assert main([*base, "--psk", str(keys / "missing.psk")]) == 1
    assert "missing.psk" in capsys.readouterr().err
    assert main([*base, "--identity", str(keys / "a.pub"), "--peer", str(keys / "b.pub")]) == 1
    assert ".key" in capsys.readouterr().err  # a public file given as the secret key


def psi_pair(folder: Path, serve_auth, connect_auth):
    port = free_port()
    common = ["--key", "email", "--normalize", "trim,lower", "--json"]
    s = subprocess.Popen(cli("psi", "serve", "--input", DEMO / "members_a.csv", "--listen", f"127.0.0.1:{port}",
                             "--output", "a.out.csv", "--wait", "60", *common, *serve_auth),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(), cwd=folder)
    c = subprocess.Popen(cli("psi", "connect", "--input", DEMO / "subscribers_b.csv", "--connect",
                             f"127.0.0.1:{port}", "--output", "b.out.csv", "--connect-retry", "60", *common,
                             *connect_auth),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(), cwd=folder)
    res = []
    for p in (s, c):
        try:
            out, err = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
        res.append((p.returncode, out, err))
    return res


def last(err: str) -> str:
    return err.strip().splitlines()[-1]


def test_psi_with_pinned_identities(keys):
    (rs, os_, es), (rc, oc, ec) = psi_pair(keys, ["--identity", keys / "a.key", "--peer", keys / "b.pub"],
                                           ["--identity", keys / "b.key", "--peer", keys / "a.pub"])
    assert rs == rc == 0, es + ec
    js, jc = json.loads(os_), json.loads(oc)
    assert js["intersection"] == jc["intersection"] > 0
    from pqmpc.net.secure import PublicKey

    assert js["peer_fingerprint"] == PublicKey.load(keys / "b.pub").fingerprint
    assert jc["peer_fingerprint"] == PublicKey.load(keys / "a.pub").fingerprint
    assert js["channel"] == jc["channel"] == "identity keys"
    assert "pqmpc: warning" not in es + ec


@pytest.mark.parametrize("case", ["wrong peer key", "psk mismatch", "missing key", "insecure peer"])
def test_psi_refuses_the_wrong_peer_on_both_sides(keys, case):
    a = ["--identity", keys / "a.key", "--peer", keys / "b.pub"]
    b = ["--identity", keys / "b.key", "--peer", keys / "a.pub"]
    serve_auth, connect_auth, words = {
        # the server pins c's key, but b connects
        "wrong peer key": (["--identity", keys / "a.key", "--peer", keys / "c.pub"], b, ["wrong peer key"] * 2),
        "psk mismatch": (["--psk", keys / "s.psk"], ["--psk", keys / "t.psk"], ["pre-shared keys differ"] * 2),
        "missing key": ([*a, "--psk", keys / "s.psk"], b, ["missing key"] * 2),
        "insecure peer": (["--psk", keys / "s.psk"], ["--insecure"], ["secure channel", None]),
    }[case]
    (rs, _, es), (rc, _, ec) = psi_pair(keys, serve_auth, connect_auth)
    assert rs != 0 and rc != 0, (es, ec)
    for err, word in zip((es, ec), words):
        assert last(err).startswith("pqmpc: ") and "Traceback" not in err, err
        if word:
            assert word in last(err), last(err)
    assert not (keys / "a.out.csv").exists() and not (keys / "b.out.csv").exists()
    assert not [f for f in os.listdir(keys) if f.startswith(".tmp-")]


def test_2pc_psk_mismatch_stops_both(keys):
    port = free_port()
    args = ["--function", "equality", "--input", "5", "--timeout", "60"]
    g = subprocess.Popen(cli("2pc", "--listen", f"127.0.0.1:{port}", "--psk", keys / "s.psk", *args),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    e = subprocess.Popen(cli("2pc", "--connect", f"127.0.0.1:{port}", "--psk", keys / "t.psk", *args),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    (go, ge), (eo, ee) = g.communicate(timeout=120), e.communicate(timeout=120)
    assert g.returncode == e.returncode == 1
    assert "pre-shared keys differ" in last(ge) and "pre-shared keys differ" in last(ee)
    assert go == eo == ""  # no result printed


def test_insecure_warns_and_runs(keys):
    port = free_port()
    args = ["--function", "equality", "--input", "5", "--timeout", "60", "--insecure", "--json"]
    g = subprocess.Popen(cli("2pc", "--listen", f"127.0.0.1:{port}", *args),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    e = subprocess.Popen(cli("2pc", "--connect", f"127.0.0.1:{port}", *args),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    (go, ge), (eo, ee) = g.communicate(timeout=120), e.communicate(timeout=120)
    assert g.returncode == e.returncode == 0, ge + ee
    assert json.loads(go)["outputs"] == json.loads(eo)["outputs"] == 1
    for err in (ge, ee):
        assert "pqmpc: warning: --insecure: the connection is neither authenticated nor encrypted" in err
