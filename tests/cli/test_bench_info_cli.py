"""pqmpc bench / info: the JSON document, the report, compare, and the info summary."""

import json

import pytest

from pqmpc.cli.main import main


def test_bench_writes_json_and_report(tmp_path, capsys):
    out, rep = tmp_path / "run.json", tmp_path / "report"
    assert main(["bench", "primitives", "--quick", "--json", str(out), "--report", str(rep)]) == 0
    doc = json.loads(out.read_text())
    env = doc["environment"]
    assert {"pqmpc", "numpy", "numba", "cryptography", "cpu", "git_commit"} <= set(env)
    assert {"aes", "pclmul", "avx2"} <= set(env["cpu"]["flags"])
    rows = doc["suites"]["primitives"]["results"]
    assert rows[0]["name"] == "aes128_ecb_update_into" and rows[0]["blocks_per_s"] > 0
    assert all(r["ratio_to_aes_ecb"] > 0 for r in rows[1:])  # every figure beside its same-run baseline
    page = (rep / "README.md").read_text()
    assert "## primitives" in page and "tccr_hash" in page

    # compare a run with itself: every ratio is 1.00
    assert main(["bench", "compare", str(out), str(out)]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("primitives/")]
    assert lines and all(ln.split()[-1] == "1.00" for ln in lines)


def test_report_from_an_earlier_run(tmp_path):
    doc = {"started": "x", "quick": True, "environment": {"cpu": {}},
           "suites": {"demo": {"seconds": 1.0, "results": [{"name": "a", "n": 1024, "seconds_median": 0.5},
                                                           {"name": "a", "n": 4096, "seconds_median": 1.0,
                                                            "bytes_per_ot": 16.0}]}}}
    src = tmp_path / "old.json"
    src.write_text(json.dumps(doc))
    assert main(["bench", "--from-json", str(src), "--report", str(tmp_path / "r")]) == 0
    assert "| a | 4,096 |" in (tmp_path / "r" / "README.md").read_text()


def test_bench_errors_are_one_line(tmp_path, capsys):
    assert main(["bench", "nosuchsuite", "--quick"]) == 1
    assert "unknown suite" in capsys.readouterr().err
    assert main(["bench", "compare", str(tmp_path / "missing.json"), str(tmp_path / "x.json")]) == 1
    assert "cannot read benchmark file" in capsys.readouterr().err


def test_bench_list(capsys):
    assert main(["bench", "--list"]) == 0
    out = capsys.readouterr().out
    for suite in ("primitives", "base_ot", "ot_ext", "gc", "yao", "psi"):
        assert suite in out


@pytest.mark.parametrize("as_json", [True, False])
def test_info(capsys, as_json):
    assert main(["info"] + (["--json"] if as_json else [])) == 0
    out = capsys.readouterr().out
    if as_json:
        info = json.loads(out)
        names = {b["name"] for b in info["kem_backends"]}
        assert names == {"reference", "openssl", "liboqs"}
        assert "aes_kernels" in info["aes_kernels"]
    else:
        assert "ML-KEM backends" in out and "reference" in out
