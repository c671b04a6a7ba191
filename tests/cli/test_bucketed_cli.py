"""Bucketed PSI through ``pqmpc psi serve/connect``: two processes over TCP, parallel workers, kill and resume."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.abspath(__file__)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_csv(path, keys, extra="v"):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "email", "note"])
        for i, k in enumerate(keys):
            w.writerow([i, k, f"{extra}{i},\"q\""])


def start(mode, port, inp, out, work=None, extra=(), env=None):
    args = [sys.executable, "-m", "pqmpc.cli.main", "psi", mode, "--input", str(inp), "--key", "email", "--output",
            str(out), "--insecure", "--quiet", "--json", "--timeout", "60", *extra]
    args += (["--listen", f"127.0.0.1:{port}", "--wait", "60"] if mode == "serve"
             else ["--connect", f"127.0.0.1:{port}", "--connect-retry", "30"])
    if work is not None:
        args += ["--work-dir", str(work)]
    e = dict(os.environ, PYTHONPATH=ROOT, **(env or {}))
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e, text=True)


def pair(tmp, a, b, ws=None, wc=None, extra=(), env_s=None, env_c=None, outs=("s.csv", "c.csv")):
    port = free_port()
    s = start("serve", port, a, tmp / outs[0], ws, extra, env_s)
    c = start("connect", port, b, tmp / outs[1], wc, extra, env_c)
    return s, c


def finish(*procs, timeout=300):
    res = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        res.append((p.returncode, out, err))
    return res


def expected(path, other):
    with open(other, newline="") as fh:
        theirs = {r["email"] for r in csv.DictReader(fh)}
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    keep = [rows[0]] + [r for r in rows[1:] if r[1] in theirs]
    buf = io.StringIO()
    # the CLI copies each kept row's bytes from the input, whose writer ended lines with \r\n
    csv.writer(buf, lineterminator="\r\n").writerows(keep)
    return buf.getvalue()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("bucketed")
    a = [f"user{i}@example.org" for i in range(0, 6000, 2)] + ["dup@x", "dup@x", "ünï@x"]
    b = [f"user{i}@example.org" for i in range(0, 6000, 3)] + ["dup@x", "ünï@x", "nobody@x"]
    write_csv(d / "a.csv", a, "a")
    write_csv(d / "b.csv", b, "b")
    return d


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    """An uninterrupted run (no work dir): its outputs are what every resumed run must reproduce."""
    t = tmp_path_factory.mktemp("ref")
    s, c = pair(t, data / "a.csv", data / "b.csv", extra=("--buckets", "6", "--workers", "2"))
    (rs, os_, es), (rc, oc, ec) = finish(s, c)
    assert rs == 0 and rc == 0, (es, ec)
    js, jc = json.loads(os_), json.loads(oc)
    assert js["buckets"] == jc["buckets"] == 6 and js["workers"] == 2
    return (t / "s.csv").read_bytes(), (t / "c.csv").read_bytes()


def test_parallel_run_equals_plain_intersection(data, reference):
    out_s, out_c = reference
    assert out_s.decode() == expected(data / "a.csv", data / "b.csv")
    assert out_c.decode() == expected(data / "b.csv", data / "a.csv")


def _combos():
    # Three of the six in the default run (each spawns four processes); CI runs all (-m "slow or not slow").
    # "handshake": killed after the bucketed handshake, before saving its manifest (the peer saved
    # its own): the resume starts afresh on both sides instead of refusing.
    fast = {("bucket", "serve"), ("merge", "connect"), ("partition", "connect"), ("handshake", "serve")}
    return [pytest.param(ph, v, marks=() if (ph, v) in fast else pytest.mark.slow, id=f"{ph}-{v}")
            for ph in ("handshake", "partition", "bucket", "merge") for v in ("serve", "connect")]


@pytest.mark.parametrize(("phase", "victim"), _combos())
def test_kill_and_resume_gives_identical_output(data, reference, tmp_path, victim, phase):
    ws, wc = tmp_path / "ws", tmp_path / "wc"
    pause = {"PQMPC_BUCKETED_PAUSE": phase}
    extra = ("--buckets", "6", "--workers", "2" if phase == "bucket" else "1")
    s, c = pair(tmp_path, data / "a.csv", data / "b.csv", ws, wc, extra,
                env_s=pause if victim == "serve" else None, env_c=pause if victim == "connect" else None)
    marker = (ws if victim == "serve" else wc) / f".paused-{phase}"
    deadline = time.time() + 120
    while not marker.exists():
        assert time.time() < deadline and s.poll() is None and c.poll() is None, "the run ended before the pause"
        time.sleep(0.02)
    (s if victim == "serve" else c).send_signal(signal.SIGKILL)
    (rs, _, _), (rc, _, _) = finish(s, c)
    killed, survivor = (rs, rc) if victim == "serve" else (rc, rs)
    assert killed == -signal.SIGKILL
    # In the merge phase the survivor needs nothing more from the peer and finishes; before, it stops too.
    assert (survivor == 0) == (phase == "merge")
    assert not (tmp_path / ("s.csv" if victim == "serve" else "c.csv")).exists()
    assert (tmp_path / ("c.csv" if victim == "serve" else "s.csv")).exists() == (phase == "merge")
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp")]
    # What a SIGKILL while writing the output leaves (nothing holds it locked): the resume removes it.
    (tmp_path / ".tmp-s.csv.k1ll3d_0").write_bytes(b"half a file")
    s, c = pair(tmp_path, data / "a.csv", data / "b.csv", ws, wc, extra + ("--resume",))
    (rs, os_, es), (rc, oc, ec) = finish(s, c)
    assert rs == 0 and rc == 0, (es, ec)
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp")]
    assert (tmp_path / "s.csv").read_bytes() == reference[0]
    assert (tmp_path / "c.csv").read_bytes() == reference[1]
    if phase in ("bucket", "merge"):
        assert json.loads(oc)["buckets_reused"] >= 1


def test_changed_input_refused_on_resume_both_sides(data, tmp_path):
    ws, wc = tmp_path / "ws", tmp_path / "wc"
    extra = ("--buckets", "3", "--workers", "1")
    s, c = pair(tmp_path, data / "a.csv", data / "b.csv", ws, wc, extra)
    assert [r[0] for r in finish(s, c)] == [0, 0]
    changed = tmp_path / "a2.csv"
    changed.write_bytes((data / "a.csv").read_bytes() + b"9999,new@x,z\n")
    s, c = pair(tmp_path, changed, data / "b.csv", ws, wc, extra + ("--resume",), outs=("s2.csv", "c2.csv"))
    (rs, _, es), (rc, _, ec) = finish(s, c)
    assert rs != 0 and rc != 0
    assert "input changed" in es and "input changed" in ec
    assert not (tmp_path / "s2.csv").exists() and not (tmp_path / "c2.csv").exists()


def test_bad_row_found_while_bucketing_stops_both_with_the_reason(data, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes((data / "a.csv").read_bytes() + b"77777,,x\n")
    s, c = pair(tmp_path, bad, data / "b.csv", extra=("--buckets", "2", "--workers", "1"))
    (rs, _, es), (rc, _, ec) = finish(s, c)
    assert rs != 0 and rc != 0
    assert "empty key" in es and "the peer stopped" in ec and "empty key" in ec


def test_flags_checked_before_connecting(tmp_path, data, capsys):
    from pqmpc.cli.main import main

    base = ["psi", "serve", "--listen", "127.0.0.1:1", "--input", str(data / "a.csv"), "--key", "email",
            "--output", str(tmp_path / "o.csv"), "--insecure"]
    assert main(base + ["--resume"]) == 1
    assert "--work-dir" in capsys.readouterr().err
    assert main(base + ["--buckets", "off", "--workers", "2"]) == 1
    assert "--buckets off runs in memory" in capsys.readouterr().err


def test_through_the_pqmpc_psi_command(data, tmp_path):
    # The bucketed flags on the real `pqmpc psi serve/connect` parser (the other tests use a minimal
    # one): its defaults (--join inner, no --connect-retry on serve) must not stop a bucketed run.
    port = free_port()
    procs = []
    for mode, inp, out in (("serve", "a.csv", "s.csv"), ("connect", "b.csv", "c.csv")):
        where = ["--listen", f"127.0.0.1:{port}"] if mode == "serve" else ["--connect", f"127.0.0.1:{port}"]
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "pqmpc.cli.main", "psi", mode, "--input", str(data / inp), "--key", "email",
             "--output", str(tmp_path / out), "--insecure", "--quiet", "--json", "--buckets", "3", "--workers", "2",
             *where], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=ROOT),
            text=True))
    (rs, os_, es), (rc, oc, ec) = finish(*procs)
    assert rs == 0 and rc == 0, (es[-2000:], ec[-2000:])
    assert json.loads(os_)["buckets"] == json.loads(oc)["buckets"] == 3
    assert (tmp_path / "s.csv").read_bytes().decode() == expected(data / "a.csv", data / "b.csv")
    assert (tmp_path / "c.csv").read_bytes().decode() == expected(data / "b.csv", data / "a.csv")


REQUESTS = ["auto", "off", "on", 2, 7]


@pytest.mark.parametrize("a", REQUESTS)
@pytest.mark.parametrize("b", REQUESTS)
@pytest.mark.parametrize("sizes", [(0, 0), (4, 4), (5, 0), (0, 9), (100, 100)])
def test_both_sides_choose_the_same_path(a, b, sizes):
    from pqmpc.cli import psi_handshake as clihs
    from pqmpc.errors import HandshakeError

    mine, peer = {"buckets": a, "size_class": sizes[0]}, {"buckets": b, "size_class": sizes[1]}
    try:
        got = clihs.decide(mine, peer, "serve")
    except HandshakeError as exc:
        assert "--buckets differs" in str(exc)
        with pytest.raises(HandshakeError, match="--buckets differs"):
            clihs.decide(peer, mine, "connect")
        assert "off" in (a, b) and ({a, b} - {"off", "auto"}) or (isinstance(a, int) and isinstance(b, int))
        return
    assert got == clihs.decide(peer, mine, "connect")
    if "off" in (a, b):
        assert not got["bucketed"]
    elif isinstance(a, int) or isinstance(b, int):
        assert got == {"bucketed": True, "buckets": a if isinstance(a, int) else b}
    else:
        assert got["bucketed"] == ("on" in (a, b) or max(sizes) > clihs.AUTO_CLASSES)


def test_plan_message_over_a_channel():
    from pqmpc.cli import psi_handshake as clihs
    from pqmpc.net import run_pair

    big, small = 5 * clihs.SIZE_UNIT - 7, 3
    got = run_pair(lambda ch: clihs.agree_plan(ch, "serve", big, "auto"),
                   lambda ch: clihs.agree_plan(ch, "connect", small, "auto"), timeout=30)
    assert [g["bucketed"] for g in got] == [True, True]
    assert got[1]["peer_rows"] == 5 * clihs.SIZE_UNIT and got[0]["peer_rows"] == clihs.SIZE_UNIT
    got = run_pair(lambda ch: clihs.agree_plan(ch, "serve", 4 * clihs.SIZE_UNIT, "auto"),
                   lambda ch: clihs.agree_plan(ch, "connect", small, "auto"), timeout=30)
    assert [g["bucketed"] for g in got] == [False, False]


@pytest.mark.parametrize("bad", [{"buckets": 1, "size_class": 0}, {"buckets": "auto", "size_class": -1},
                                 {"buckets": "auto"}, {"buckets": True, "size_class": 0}, [1]])
def test_a_malformed_plan_is_a_protocol_error(bad):
    from pqmpc.cli import psi_handshake as clihs
    from pqmpc.errors import ProtocolError
    from pqmpc.net import run_pair

    def peer(ch):
        ch.recv_json("x", max_bytes=512)
        ch.send_json(bad)

    with pytest.raises(ProtocolError, match="plan is malformed"):
        run_pair(lambda ch: clihs.agree_plan(ch, "serve", 10, "auto"), peer, timeout=30)


def test_one_side_forcing_buckets_takes_both(data, tmp_path):
    # serve asks for a bucketed run (--workers), connect passes no bucketed flag (auto, small input):
    # both run bucketed, with B from the sizes, and write the plain command's output.
    port = free_port()
    s = start("serve", port, data / "a.csv", tmp_path / "s.csv", extra=("--workers", "1"))
    c = start("connect", port, data / "b.csv", tmp_path / "c.csv")
    (rs, os_, es), (rc, oc, ec) = finish(s, c)
    assert rs == 0 and rc == 0, (es, ec)
    assert json.loads(os_)["bucketed"] and json.loads(oc)["bucketed"] and json.loads(oc)["buckets"] == 1
    assert (tmp_path / "c.csv").read_bytes().decode() == expected(data / "b.csv", data / "a.csv")
    s = start("serve", port, data / "a.csv", tmp_path / "s2.csv", extra=("--buckets", "off"))
    c = start("connect", port, data / "b.csv", tmp_path / "c2.csv", extra=("--buckets", "3"))
    (rs, _, es), (rc, _, ec) = finish(s, c)
    assert rs == 1 and rc == 1
    assert "--buckets differs" in es and "--buckets differs" in ec
