"""`pqmpc psi serve/connect` end to end: two processes on 127.0.0.1, bad inputs, failures."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from pqmpc.cli.main import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = ROOT + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    return e


def cli(*args):
    return [sys.executable, "-m", "pqmpc.cli.main", "psi", *args]


def identities(folder):
    """Each side's --identity/--peer, as two users make them with pqmpc keygen."""
    from pqmpc.net.secure import Identity

    for name in ("s", "c"):
        Identity.generate().save(os.path.join(folder, name), overwrite=True)
    return (["--identity", os.path.join(folder, "s.key"), "--peer", os.path.join(folder, "c.pub")],
            ["--identity", os.path.join(folder, "c.key"), "--peer", os.path.join(folder, "s.pub")])


def start_pair(tmp_path, serve_args, connect_args, port=None):
    """Both sides over the authenticated channel, as users run them."""
    port = port or free_port()
    auth_s, auth_c = identities(tmp_path)
    s = subprocess.Popen(cli("serve", "--listen", f"127.0.0.1:{port}", "--wait", "60", *auth_s, *serve_args),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), cwd=tmp_path)
    c = subprocess.Popen(cli("connect", "--connect", f"127.0.0.1:{port}", "--connect-retry", "30", *auth_c,
                             *connect_args),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), cwd=tmp_path)
    return s, c


def finish(*procs, timeout=120):
    out = []
    for p in procs:
        o, e = p.communicate(timeout=timeout)
        out.append((p.returncode, o.decode(), e.decode()))
    return out


def write(path, text, encoding="utf-8"):
    with open(path, "wb") as fh:
        fh.write(text.encode(encoding) if isinstance(text, str) else text)
    return str(path)


def read_rows(path):
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


A_CSV = ('id,"first name",last,email\n'
         '1,Ann,"Lee, Jr.",ann@x.org\n'
         '2,Bo,Ng,bo@x.org\n'
         '3,"Multi\nLine",Zoë,zoe@x.org\n'
         '4,Ann,"Lee, Jr.",ann@x.org\n'
         '5,Cy,Ö,cy@x.org\n'
         '\n')
B_CSV = ('\ufeffemail;first name;last\n'
         ' ANN@x.org ;Ann;"Lee, Jr."\n'
         'zoe@x.org;"Multi\nLine";Zoë\n'
         'dan@x.org;Dan;Q\n'
         'cy@x.org;Cy;O\n')


@pytest.mark.parametrize("flags,protocol,mode,phase", [
    ([], "rr22", "semi-honest", "VOLE"),  # the default
    (["--protocol", "kkrt"], "kkrt", "semi-honest", "OPRF"),
    (["--malicious"], "rr22", "malicious", "VOLE"),
])
def test_end_to_end_two_processes(tmp_path, flags, protocol, mode, phase):
    a = write(tmp_path / "a.csv", A_CSV)
    b = write(tmp_path / "b.csv", B_CSV)
    keys = ["--key", "first name", "--key", "last", "--normalize", "trim,lower,nfc", "--json", *flags]
    s, c = start_pair(tmp_path, ["--input", a, "--output", "oa.csv", *keys],
                      ["--input", b, "--output", "ob.csv", "--delimiter", ";", *keys])
    (rs, os_, es), (rc, oc, ec) = finish(s, c)
    assert rs == 0 and rc == 0, (es, ec)
    js, jc = json.loads(os_), json.loads(oc)
    assert js["intersection"] == jc["intersection"] == 2
    assert js["protocol"] == jc["protocol"] == protocol and js["mode"] == jc["mode"] == mode
    assert js["params"]["mode" if protocol == "rr22" else "kappa"] == (mode if protocol == "rr22" else 128)
    assert js["rows_read"] == 5 and js["duplicate_keys"] == 1 and js["rows_written"] == 3
    assert jc["rows_read"] == 4 and jc["rows_written"] == 2
    assert js["bytes_sent"] == jc["bytes_received"] and js["bytes_received"] == jc["bytes_sent"]
    assert js["params"]["key_columns"] == 2 and js["params"]["base_ot"].startswith("KyberOT")
    assert read_rows(tmp_path / "oa.csv") == [["id", "first name", "last", "email"],
                                              ["1", "Ann", "Lee, Jr.", "ann@x.org"],
                                              ["3", "Multi\nLine", "Zoë", "zoe@x.org"],
                                              ["4", "Ann", "Lee, Jr.", "ann@x.org"]]
    # Copied rows keep the input's bytes: its byte-order mark, quoting and spacing.
    assert (tmp_path / "ob.csv").read_bytes() == (b'\xef\xbb\xbfemail;first name;last\n ANN@x.org ;Ann;"Lee, Jr."\n'
                                                   b'zoe@x.org;"Multi\nLine";Zo\xc3\xab\n')
    with open(tmp_path / "ob.csv", encoding="utf-8-sig", newline="") as fh:
        assert list(csv.reader(fh, delimiter=";")) == [["email", "first name", "last"],
                                                       [" ANN@x.org ", "Ann", "Lee, Jr."],
                                                       ["zoe@x.org", "Multi\nLine", "Zoë"]]
    assert "[pqmpc]" in es and phase in ec  # progress on stderr


def test_only_one_side_learns(tmp_path):
    a = write(tmp_path / "a.csv", A_CSV)
    b = write(tmp_path / "b.csv", B_CSV)
    keys = ["--key", "email", "--learn", "connect", "--json"]
    s, c = start_pair(tmp_path, ["--input", a, "--output", "oa.csv", *keys],
                      ["--input", b, "--output", "ob.csv", "--delimiter", ";", *keys])
    (rs, os_, es), (rc, oc, ec) = finish(s, c)
    assert rs == 0 and rc == 0, (es, ec)
    assert json.loads(os_)["intersection"] is None and not (tmp_path / "oa.csv").exists()
    assert json.loads(oc)["intersection"] == 2  # zoe, cy (ann differs without --normalize)


def test_handshake_mismatch_stops_both(tmp_path):
    a = write(tmp_path / "a.csv", A_CSV)
    b = write(tmp_path / "b.csv", B_CSV)
    s, c = start_pair(tmp_path, ["--input", a, "--output", "oa.csv", "--key", "email", "--key", "id"],
                      ["--input", b, "--output", "ob.csv", "--delimiter", ";", "--key", "email"])
    (rs, _, es), (rc, _, ec) = finish(s, c)
    assert rs == 1 and rc == 1
    for err in (es, ec):
        last = err.strip().splitlines()[-1]
        assert last.startswith("pqmpc: error:") and "--key (number of columns):" in last and "serve's 2" in last
    assert not (tmp_path / "oa.csv").exists() and not (tmp_path / "ob.csv").exists()


@pytest.mark.parametrize("serve_flags,connect_flags,flag", [
    (["--protocol", "kkrt"], [], "--protocol"),
    ([], ["--malicious"], "--malicious"),
])
def test_protocol_mismatch_names_the_flag_on_both_sides(tmp_path, serve_flags, connect_flags, flag):
    a = write(tmp_path / "a.csv", A_CSV)
    b = write(tmp_path / "b.csv", B_CSV)
    s, c = start_pair(tmp_path, ["--input", a, "--output", "oa.csv", "--key", "email", *serve_flags],
                      ["--input", b, "--output", "ob.csv", "--delimiter", ";", "--key", "email", *connect_flags])
    (rs, _, es), (rc, _, ec) = finish(s, c)
    assert rs == 1 and rc == 1
    for err in (es, ec):
        last = err.strip().splitlines()[-1]
        assert last.startswith("pqmpc: error:") and flag in last, err
    assert not (tmp_path / "oa.csv").exists() and not (tmp_path / "ob.csv").exists()


def cut_after(listen: socket.socket, upstream_port: int, limit: int, on_cut) -> threading.Thread:
    """A relay between the connecting side and serve that stops forwarding once ``limit`` bytes went
    upstream, calls ``on_cut`` and closes both ends, so the cut lands mid-protocol whatever the load."""

    def run():
        down, _ = listen.accept()
        up = socket.create_connection(("127.0.0.1", upstream_port))
        sent = 0
        done = threading.Event()

        def back():
            while not done.is_set():
                try:
                    data = up.recv(1 << 16)
                    down.sendall(data)
                except OSError:
                    return
                if not data:
                    return

        t = threading.Thread(target=back, daemon=True)
        t.start()
        while sent < limit:
            data = down.recv(min(1 << 16, limit - sent))
            if not data:
                break
            up.sendall(data)
            sent += len(data)
        done.set()
        on_cut()
        for sock in (down, up):
            try:
                sock.shutdown(socket.SHUT_RDWR)  # a plain close waits for the other thread's recv
            except OSError:
                pass
            sock.close()
        listen.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_killed_peer_both_exit_nonzero_without_output(tmp_path):
    n = 60_000
    a = write(tmp_path / "a.csv", "k\n" + "".join(f"key-{i}\n" for i in range(n)))
    b = write(tmp_path / "b.csv", "k\n" + "".join(f"key-{i}\n" for i in range(n // 2, n + n // 2)))
    port = free_port()
    relay = socket.socket()
    relay.bind(("127.0.0.1", 0))
    relay.listen(1)
    auth_s, auth_c = identities(tmp_path)
    s = subprocess.Popen(cli("serve", "--listen", f"127.0.0.1:{port}", "--wait", "60", *auth_s,
                             "--input", a, "--output", "oa.csv", "--key", "k"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), cwd=tmp_path)
    time.sleep(0.5)  # serve listens before the relay dials it (connect retries anyway)
    c = subprocess.Popen(cli("connect", "--connect", f"127.0.0.1:{relay.getsockname()[1]}", *auth_c,
                             "--input", b, "--output", "ob.csv", "--key", "k"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), cwd=tmp_path)
    # 400 kB from the connecting side is past the channel and PSI handshakes and well short of the
    # 60,000-item session's traffic: the connecting side is killed while the protocol is under way.
    relay_thread = cut_after(relay, port, 400_000, lambda: c.send_signal(signal.SIGKILL))
    (rs, _, es), (rc, _, _) = finish(s, c)
    relay_thread.join(10)
    assert rc != 0 and rs == 1
    assert "pqmpc: connection error:" in es and any(w in es for w in ("closed", "lost", "ended"))
    assert not (tmp_path / "oa.csv").exists() and not (tmp_path / "ob.csv").exists()
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]


def test_peer_that_hangs_up_early(tmp_path):
    b = write(tmp_path / "b.csv", B_CSV)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    c = subprocess.Popen(cli("connect", "--connect", f"127.0.0.1:{port}", "--input", b, "--key", "email",
                             "--delimiter", ";", "--output", "ob.csv", "--insecure"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), cwd=tmp_path)
    conn, _ = srv.accept()
    conn.recv(10)
    conn.close()
    srv.close()
    (rc, _, ec), = finish(c)
    assert rc == 1 and "pqmpc: connection error:" in ec
    assert not (tmp_path / "ob.csv").exists()


def test_timeout_names_the_flag(tmp_path):
    b = write(tmp_path / "b.csv", B_CSV)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    c = subprocess.Popen(cli("connect", "--connect", f"127.0.0.1:{port}", "--input", b, "--key", "email",
                             "--delimiter", ";", "--output", "ob.csv", "--timeout", "1", "--insecure"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), cwd=tmp_path)
    conn, _ = srv.accept()  # accept but never answer
    (rc, _, ec), = finish(c)
    conn.close()
    srv.close()
    assert rc == 1 and "--timeout" in ec


@pytest.fixture(params=["auto", "stdlib"])
def engine(request, monkeypatch):
    """The in-process checks below run on both CSV readers: the CLI's default (pyarrow where it can
    vouch for the file) and the stdlib one; their messages must be the same."""
    monkeypatch.setenv("PQMPC_CSV_ENGINE", request.param)
    return request.param


def run_main(argv, capsys):
    code = main(argv)
    cap = capsys.readouterr()
    return code, cap.err.strip().splitlines()[-1] if cap.err.strip() else ""


def serve_args(path, *more):
    # --wait 0: a side whose input is bad waits for the peer to tell it why; no peer comes here.
    return ["psi", "serve", "--listen", "127.0.0.1:0", "--input", str(path), "--output", "out.csv", "--quiet",
            "--insecure", "--wait", "0", *more]


def test_missing_column_lists_available(tmp_path, capsys, engine):
    a = write(tmp_path / "a.csv", A_CSV)
    code, err = run_main(serve_args(a, "--key", "mail"), capsys)
    assert code == 1 and "no column 'mail'" in err and "'email'" in err and "'first name'" in err


def test_duplicate_key_column_name_is_refused(tmp_path, capsys, engine):
    a = write(tmp_path / "a.csv", b"id,email,id\n1,a@x,2\n")
    code, err = run_main(serve_args(a, "--key", "id"), capsys)
    assert code == 1 and "'id' appears 2 times" in err and "columns 1, 3" in err


def test_bad_utf8_names_the_line(tmp_path, capsys, engine):
    a = write(tmp_path / "a.csv", b"k,v\nok,1\nbad\xff\xfe,2\n")
    code, err = run_main(serve_args(a, "--key", "k"), capsys)
    assert code == 1 and "line 3" in err and "UTF-8" in err


def test_empty_key_names_row_and_column(tmp_path, capsys, engine):
    a = write(tmp_path / "a.csv", "k,v\nx,1\n ,2\n")
    code, err = run_main(serve_args(a, "--key", "k", "--normalize", "trim"), capsys)
    assert code == 1 and "line 3" in err and "'k'" in err and "--skip-empty" in err and str(a) in err


def test_empty_file_and_missing_file(tmp_path, capsys, engine):
    a = write(tmp_path / "a.csv", "")
    code, err = run_main(serve_args(a, "--key", "k"), capsys)
    assert code == 1 and "header" in err
    code, err = run_main(serve_args(tmp_path / "nope.csv", "--key", "k"), capsys)
    assert code == 1 and "no such file" in err


def test_bad_flags(tmp_path, capsys):
    a = write(tmp_path / "a.csv", A_CSV)
    assert run_main(serve_args(a, "--key", "k", "--normalize", "upper"), capsys)[0] == 1
    assert run_main(serve_args(a, "--key", "k", "--delimiter", "ab"), capsys)[0] == 1
    code, err = run_main(["psi", "serve", "--listen", "127.0.0.1:0", "--input", str(a), "--key", "id", "--insecure"],
                         capsys)
    assert code == 1 and "--output is required" in err


def test_malicious_needs_rr22_before_connecting(tmp_path, capsys):
    a = write(tmp_path / "a.csv", A_CSV)
    # --wait 0: had it listened, it would end in a connection error, not this one.
    code, err = run_main(serve_args(a, "--key", "email", "--protocol", "kkrt", "--malicious", "--wait", "0"), capsys)
    assert code == 1 and "--malicious" in err and "rr22" in err
    code, err = run_main(serve_args(a, "--key", "email", "--kappa", "256", "--wait", "0"), capsys)
    assert code == 1 and "--protocol kkrt" in err


def test_skip_empty_and_composite_keys(tmp_path):
    from pqmpc.cli import csvio

    a = write(tmp_path / "a.csv", 'a,b,c\n"x,y",z,1\nx,"y,z",2\n,q,3\n\n\n')
    t = csvio.read_keys(a, ["a", "b"], skip_empty=True)
    assert t.rows_read == 3 and t.keys_used == 2 and t.skipped == 1
    from pqmpc.psi.keys import combine_columns

    k = combine_columns(t.columns)
    assert k[0] != k[1]


@pytest.mark.slow
def test_million_rows_per_side(tmp_path):
    # The scale the CLI promises: 10^6 rows per side, memory a small multiple of the input.
    import resource

    n = 1_000_000
    with open(tmp_path / "a.csv", "w", encoding="utf-8") as fh:
        fh.write("id,email,note\n")
        fh.writelines(f'{i},user{i}@example.com,"note, {i}"\n' for i in range(n))
    with open(tmp_path / "b.csv", "w", encoding="utf-8") as fh:
        fh.write("email\n")
        fh.writelines(f"user{i}@example.com\n" for i in range(n // 2, n + n // 2))
    s, c = start_pair(tmp_path, ["--input", "a.csv", "--output", "oa.csv", "--key", "email", "--json", "--quiet"],
                      ["--input", "b.csv", "--output", "ob.csv", "--key", "email", "--json", "--quiet"])
    (rs, os_, es), (rc, oc, ec) = finish(s, c, timeout=600)
    assert rs == 0 and rc == 0, (es, ec)
    assert json.loads(os_)["rows_written"] == json.loads(oc)["rows_written"] == n // 2
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    size_kb = os.path.getsize(tmp_path / "a.csv") // 1024
    assert peak_kb < 300_000 + 8 * size_kb, (peak_kb, size_kb)  # interpreter + numba baseline, then ~8x the file


def test_progress_on_a_terminal_is_a_bar_with_a_rate_and_quiet_is_silent():
    import io

    class Tty(io.StringIO):
        def isatty(self):
            return True

    from pqmpc.cli.common import Progress

    out = Tty()
    p = Progress(stream=out)
    p.phase("writing x.csv", unit="row")
    for i in range(0, 1001, 250):
        p.update(i, 1000)
    p.done("wrote 1000 rows")
    text = out.getvalue()
    assert "writing x.csv" in text and "row/s" in text and "wrote 1000 rows" in text
    log = io.StringIO()  # not a terminal: plain phase lines
    p = Progress(stream=log)
    p.phase("reading a.csv")
    p.update(50, 100)
    p.done()
    assert log.getvalue().splitlines() == ["[pqmpc] reading a.csv ...", "[pqmpc]   reading a.csv: 50%"]
    quiet = Tty()
    p = Progress(quiet=True, stream=quiet)
    p.phase("x")
    p.update(1, 2)
    p.done("y")
    p.info("z")
    assert quiet.getvalue() == ""


def test_cold_kernels_are_announced_once_on_stderr(monkeypatch):
    import io
    from types import SimpleNamespace

    from pqmpc.cli import psi
    from pqmpc.cli.common import Progress

    asked = []
    monkeypatch.setattr(psi, "warmup", SimpleNamespace(kernels_cold=lambda protocols: asked.append(protocols) or True))
    out = io.StringIO()
    psi._warn_cold("kkrt", Progress(stream=out))
    assert asked == [("kkrt",)]
    assert "compiling kernels, first run only (run `pqmpc warmup` ahead to skip this)" in out.getvalue()
    monkeypatch.setattr(psi, "warmup", SimpleNamespace(kernels_cold=lambda protocols: False))
    out = io.StringIO()
    psi._warn_cold("rr22", Progress(stream=out))
    assert out.getvalue() == ""
