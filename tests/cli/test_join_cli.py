"""`pqmpc psi --payload ... --join inner|left` between two processes, against the same join in sqlite.

Adversarial files: keys repeated on both sides with different payloads (one output row per
pair, as SQL joins), empty payload cells, unicode, long cells, quotes, delimiters and line
breaks inside quoted cells, a byte-order mark and CRLF line ends on one side.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import socket
import sqlite3
import subprocess
from collections import Counter

import pytest

from pqmpc.cli.main import main

from .test_psi_cli import cli, env, finish, free_port

KEYS = ["k1", "k2", "k3", "ünï", "a,b", 'q"uote', "multi\nline", "日本", "only-a", "only-b"]
VALUES = ["", "plain", "with,comma", 'quote"d', "multi\nline", "ünïcödé 日本", "x" * 3000, " spaced ", "semi;colon"]


def make_files(tmp_path, seed=7):
    rnd = random.Random(seed)
    a_rows = [[str(i), rnd.choice(KEYS[:8] + ["only-a"]), rnd.choice(VALUES), rnd.choice(VALUES)] for i in range(40)]
    b_rows = [[rnd.choice(KEYS[:8] + ["only-b"]), rnd.choice(VALUES), str(100 + i)] for i in range(30)]
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["rid", "key", "name", "note"])
    w.writerows(a_rows)
    (tmp_path / "a.csv").write_bytes(buf.getvalue().encode())
    buf = io.StringIO(newline="")
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    w.writerow(["key", "city", "rid"])
    w.writerows(b_rows)
    (tmp_path / "b.csv").write_bytes(b"\xef\xbb\xbf" + buf.getvalue().encode())
    return a_rows, b_rows


def sql_join(a_rows, b_rows, learner: str, how: str):
    """What the learning side must write: its rows (input order) with the peer's payload columns."""
    db = sqlite3.connect(":memory:")
    db.execute("create table a (pos integer, rid, key, name, note)")
    db.execute("create table b (pos integer, key, city, rid)")
    db.executemany("insert into a values (?,?,?,?,?)", [(i, *r) for i, r in enumerate(a_rows)])
    db.executemany("insert into b values (?,?,?,?)", [(i, *r) for i, r in enumerate(b_rows)])
    kind = "left join" if how == "left" else "join"
    if learner == "a":
        q = f"select a.pos, a.rid, a.key, a.name, a.note, b.city from a {kind} b on a.key = b.key"
    else:
        q = f"select b.pos, b.key, b.city, b.rid, a.name, a.note from b {kind} a on a.key = b.key"
    rows = db.execute(q + " order by 1").fetchall()
    return [r[0] for r in rows], [tuple("" if v is None else v for v in r[1:]) for r in rows], \
        [tuple(r[1:]) for r in rows]


def run_pair(tmp_path, serve_extra, connect_extra, port=None):
    port = port or free_port()
    s = subprocess.Popen(cli("serve", "--listen", f"127.0.0.1:{port}", "--wait", "60", "--insecure", "--json",
                             "--input", "a.csv", "--key", "key", *serve_extra),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), cwd=tmp_path)
    c = subprocess.Popen(cli("connect", "--connect", f"127.0.0.1:{port}", "--connect-retry", "30", "--insecure",
                             "--json", "--input", "b.csv", "--key", "key", "--delimiter", ";", *connect_extra),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), cwd=tmp_path)
    return finish(s, c)


def read_csv(path, delimiter=","):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=delimiter))
    return rows[0], [tuple(r) for r in rows[1:]]


def read_jsonl(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def check(got, want, own_width):
    # Same multiset of rows (the pairs of one own row are in payload order, SQL gives none), and
    # the own rows in input order.
    assert Counter(got) == Counter(want)
    assert [g[:own_width] for g in got] == [w[:own_width] for w in want]


@pytest.mark.parametrize("how,fmt,proto", [("inner", "csv", None), ("left", "csv", "kkrt"),
                                           ("left", "jsonl", "malicious")])
def test_join_both_directions_matches_sqlite(tmp_path, how, fmt, proto):
    a_rows, b_rows = make_files(tmp_path)
    ext = {"csv": "csv", "jsonl": "jsonl"}[fmt]
    flags = {None: [], "kkrt": ["--protocol", "kkrt"], "malicious": ["--malicious"]}[proto]
    (rs, os_, es), (rc, oc, ec) = run_pair(
        tmp_path, ["--payload", "name", "--payload", "note", "--join", how, "--output", f"oa.{ext}", *flags],
        ["--payload", "city", "--join", how, "--output", f"ob.{ext}", "--peer-prefix", "their_", *flags])
    assert rs == 0 and rc == 0, (es, ec)
    js, jc = json.loads(os_), json.loads(oc)
    assert js["protocol"] == ("kkrt" if proto == "kkrt" else "rr22") and js["peer_columns"] == ["peer_city"]
    assert jc["peer_columns"] == ["their_name", "their_note"]
    _, want_a, want_a_null = sql_join(a_rows, b_rows, "a", how)
    _, want_b, want_b_null = sql_join(a_rows, b_rows, "b", how)
    if fmt == "csv":
        head_a, got_a = read_csv(tmp_path / "oa.csv")
        head_b, got_b = read_csv(tmp_path / "ob.csv", ";")
        assert head_a == ["rid", "key", "name", "note", "peer_city"]
        assert head_b == ["key", "city", "rid", "their_name", "their_note"]
        check(got_a, want_a, 4)
        check(got_b, want_b, 3)
        raw_b = (tmp_path / "ob.csv").read_bytes()
        assert raw_b.startswith(b"\xef\xbb\xbf\"key\";\"city\";\"rid\";") and raw_b.endswith(b"\r\n")
    else:
        got_a = [tuple(r.values()) for r in read_jsonl(tmp_path / "oa.jsonl")]
        got_b = [tuple(r.values()) for r in read_jsonl(tmp_path / "ob.jsonl")]
        check(got_a, want_a_null, 4)  # JSON keeps SQL's NULL for a LEFT JOIN's unmatched row
        check(got_b, want_b_null, 3)
    assert js["rows_written"] == len(want_a) and jc["rows_written"] == len(want_b)
    if how == "left":
        assert len({w[0] for w in want_a}) == len(a_rows)  # every own row at least once
    assert "only-a" not in (tmp_path / f"ob.{ext}").read_text(encoding="utf-8-sig")  # nothing unmatched leaks


def test_one_direction_parquet_output_and_input(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    a_rows, b_rows = make_files(tmp_path)
    # The serving side reads Parquet; only connect learns, and gets serve's payload.
    t = pa.table({n: [r[i] for r in a_rows] for i, n in enumerate(["rid", "key", "name", "note"])})
    pq.write_table(t, tmp_path / "a.parquet")
    port = free_port()
    s = subprocess.Popen(cli("serve", "--listen", f"127.0.0.1:{port}", "--wait", "60", "--insecure", "--quiet",
                             "--input", "a.parquet", "--key", "key", "--payload", "name", "--learn", "connect"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), cwd=tmp_path)
    c = subprocess.Popen(cli("connect", "--connect", f"127.0.0.1:{port}", "--connect-retry", "30", "--insecure",
                             "--input", "b.csv", "--key", "key", "--delimiter", ";", "--learn", "connect",
                             "--join", "left", "--output", "ob.out", "--output-format", "parquet", "--quiet"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), cwd=tmp_path)
    (rs, _, es), (rc, oc, ec) = finish(s, c)
    assert rs == 0 and rc == 0, (es, ec)
    got = pq.read_table(tmp_path / "ob.out")
    assert got.column_names == ["key", "city", "rid", "peer_name"]
    db = sqlite3.connect(":memory:")
    db.execute("create table a (rid, key, name, note)")
    db.execute("create table b (pos integer, key, city, rid)")
    db.executemany("insert into a values (?,?,?,?)", a_rows)
    db.executemany("insert into b values (?,?,?,?)", [(i, *r) for i, r in enumerate(b_rows)])
    want = db.execute("select b.key, b.city, b.rid, a.name from b left join a on a.key = b.key order by b.pos")
    check([tuple(r.values()) for r in got.to_pylist()], list(want), 3)
    # --quiet silences progress only: the summary is still on stdout.
    assert "intersection:" in oc and "[pqmpc]" not in ec and not (tmp_path / "oa.csv").exists()


def test_output_to_stdout_and_summary_to_stderr(tmp_path):
    a_rows, b_rows = make_files(tmp_path)
    (rs, os_, es), (rc, oc, ec) = run_pair(tmp_path, ["--learn", "connect", "--payload", "name"],
                                           ["--learn", "connect", "--output", "-", "--payload-width", "4000"])
    assert rs == 0 and rc == 0, (es, ec)
    rows = list(csv.reader(io.StringIO(oc.lstrip("\ufeff"), newline=""), delimiter=";"))
    _, want, _ = sql_join(a_rows, [r for r in b_rows], "b", "inner")
    assert rows[0] == ["key", "city", "rid", "peer_name"]
    assert Counter(tuple(r) for r in rows[1:]) == Counter(w[:4] for w in want)
    assert json.loads(ec.strip().splitlines()[-1])["rows_written"] == len(want)


def run_main(argv, capsys):
    code = main(argv)
    cap = capsys.readouterr()
    return code, cap.err.strip().splitlines()[-1] if cap.err.strip() else ""


@pytest.mark.parametrize("setup,expect", [
    ("exists", "the file exists; pass --force"),
    ("dir", "is a directory"),
    ("noparent", "does not exist"),
])
def test_output_paths_are_checked_before_listening(tmp_path, capsys, setup, expect):
    make_files(tmp_path)
    out = {"exists": tmp_path / "o.csv", "dir": tmp_path / "d", "noparent": tmp_path / "no" / "o.csv"}[setup]
    if setup == "exists":
        out.write_text("keep me")
    if setup == "dir":
        out.mkdir()
    with socket.socket() as busy:  # had it listened, the port in use would be the error
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code, err = run_main(["psi", "serve", "--listen", f"127.0.0.1:{port}", "--input", str(tmp_path / "a.csv"),
                              "--key", "key", "--output", str(out), "--insecure", "--quiet"], capsys)
    assert code == 1 and expect in err, err
    if setup == "exists":
        assert out.read_text() == "keep me"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_output_folder(tmp_path, capsys):
    make_files(tmp_path)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        code, err = run_main(["psi", "serve", "--listen", "127.0.0.1:0", "--input", str(tmp_path / "a.csv"),
                              "--key", "key", "--output", str(ro / "o.csv"), "--insecure", "--wait", "0"], capsys)
    finally:
        ro.chmod(0o700)
    assert code == 1 and "not writable" in err


def test_force_overwrites_and_output_is_private(tmp_path):
    make_files(tmp_path)
    (tmp_path / "oa.csv").write_text("old")
    (rs, _, es), (rc, _, ec) = run_pair(tmp_path, ["--output", "oa.csv", "--force"], ["--output", "ob.csv"])
    assert rs == 0 and rc == 0, (es, ec)
    assert (tmp_path / "oa.csv").read_text().startswith("rid,key,name,note\n")
    assert os.stat(tmp_path / "oa.csv").st_mode & 0o777 == 0o600


def test_input_error_reaches_the_peer_in_one_line(tmp_path):
    make_files(tmp_path)
    (rs, _, es), (rc, _, ec) = run_pair(tmp_path, ["--output", "oa.csv", "--payload", "nosuch"],
                                        ["--output", "ob.csv"])
    assert rs == 1 and rc == 1
    assert es.strip().splitlines()[-1].startswith("pqmpc: error:") and "no column 'nosuch'" in es
    last = ec.strip().splitlines()[-1]
    assert "the other side stopped before the session" in last and "column is missing" in last
    assert "nosuch" not in ec and "rid" not in last  # the reason, never the file's contents
    assert not (tmp_path / "oa.csv").exists() and not (tmp_path / "ob.csv").exists()


def test_mismatched_flags_name_serve_and_connect(tmp_path):
    make_files(tmp_path)
    (rs, _, es), (rc, _, ec) = run_pair(tmp_path, ["--output", "oa.csv", "--learn", "serve"],
                                        ["--output", "ob.csv", "--learn", "connect"])
    assert rs == 1 and rc == 1
    for err in (es, ec):
        last = err.strip().splitlines()[-1]
        assert "--learn" in last and "receiver" not in last and "sender" not in last, last
        assert "serve's 'serve'" in last or "connect's 'serve'" in last, last


def test_a_peer_not_speaking_pqmpc(tmp_path):
    make_files(tmp_path)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    c = subprocess.Popen(cli("connect", "--connect", f"127.0.0.1:{srv.getsockname()[1]}", "--insecure",
                             "--input", "b.csv", "--key", "key", "--delimiter", ";", "--output", "ob.csv"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), cwd=tmp_path)
    conn, _ = srv.accept()
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    (rc, _, ec), = finish(c)
    conn.close()
    srv.close()
    assert rc == 1 and "not speaking pqmpc" in ec.strip().splitlines()[-1]


def test_random_bytes_from_the_peer(tmp_path):
    make_files(tmp_path)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    c = subprocess.Popen(cli("connect", "--connect", f"127.0.0.1:{srv.getsockname()[1]}", "--insecure",
                             "--input", "b.csv", "--key", "key", "--delimiter", ";", "--output", "ob.csv"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), cwd=tmp_path)
    conn, _ = srv.accept()
    conn.sendall(b"\x10\x00\x00\x00" + bytes(range(200, 216)))  # a well-sized frame that is no handshake
    (rc, _, ec), = finish(c)
    conn.close()
    srv.close()
    assert rc == 1 and "not speaking pqmpc" in ec.strip().splitlines()[-1]


@pytest.mark.parametrize("how,fmt,proto", [("inner", "csv", None), ("left", "csv", "kkrt"), ("left", "jsonl", None),
                                           ("left", "parquet", None)])
def test_bucketed_run_writes_the_same_output_as_in_memory(tmp_path, how, fmt, proto):
    # The same two inputs through both paths of `pqmpc psi`: bucketed (forced, 3 buckets) and in
    # memory (--buckets off): byte for byte the same files (CSV keeps the input's bytes), and the
    # SQL join.
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    a_rows, b_rows = make_files(tmp_path)
    flags = {None: [], "kkrt": ["--protocol", "kkrt"]}[proto]
    outs = {}
    for label, mode in (("mem", ["--buckets", "off"]), ("bkt", ["--buckets", "3", "--workers", "1"])):
        (rs, os_, es), (rc, oc, ec) = run_pair(
            tmp_path, ["--payload", "name", "--payload", "note", "--join", how, "--output", f"{label}a.{fmt}",
                       *flags, *mode],
            ["--payload", "city", "--join", how, "--output", f"{label}b.{fmt}", *flags, *mode])
        assert rs == 0 and rc == 0, (es, ec)
        js, jc = json.loads(os_), json.loads(oc)
        assert js["bucketed"] == jc["bucketed"] == (label == "bkt")
        outs[label] = ((tmp_path / f"{label}a.{fmt}").read_bytes(), (tmp_path / f"{label}b.{fmt}").read_bytes())
    if fmt == "parquet":
        import pyarrow.parquet as pq

        for side in "ab":
            assert pq.read_table(tmp_path / f"bkt{side}.parquet").equals(pq.read_table(tmp_path / f"mem{side}.parquet"))
    else:
        assert outs["bkt"] == outs["mem"]
    if fmt == "csv":
        _, want_a, _ = sql_join(a_rows, b_rows, "a", how)
        check(read_csv(tmp_path / "bkta.csv")[1], want_a, 4)
        _, want_b, _ = sql_join(a_rows, b_rows, "b", how)
        check(read_csv(tmp_path / "bktb.csv", ";")[1], want_b, 3)


def test_bucketed_output_to_stdout(tmp_path):
    make_files(tmp_path)
    got = []
    for mode in (["--buckets", "off"], ["--buckets", "2", "--workers", "1"]):
        (rs, _, es), (rc, oc, ec) = run_pair(tmp_path, ["--learn", "connect", "--payload", "name", *mode],
                                             ["--learn", "connect", "--output", "-", "--join", "left", *mode])
        assert rs == 0 and rc == 0, (es, ec)
        assert json.loads(ec.strip().splitlines()[-1])["bucketed"] == (mode[1] != "off")
        got.append(oc)
    assert got[0] == got[1] and got[0].startswith("\ufeff\"key\";\"city\";\"rid\";peer_name")
