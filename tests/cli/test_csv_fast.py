"""The pyarrow CSV reader against the stdlib one: same keys, same records, same error messages.

Run as a script for the 10^6-row timing (reading + key encoding, fast vs stdlib):
    PYTHONPATH=$PWD python tests/cli/test_csv_fast.py [rows]
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pqmpc.cli import csvio
from pqmpc.errors import InputError
from pqmpc.psi import keys as psikeys

pa = pytest.importorskip("pyarrow") if __name__ != "__main__" else None


def outcome(path, key_columns, delimiter=",", normalize=None, skip_empty=False, engine="stdlib", payload=None):
    try:
        t = csvio.read_keys(str(path), key_columns, delimiter, normalize, skip_empty, engine=engine,
                            payload_columns=payload)
    except InputError as exc:
        return ("error", str(exc)), None
    data, offsets = t.items()
    pl = t.payloads()
    pl = None if pl is None else (pl[0].tobytes(), pl[1].tolist())
    return (t.header, t.records.tolist(), t.rows_read, t.skipped, t.skipped_lines, data.tobytes(),
            offsets.tolist(), pl), t


def same(path, *a, **kw):
    slow, ts = outcome(path, *a, engine="stdlib", **kw)
    fast, tf = outcome(path, *a, engine="arrow", **kw)
    assert fast == slow
    return fast, tf


chars = st.sampled_from(list("aAzZ09 ,;\"\n\r\t") + ["é", "É", "İ", "ß", "\u00a0", "\x1c", "\u2003", "日", "e\u0301",
                                                    "\ufeff", "ǅ"])
fields = st.lists(chars, max_size=6).map("".join)


@st.composite
def csv_files(draw):
    ncols = draw(st.integers(1, 3))
    header = draw(st.sampled_from([["k", "v", "w"]] * 4 + [["k", "k", "w"], [" k", "v", "w"], ["k", "v ", "k"]]))
    header = header[:ncols]
    ragged = draw(st.integers(0, 3)) == 0  # mostly well-formed files, which the fast path takes
    row = (st.lists(fields, min_size=1, max_size=ncols + 1) if ragged
           else st.lists(st.lists(chars, min_size=1, max_size=6).map("".join) | fields, min_size=ncols,
                         max_size=ncols))
    rows = draw(st.lists(row, max_size=8))
    delim = draw(st.sampled_from([",", ";"]))
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))

    def render(f):
        mode = draw(st.sampled_from(["plain", "quote", "auto"]))
        if mode == "quote" or (mode == "auto" and any(c in f for c in (delim, '"', "\n", "\r"))):
            return '"' + f.replace('"', '""') + '"'
        return f

    lines = [delim.join(render(h) for h in header)]
    for r in rows:
        if draw(st.booleans()) and draw(st.booleans()):
            lines.append("")  # a blank line
        lines.append(delim.join(render(f) for f in r))
    text = eol.join(lines) + (eol if draw(st.booleans()) else "")
    raw = text.encode("utf-8")
    if draw(st.booleans()):
        raw = b"\xef\xbb\xbf" + raw
    if raw and draw(st.integers(0, 7)) == 0:  # a stray byte: a quote, invalid UTF-8, a NUL
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from([b'"', b"\xff", b"\x00", b"\xc3"])) + raw[at:]
    return raw, delim


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(f=csv_files(), keys=st.sampled_from([["k"], ["k", "v"], ["v", "k"], ["w"]]),
       normalize=st.sampled_from([None, ["trim"], ["lower"], ["nfc", "trim", "lower"], ["nfc"]]),
       skip_empty=st.booleans(), payload=st.sampled_from([None, ["w"], ["v", "w"]]))
def test_fast_reader_equals_stdlib(tmp_path, f, keys, normalize, skip_empty, payload):
    raw, delim = f
    p = tmp_path / "in.csv"
    p.write_bytes(raw)
    same(p, keys, delim, normalize, skip_empty, payload=payload)


def test_payload_columns(tmp_path):
    from pqmpc.psi import payload

    p = write(tmp_path, 'k,name,note\n a ,Ann,"x, y"\nb,"",\n,skip,me\nc,Cé,"multi\nline"\n'.encode())
    res, t = same(p, ["k"], ",", ["trim"], True, payload=["note", "name"])  # the empty key: stdlib
    assert t.payload_columns == ["note", "name"] and t.records.tolist() == [0, 1, 3]
    cols = payload.unpack_columns(*t.payloads(), 2)
    got = [[d[o[i]:o[i + 1]].tobytes().decode() for i in range(3)] for d, o in cols]
    assert got == [["x, y", "", "multi\nline"], ["Ann", "", "Cé"]]
    res, t = same(p, ["name"], ",", None, True, payload=["k"])
    assert t.payloads() is not None
    res, _ = same(write(tmp_path, b"k,v\nx\n", "b.csv"), ["k"], payload=["v"])
    assert res == ("error", f"{tmp_path / 'b.csv'}: line 2: the record has 1 field(s) but the payload column 'v' "
                            f"is field 2")


def write(tmp_path, raw: bytes, name="a.csv"):
    p = tmp_path / name
    p.write_bytes(raw)
    return p


def test_common_files_take_the_fast_path(tmp_path):
    p = write(tmp_path, '\ufeffid,"first name",email\n1,"Ann, B","A@X"\n2,Bob,"multi\nline"\n\n3,Cé,é@x\n'
              .encode())
    res, t = same(p, ["email"], ",", ["nfc", "trim", "lower"])
    assert t.engine == "arrow" and res[0] == ["id", "first name", "email"]
    assert list(t.columns[0]) == ["a@x", "multi\nline", "é@x"]
    assert psikeys.encode_items(psikeys.combine_columns(t.columns))[0].tobytes() == t.items()[0].tobytes()


@pytest.mark.parametrize("raw,msg", [
    (b"k,v\nok,1\nbad\xff\xfe,2\n", "line 3: not valid UTF-8"),
    (b"k,v\nx,1\n ,2\n", "line 3 (row 2): empty key in column 'k'"),
    (b"id,email,id\n1,a@x,2\n", "column 'id' appears 2 times"),
    (b"k,v\n\"abc\"def,1\n", "line 2: malformed CSV"),
    (b"k,v\n\"open,1\n", "malformed CSV"),
    (b"v,k\n1\n", "line 2: the record has 1 field(s) but the key column 'k' is field 2"),
    (b"", "the file is empty"),
    (b"a,b\n1,2\n", "no column 'k' in the header"),
])
def test_errors_are_the_stdlib_messages(tmp_path, raw, msg):
    p = write(tmp_path, raw)
    key = ["id"] if raw.startswith(b"id") else ["k"]
    res, _ = same(p, key, ",", ["trim"])
    assert res[0] == "error" and msg in res[1]


def test_skip_empty_falls_back_with_line_numbers(tmp_path):
    p = write(tmp_path, b'a,b,c\n"x,y",z,1\nx,"y,z",2\n,q,3\n\n\n')
    res, t = same(p, ["a", "b"], ",", None, True)
    assert t.skipped_lines == [4] and t.engine == "stdlib"


def test_extra_and_missing_fields_fall_back(tmp_path):
    p = write(tmp_path, b"k,v\n1,2,3\n4\n")
    res, t = same(p, ["k"])
    assert t.engine == "stdlib" and t.records.tolist() == [0, 1]


def test_env_switches(tmp_path, monkeypatch):
    p = write(tmp_path, b"k\nx\n")
    monkeypatch.delenv("PQMPC_CSV_ENGINE", raising=False)
    assert csvio.read_keys(str(p), ["k"], engine="auto").engine == "arrow"
    assert csvio.read_keys(str(p), ["k"]).engine == "stdlib"
    monkeypatch.setenv("PQMPC_CSV_ENGINE", "auto")
    assert csvio.read_keys(str(p), ["k"]).engine == "arrow"
    monkeypatch.setenv("PQMPC_NO_ARROW", "1")
    assert not csvio.arrow_enabled() and csvio.read_keys(str(p), ["k"], engine="arrow").engine == "stdlib"


def test_parquet_input(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = pa.table({"id": [1, 2, 3], "email": [" A@x", "b@y", "É@z"], "n": ["x", None, "z"]})
    pq.write_table(t, tmp_path / "a.parquet")
    p = str(tmp_path / "a.parquet")
    kt = csvio.read_keys(p, ["email", "id"], normalize=["trim", "lower"])  # any engine: Parquet is pyarrow
    csv_p = write(tmp_path, "email,id\n A@x,1\nb@y,2\nÉ@z,3\n".encode())
    ref = csvio.read_keys(str(csv_p), ["email", "id"], normalize=["trim", "lower"], engine="stdlib")
    assert kt.engine == "parquet" and kt.header == ["id", "email", "n"]
    assert kt.items()[0].tobytes() == ref.items()[0].tobytes()
    with pytest.raises(InputError, match="row 2: empty key in column 'n'"):
        csvio.read_keys(p, ["n"])
    sk = csvio.read_keys(p, ["n"], skip_empty=True, payload_columns=["n", "id"])
    assert sk.records.tolist() == [0, 2] and sk.skipped_lines == [2]
    from pqmpc.psi import payload
    (d0, o0), (d1, o1) = payload.unpack_columns(*sk.payloads(), 2)
    assert d0.tobytes() == b"xz" and d1.tobytes() == b"13"
    with pytest.raises(InputError, match="no column 'k'"):
        csvio.read_keys(p, ["k"])
    out = tmp_path / "o.csv"
    assert csvio.write_matches(p, str(out), np.array([2, 0])) == 2
    assert out.read_text().splitlines() == ["id,email,n", "1, A@x,x", "3,É@z,z"]  # minimal quoting, as csv writes
    bad = write(tmp_path, b"not parquet", "b.parquet")
    with pytest.raises(InputError, match="cannot read as Parquet"):
        csvio.read_keys(str(bad), ["k"])


def bench(rows: int) -> None:
    import tempfile

    d = tempfile.mkdtemp()
    p = os.path.join(d, "a.csv")
    with open(p, "w", encoding="utf-8") as fh:
        fh.write("id,email,name,note\n")
        for i in range(rows):
            fh.write(f'{i},User{i}@Example.com,"Name {i}",some note {i % 97}\n')
    size = os.path.getsize(p)
    warm = os.path.join(d, "w.csv")
    with open(warm, "w", encoding="utf-8") as fh:
        fh.write("email\nx\n")
    csvio.read_keys(warm, ["email"], engine="arrow").items()  # numba's cache load, once per process
    for norm in (None, ["nfc", "trim", "lower"]):
        for eng in ("arrow", "stdlib"):
            t0 = time.perf_counter()
            t = csvio.read_keys(p, ["email"], normalize=norm, engine=eng)
            t1 = time.perf_counter()
            t.items()
            t2 = time.perf_counter()
            print(f"{rows} rows ({size / 1e6:.0f} MB), normalize={norm}, {eng:6s}: read {t1 - t0:.2f} s, "
                  f"encode keys {t2 - t1:.2f} s, total {t2 - t0:.2f} s")
    os.remove(p)


if __name__ == "__main__":
    bench(int(sys.argv[1]) if len(sys.argv) > 1 else 10 ** 6)
