"""``pqmpc 2pc`` with both parties as separate processes over TCP on 127.0.0.1."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BRISTOL = ROOT / "vectors" / "external" / "bristol"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args):
    return [sys.executable, "-m", "pqmpc.cli.main", "2pc", *map(str, args)]


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    return e


_PSK = []


def psk_file() -> str:
    """One pre-shared key file for this module's runs (both sides hold it, as users would)."""
    if not _PSK:
        from pqmpc.net.secure import generate_psk, save_psk

        _PSK.append(str(save_psk(os.path.join(tempfile.mkdtemp(prefix="pqmpc-2pc-test-"), "t.psk"), generate_psk())))
    return _PSK[0]


def run_two(listen_args, connect_args, timeout=120):
    port = free_port()
    addr = f"127.0.0.1:{port}"
    auth = ["--psk", psk_file()]
    g = subprocess.Popen(cli("--listen", addr, *auth, *listen_args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env(), cwd=ROOT)
    e = subprocess.Popen(cli("--connect", addr, *auth, *connect_args), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env(), cwd=ROOT)
    try:
        eo, ee = e.communicate(timeout=timeout)
        go, ge = g.communicate(timeout=timeout)
    finally:
        for p in (g, e):
            if p.poll() is None:
                p.kill()
    return (g.returncode, go, ge), (e.returncode, eo, ee)


def test_millionaires_json_both_sides():
    (grc, go, ge), (erc, eo, ee) = run_two(
        ["--function", "millionaires", "--input", "1000000", "--json", "--quiet"],
        ["--function", "millionaires", "--input", "0x2625a0", "--json", "--quiet"])
    assert grc == 0 and erc == 0, (ge, ee)
    g, e = json.loads(go), json.loads(eo)
    assert g["outputs"] == e["outputs"] == 1  # 1,000,000 < 2,500,000
    assert g["role"] == "garbler" and e["role"] == "evaluator"
    assert g["and_count"] == 64
    assert g["bytes_sent"] == e["bytes_received"] > 64 * 32
    assert ge == "" and ee == ""  # --quiet
    for d in (g, e):  # milliseconds, not timer noise
        assert d["seconds"] == round(d["seconds"], 3) > 0
        assert d["phases"] and all(v == round(v, 4) for v in d["phases"].values())


def test_bristol_circuit_hex_and_negative_inputs():
    (grc, go, ge), (erc, eo, ee) = run_two(
        ["--circuit", BRISTOL / "adder64.txt", "--input", "0xff"],
        ["--circuit", BRISTOL / "adder64.txt", "--input", "-1"])
    assert grc == 0 and erc == 0, (ge, ee)
    assert go.strip() == eo.strip() == "output 0: 0x00000000000000fe (254)"
    assert "[pqmpc]" in ge  # progress on stderr, results on stdout


def test_aes128_fips197_and_reveal_to_evaluator_only():
    (grc, go, ge), (erc, eo, ee) = run_two(
        ["--function", "aes128", "--input", "0x000102030405060708090a0b0c0d0e0f", "--reveal", "evaluator"],
        ["--function", "aes128", "--input", "00112233445566778899aabbccddeeff", "--reveal", "evaluator",
         "--json"])
    assert grc == 0 and erc == 0, (ge, ee)
    assert json.loads(eo)["outputs"] == "69c4e0d86a7b0430d8cdb78070b4c55a"
    assert "69c4" not in go


def test_aes128_with_three_halves_and_scheme_mismatch():
    sent = {}
    for scheme in ("halfgates", "threehalves"):
        (grc, go, ge), (erc, eo, ee) = run_two(
            ["--function", "aes128", "--input", "0x000102030405060708090a0b0c0d0e0f", "--scheme", scheme,
             "--json", "--quiet"],
            ["--function", "aes128", "--input", "00112233445566778899aabbccddeeff", "--scheme", scheme,
             "--json", "--quiet"])
        assert grc == 0 and erc == 0, (ge, ee)
        g, e = json.loads(go), json.loads(eo)
        assert g["outputs"] == e["outputs"] == "69c4e0d86a7b0430d8cdb78070b4c55a"
        assert g["scheme"] == e["scheme"] == scheme
        sent[scheme] = g["bytes_sent"]
    # the garbler's tables shrink from 256 to 197 bits per AND; OT and labels stay the same
    saved = sent["halfgates"] - sent["threehalves"]
    assert abs(saved - g["and_count"] * (256 - 197) / 8) < 512, (sent, g["and_count"])
    (grc, go, ge), (erc, eo, ee) = run_two(["--function", "millionaires", "--input", "1", "--scheme", "threehalves"],
                                           ["--function", "millionaires", "--input", "2"])
    assert grc == 1 and erc == 1
    for err in (ge, ee):
        assert "handshake failed" in err and "scheme" in err and "Traceback" not in err


def test_circuit_mismatch_fails_on_both_sides():
    (grc, go, ge), (erc, eo, ee) = run_two(["--circuit", BRISTOL / "adder64.txt", "--input", "1"],
                                           ["--circuit", BRISTOL / "sub64.txt", "--input", "1"])
    assert grc == 1 and erc == 1
    for err in (ge, ee):
        assert "handshake failed" in err and "circuit" in err and "Traceback" not in err


def _dying_peer(role: str, port: int, after_messages: int) -> str:
    """A peer that runs the protocol and kills its own process after receiving some messages."""
    return textwrap.dedent(f"""
        import os
        from pqmpc.net import TcpChannel
        from pqmpc.gc.circuit import Circuit, int_to_bits
        from pqmpc.twopc.yao import yao_garbler, yao_evaluator

        class Dying(TcpChannel):
            # the evaluator counts what it receives, the garbler what it sends
            seen = 0
            def recv_frame(self):
                if {role!r} == "evaluator":
                    Dying.seen += 1
                    if Dying.seen > {after_messages}:
                        os._exit(3)          # no goodbye: the process is gone mid-protocol
                return super().recv_frame()
            def send(self, data):
                if {role!r} == "garbler":
                    Dying.seen += 1
                    if Dying.seen > {after_messages}:
                        os._exit(3)
                return super().send(data)

        import socket
        c = Circuit.from_bristol({str(BRISTOL / "mult64.txt")!r})
        if {role!r} == "evaluator":
            import time
            for _ in range(400):  # the CLI may not be listening yet
                try:
                    sock = socket.create_connection(("127.0.0.1", {port}), timeout=30)
                    break
                except OSError:
                    time.sleep(0.05)
            ch = Dying(sock, 30)
            yao_evaluator(ch, c, [int_to_bits(5, 64)])
        else:
            from pqmpc.net import TcpListener
            with TcpListener("127.0.0.1", {port}) as lst:
                lst.sock.settimeout(30)
                conn, _ = lst.sock.accept()
            ch = Dying(conn, 30)
            yao_garbler(ch, c, [int_to_bits(5, 64)], chunk_ands=100)
    """)


@pytest.mark.parametrize("cli_role", ["garbler", "evaluator"])
def test_peer_that_dies_mid_circuit(cli_role):
    port = free_port()
    addr = f"127.0.0.1:{port}"
    peer_role = "evaluator" if cli_role == "garbler" else "garbler"
    # the evaluator dies after the handshake, layout and OT; the garbler after a few of its 41 table chunks
    after = 6 if peer_role == "evaluator" else 15
    peer = subprocess.Popen([sys.executable, "-c", _dying_peer(peer_role, port, after)], env=env(), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    flag = "--listen" if cli_role == "garbler" else "--connect"
    # --insecure: the dying peer is a bare library party (Yao's own failure handling is under test)
    me = subprocess.Popen(cli(flag, addr, "--circuit", BRISTOL / "mult64.txt", "--input", "7", "--timeout", "20",
                              "--insecure"),
                          env=env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = me.communicate(timeout=90)
        _, peer_err = peer.communicate(timeout=30)
    finally:
        for p in (me, peer):
            if p.poll() is None:
                p.kill()
    assert peer.returncode == 3, f"the peer should have died on purpose: {peer_err}"
    assert me.returncode == 1, (out, err)
    last = err.strip().splitlines()[-1]
    assert last.startswith("pqmpc: connection error: Yao " + cli_role), last
    assert "closed the connection" in last or "lost" in last
    assert "Traceback" not in err


def test_clear_errors_without_a_peer(tmp_path, capsys):
    from pqmpc.cli.main import main as main_

    def main(argv):
        return main_([*argv, "--insecure"])

    # in-process: the same one-line errors without paying for a subprocess start-up
    port = free_port()
    rc = main(["2pc", "--connect", f"127.0.0.1:{port}", "--function", "equality", "--input", "1", "--timeout", "1"])
    err = capsys.readouterr().err
    assert rc == 1 and "could not connect" in err and "Traceback" not in err
    rc = main(["2pc", "--connect", "127.0.0.1:1", "--function", "equality", "--input", "zz"])
    assert rc == 1 and "integer" in capsys.readouterr().err
    rc = main(["2pc", "--connect", "127.0.0.1:1", "--circuit", str(BRISTOL / "adder64.txt"), "--input", "1",
               "--input", "2"])
    assert rc == 1 and "needs 1 --input" in capsys.readouterr().err
    rc = main(["2pc", "--connect", "127.0.0.1:1", "--circuit", str(BRISTOL / "adder64.txt"), "--input",
               str(1 << 64)])
    assert rc == 1 and "does not fit" in capsys.readouterr().err
    rc = main(["2pc", "--connect", "127.0.0.1:1", "--function", "millionaires", "--bits", "8", "--input", "256"])
    assert rc == 1 and "does not fit in 8" in capsys.readouterr().err
    rc = main(["2pc", "--listen", "127.0.0.1:1", "--function", "aes128", "--input", "0x00"])
    assert rc == 1 and "16-byte AES key" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_text("1 3\n2 1 1\n1 1\n\n2 1 0 1 2 FOO\n")
    rc = main(["2pc", "--connect", "127.0.0.1:1", "--circuit", str(bad), "--input", "1"])
    err = capsys.readouterr().err
    assert rc == 1 and "line 5" in err and "Traceback" not in err
