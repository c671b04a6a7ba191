"""The output writers (pqmpc.cli.joinio, bytecols) against the stdlib's csv and json on the same rows."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.cli import bytecols, csvio, joinio
from pqmpc.errors import InputError
from pqmpc.psi import keys as psikeys

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=150, deadline=None)
@given(st.lists(text, max_size=8), st.sampled_from([",", ";", "\t"]))
def test_csv_escape_reads_back_as_the_csv_module_does(values, delim):
    d, o = bytecols.csv_escape(psikeys.encode_items(values), delim)
    line = delim.join(d[o[i]:o[i + 1]].tobytes().decode() for i in range(len(values)))
    if values:
        got = next(csv.reader(io.StringIO(line + "\n", newline=""), delimiter=delim, strict=True))
        assert got == values or (values == [""] and got == [])


@settings(max_examples=150, deadline=None)
@given(st.lists(text, max_size=8), st.data())
def test_json_escape_is_json(values, data):
    null = np.array(data.draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values))), dtype=bool)
    d, o = bytecols.json_escape(psikeys.encode_items(values), null)
    for i, v in enumerate(values):
        assert json.loads(d[o[i]:o[i + 1]].tobytes().decode()) == (None if null[i] else v)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=6), max_size=8))
def test_utf8_check_agrees_with_python(values):
    col = psikeys.encode_items(values)
    want = next((i for i, v in enumerate(values) if not _is_utf8(v)), -1)
    assert bytecols.utf8_first_bad(col) == want


def _is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _table(path, delimiter=","):
    return csvio.read_keys(str(path), ["k"], delimiter, engine="auto")


def test_rows_repeat_per_peer_payload_and_left_rows_get_empty_cells(tmp_path):
    p = tmp_path / "in.csv"
    p.write_bytes(b'k,v\r\nx,"a ""q"""\r\ny,2\r\nz,"multi\nline"\r\n')
    t = _table(p)
    peer = [psikeys.encode_items(["P1", "p,2"]), psikeys.encode_items(["", "ü\n"])]
    join = joinio.Join(rows=np.array([0, 0, 1, 2]), pidx=np.array([0, 1, -1, 1]), peer=peer,
                       peer_names=["peer_a", "peer_b"])
    assert joinio.write_result(t, str(tmp_path / "o.csv"), "csv", join) == 4
    assert (tmp_path / "o.csv").read_bytes() == (b'k,v,peer_a,peer_b\r\nx,"a ""q""",P1,\r\n'
                                                 b'x,"a ""q""","p,2","\xc3\xbc\n"\r\ny,2,,\r\n'
                                                 b'z,"multi\nline","p,2","\xc3\xbc\n"\r\n')
    assert joinio.write_result(t, str(tmp_path / "o.jsonl"), "jsonl", join) == 4
    lines = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert lines[2] == {"k": "y", "v": "2", "peer_a": None, "peer_b": None}
    assert lines[1] == {"k": "x", "v": 'a "q"', "peer_a": "p,2", "peer_b": "ü\n"}


def test_a_nul_byte_falls_back_to_the_csv_writer(tmp_path):
    p = tmp_path / "in.csv"
    p.write_bytes(b'k,v\nx,"a\x00b"\ny, 2\n')
    t = _table(p)
    join = joinio.Join(rows=np.array([1]), pidx=np.array([0]), peer=[psikeys.encode_items(["z"])],
                       peer_names=["peer_c"])
    assert joinio.write_result(t, str(tmp_path / "o.csv"), "csv", join) == 1
    assert (tmp_path / "o.csv").read_bytes() == b"k,v,peer_c\ny, 2,z\n"


def test_parquet_input_to_csv_and_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"k": ["a", "b,c", "d"], "n": [1, None, 3]}), tmp_path / "in.parquet")
    t = csvio.read_keys(str(tmp_path / "in.parquet"), ["k"])
    join = joinio.Join(rows=np.array([1, 2]), pidx=np.array([-1, 0]), peer=[psikeys.encode_items(["x"])],
                       peer_names=["peer_p"])
    joinio.write_result(t, str(tmp_path / "o.csv"), "csv", join)
    assert (tmp_path / "o.csv").read_text() == 'k,n,peer_p\n"b,c",,\nd,3,x\n'
    joinio.write_result(t, str(tmp_path / "o.parquet"), "parquet", join)
    assert pq.read_table(tmp_path / "o.parquet").to_pylist() == [{"k": "b,c", "n": None, "peer_p": None},
                                                                 {"k": "d", "n": 3, "peer_p": "x"}]


def test_a_changed_input_is_refused(tmp_path):
    p = tmp_path / "in.csv"
    p.write_text("k\na\nb\nc\n")
    t = _table(p)
    p.write_text("k\na\n")
    with pytest.raises(InputError, match="changed"):
        joinio.write_result(t, str(tmp_path / "o.csv"), "csv", joinio.Join(rows=np.array([0, 2])))
    assert not (tmp_path / "o.csv").exists()


cell = st.text(st.sampled_from(list('ab,;"\n\r ü')), max_size=6)


@settings(max_examples=120, deadline=None)
@given(st.lists(st.lists(cell, min_size=2, max_size=2), max_size=12), st.sampled_from(["\n", "\r\n"]),
       st.booleans(), st.integers(1, 40), st.booleans())
def test_windowed_spans_equal_whole_file_spans(rows, term, bom, window, trailing):
    # The writer's windows (a few bytes each here: records, quotes and CRLFs cut anywhere) give the
    # same records as one pass over the whole file.
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator=term).writerows([["k", "v"]] + rows)
    raw = (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode()
    if not trailing:
        raw = raw.rstrip(b"\r\n")
    arr = np.frombuffer(raw, dtype=np.uint8)
    whole = bytecols.record_spans(arr, ",")
    released = []
    wins = list(bytecols.record_windows(arr, ",", window, True, released.append))
    if whole is None:
        assert wins[-1] is None
        return
    assert None not in wins
    assert np.array_equal(np.concatenate([w[2] for w in wins]), whole[0])
    assert np.array_equal(np.concatenate([w[3] for w in wins]), whole[1])
    assert [w[0] for w in wins] == list(np.cumsum([0] + [w[1] for w in wins])[:-1])
    assert released == sorted(released) and all(r <= len(raw) for r in released)


@pytest.mark.parametrize("window", [1, 5, 13, 1 << 20])
def test_windowed_writer_writes_the_same_bytes(tmp_path, monkeypatch, window):
    p = tmp_path / "in.csv"
    p.write_bytes(b'\xef\xbb\xbfk,v\r\nx,"a ""q"""\r\ny,2\r\n\r\nz,"multi\nline"\r\nw,"x,y"')
    t = _table(p)
    peer = [psikeys.encode_items(["P1", "p,2"])]
    join = joinio.Join(rows=np.array([0, 0, 1, 2, 3]), pidx=np.array([0, 1, -1, 1, 0]), peer=peer,
                       peer_names=["peer_a"])
    monkeypatch.setattr(joinio._Mapped, "WINDOW", window)
    assert joinio.write_result(t, str(tmp_path / "o.csv"), "csv", join) == 5
    assert (tmp_path / "o.csv").read_bytes() == (b'\xef\xbb\xbfk,v,peer_a\r\nx,"a ""q""",P1\r\nx,"a ""q""","p,2"\r\n'
                                                 b'y,2,\r\nz,"multi\nline","p,2"\r\nw,"x,y",P1\r\n')


def test_stale_temp_files_of_a_killed_writer_are_removed(tmp_path):
    import fcntl

    out = tmp_path / "o.csv"
    dead = tmp_path / ".tmp-o.csv.abcd1234"
    dead.write_text("half")
    live = tmp_path / ".tmp-o.csv.live5678"
    live.write_text("being written")
    other = tmp_path / ".tmp-other.csv.abcd1234"
    other.write_text("not ours")
    odd = tmp_path / ".tmp-o.csv.toolongname1"
    odd.write_text("not an atomic_open name")
    with open(live, "rb") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)  # a writer that is alive holds its file locked
        assert joinio.remove_stale_temps(str(out)) == [str(dead)]
    assert not dead.exists() and live.exists() and other.exists() and odd.exists()


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "csv-from-parquet"])
def test_block_writers_equal_one_block(tmp_path, monkeypatch, fmt):
    # The column writers read the input a block at a time: tiny blocks give the same output as one.
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    from pqmpc.cli import csvfast

    keys = [f"k{i % 7}" for i in range(60)]
    if fmt == "csv-from-parquet":
        src = tmp_path / "in.parquet"
        pq.write_table(pa.table({"k": keys, "n": [i if i % 5 else None for i in range(60)]}), src)
        out_fmt = "csv"
    else:
        src = tmp_path / "in.csv"
        src.write_text("k,v\n" + "".join(f'{k},"v {i},\n x"\n' for i, k in enumerate(keys)))
        out_fmt = fmt
    t = csvio.read_keys(str(src), ["k"], engine="auto")
    rows = np.array([0, 0, 3, 4, 5, 17, 18, 40, 59])
    pidx = np.array([0, 1, -1, 1, 0, -1, 1, 0, 1])
    join = joinio.Join(rows=rows, pidx=pidx, peer=[psikeys.encode_items(["P", "q,\n"])], peer_names=["peer_p"])
    outs = []
    for block, rows_per in ((1 << 20, 1 << 20), (64, 3)):
        monkeypatch.setattr(csvfast, "READ_BLOCK", block)
        monkeypatch.setattr(joinio, "BLOCK_ROWS", rows_per)
        out = tmp_path / f"o{block}.{out_fmt}"
        assert joinio.write_result(t, str(out), out_fmt, join) == len(rows)
        outs.append(pq.read_table(out) if out_fmt == "parquet" else out.read_bytes())
    if out_fmt == "parquet":
        assert outs[0].equals(outs[1]) and outs[0].num_rows == len(rows)
        assert outs[0].column("peer_p").to_pylist()[:3] == ["P", "q,\n", None]
    else:
        assert outs[0] == outs[1]


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 30), st.data())
def test_left_join_rows_are_every_record_once_or_once_per_pair(n, data):
    from pqmpc.psi.payload import PayloadJoin

    rows = sorted(data.draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=40))) if n else []
    pidx = data.draw(st.lists(st.integers(0, 2), min_size=len(rows), max_size=len(rows)))
    want_rows, want_pidx = [], []
    for r in range(n):
        mine = [p for rr, p in zip(rows, pidx) if rr == r]
        want_rows += [r] * max(1, len(mine))
        want_pidx += mine or [-1]
    payloads = psikeys.combine_encoded([psikeys.encode_items(["a", "b", "c"])])
    pj = PayloadJoin(rows=np.array(rows, dtype=np.int64), payload_index=np.array(pidx, dtype=np.int64),
                     data=payloads[0], offsets=payloads[1])
    j = joinio.build_join(n, ["x"], "left", None, pj, 1, ["peer_x"])
    assert j.rows.tolist() == want_rows and j.pidx.tolist() == want_pidx
    j = joinio.build_join(n, ["x"], "left", np.array(sorted(set(rows)), dtype=np.int64))
    assert j.rows.tolist() == list(range(n)) and j.pidx is None
