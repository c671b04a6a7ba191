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
    base = rows[0]
    assert base["name"] == "aes128_ecb_update_into"
    # every figure is its own items / median time, beside the baseline measured in the same run
    for r in rows:
        assert r["blocks_per_s"] == pytest.approx(r["n"] / r["seconds_median"]), r["name"]
    for r in rows[1:]:
        assert r["ratio_to_aes_ecb"] == pytest.approx(r["blocks_per_s"] / base["blocks_per_s"]), r["name"]
    page = (rep / "README.md").read_text()
    assert "## primitives" in page and "tccr_hash" in page
    # the terminal gets a summary table too: one line per result with its median and its ratio
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("primitives (8 results,")
    for r in rows:
        line = next(ln for ln in table if ln.split()[:1] == [r["name"]])
        assert line.split()[1:3] == [f"{r['n'] / 1000:.3g}", "k"]
        if "ratio_to_aes_ecb" in r:
            assert f"ratio_to_aes_ecb {r['ratio_to_aes_ecb']:.3g}," in line

    # compare prints B/A per result: a run against a copy with one row twice as slow, one twice
    # as fast and one missing (skipped, not guessed)
    slow, fast, gone = rows[1]["name"], rows[2]["name"], rows[3]["name"]
    other = json.loads(out.read_text())
    res = other["suites"]["primitives"]["results"]
    for r in res:
        r["seconds_median"] *= {slow: 2.0, fast: 0.5}.get(r["name"], 1.0)
    other["suites"]["primitives"]["results"] = [r for r in res if r["name"] != gone]
    out_b = tmp_path / "b.json"
    out_b.write_text(json.dumps(other))
    capsys.readouterr()
    assert main(["bench", "compare", str(out), str(out_b)]) == 0
    ratios = {ln.split()[0]: ln.split()[-1] for ln in capsys.readouterr().out.splitlines()
              if ln.startswith("primitives/")}
    assert ratios.pop(f"primitives/{slow}") == "2.00"
    assert ratios.pop(f"primitives/{fast}") == "0.50"
    assert f"primitives/{gone}" not in ratios
    assert ratios and set(ratios.values()) == {"1.00"}
    assert len(ratios) == len(rows) - 3


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


def test_bench_summary_without_files(monkeypatch, capsys):
    # no --json FILE and no --report: the JSON goes to stdout as before, the table to stderr
    from pqmpc.bench import runner

    doc = {"suites": {"demo": {"seconds": 1.25, "results": [
        {"name": "baseline", "n": 1, "seconds_median": 0.5, "blocks_per_s": 2.0},
        {"name": "fast", "n": 65536, "seconds_median": 0.000123, "ratio_to_baseline": 0.25, "bytes": 12345678},
        {"name": "no_time", "ratio": 2.0}]}}}
    monkeypatch.setattr(runner, "run_suites", lambda names, quick=False, progress=None: doc)
    monkeypatch.setattr(runner, "available_suites", lambda: ["demo"])
    assert main(["bench"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == doc
    assert err.splitlines() == [
        "demo (3 results, 1.2 s)",
        "  name              n     median  other figures",
        "  baseline          1     500 ms  blocks_per_s 2",
        "  fast         65.5 k   123.0 µs  ratio_to_baseline 0.25, bytes 12.3 M",
        "  no_time           -          -  ratio 2",
        "(medians; compare ratios to the baselines measured in the same run, not absolute times)"]
