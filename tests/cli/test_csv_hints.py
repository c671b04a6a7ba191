"""The missing-column error names the delimiter a real file most likely uses."""

import pytest

from pqmpc.cli.csvio import InputError, find_column


@pytest.mark.parametrize("header, flag", [
    (["email;name"], "--delimiter ';'"),
    (["id\temail\tname"], "--delimiter tab"),
    (["id|email"], "--delimiter '|'"),
    (["id, email "], "--delimiter ','"),
])
def test_other_delimiter_is_named(header, flag):
    with pytest.raises(InputError) as err:
        find_column("x.csv", header, "email")
    assert "no column 'email'" in str(err.value) and flag in str(err.value)


def test_no_hint_when_the_column_is_simply_absent():
    with pytest.raises(InputError) as err:
        find_column("x.csv", ["id", "name;x"], "email")
    assert "--delimiter" not in str(err.value)
    assert find_column("x.csv", ["id", " email "], "email") == 1


@pytest.mark.parametrize("reader", ["table", "stream"])
def test_parquet_inputs_that_are_not_files(tmp_path, reader):
    pytest.importorskip("pyarrow")
    from pqmpc.cli.csvfast import read_parquet
    from pqmpc.cli.psi_sources import ParquetSource

    def read(path):
        if reader == "table":
            return read_parquet(str(path), ["k"], [], False)
        return ParquetSource(str(path), ["k"], [], False)

    with pytest.raises(InputError, match="no such file"):
        read(tmp_path / "missing.parquet")
    with pytest.raises(InputError, match="is a directory, expected a Parquet file"):
        read(tmp_path)
