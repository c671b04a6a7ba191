"""The Ray engine end to end: each party on its own local Ray instance, actor i of one paired with actor i
of the other over the secure channel; the output equals the local engine's."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_bucketed_cli import expected, finish, pair, write_csv

pytest.importorskip("ray")


@pytest.mark.slow
def test_ray_engine_matches_plain_intersection(tmp_path):
    a = [f"user{i}@example.org" for i in range(0, 3000, 2)] + ["dup@x", "dup@x"]
    b = [f"user{i}@example.org" for i in range(0, 3000, 3)] + ["dup@x", "zz@x"]
    write_csv(tmp_path / "a.csv", a, "a")
    write_csv(tmp_path / "b.csv", b, "b")
    extra = ("--engine", "ray", "--ray-address", "local", "--buckets", "3", "--workers", "1", "--timeout", "120")
    s, c = pair(tmp_path, tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "ws", tmp_path / "wc", extra)
    (rs, os_, es), (rc, oc, ec) = finish(s, c, timeout=280)
    assert rs == 0 and rc == 0, (es[-3000:], ec[-3000:])
    assert json.loads(oc)["engine"] == "ray" and json.loads(oc)["buckets"] == 3
    assert (tmp_path / "s.csv").read_bytes().decode() == expected(tmp_path / "a.csv", tmp_path / "b.csv")
    assert (tmp_path / "c.csv").read_bytes().decode() == expected(tmp_path / "b.csv", tmp_path / "a.csv")
