"""PSI on what data tools hand over: numpy str/bytes/object arrays, pandas-style columns, tuples."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pqmpc.errors import ParameterError
from pqmpc.net import run_pair
from pqmpc.psi import keys, psi_receiver, psi_sender


class Column:
    """What a pandas Series/Index or a polars Series offers here: ``to_numpy()`` (pandas is not needed)."""

    def __init__(self, values, dtype=object):
        self._values = values
        self._dtype = dtype

    def to_numpy(self):
        return np.array(self._values, dtype=self._dtype)

    def __iter__(self):  # pandas iterates too; to_numpy must win (it is one C call)
        raise AssertionError("iterated instead of converted")


def as_key(x) -> bytes:
    return x.encode() if isinstance(x, str) else bytes(x)


def plain(mine, theirs):
    other = {as_key(x) for x in theirs}
    return [i for i, x in enumerate(mine) if as_key(x) in other]


# Empty strings, unicode (combining marks, astral plane, NUL inside), duplicates from a small pool.
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)
pool = st.lists(text, min_size=1, max_size=12, unique=True)


def containers(values: list[str]):
    """The same keys in every container a user might pass."""
    out = {"list": values, "tuple": tuple(values), "object array": np.array(values, dtype=object),
           "series": Column(values), "bytes list": [v.encode() for v in values]}
    if not any(v.endswith("\x00") for v in values):  # fixed-width numpy strings drop trailing NULs
        out["str array"] = np.array(values, dtype=str) if values else np.zeros(0, dtype="U1")
        out["string series"] = Column(values, dtype=str)
        out["bytes array"] = np.array([v.encode() for v in values], dtype=bytes) if values else np.zeros(0, "S1")
    return out


@settings(max_examples=80, deadline=None)
@given(values=st.lists(text, max_size=30))
def test_every_container_encodes_like_the_list(values):
    want_data, want_off = keys.encode_items(list(values))
    for name, c in containers(values).items():
        data, off = keys.encode_items(c)
        assert bytes(data) == bytes(want_data) and off.tolist() == want_off.tolist(), name


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_psi_on_arrays_and_columns_matches_plain_intersection(data):
    values = data.draw(pool)
    a = data.draw(st.lists(st.sampled_from(values), max_size=25))
    b = data.draw(st.lists(st.sampled_from(values) | text, max_size=25))
    ca, cb = containers(a), containers(b)
    kind_a = data.draw(st.sampled_from(sorted(ca)))
    kind_b = data.draw(st.sampled_from(sorted(cb)))
    s, r = run_pair(lambda ch: psi_sender(ch, ca[kind_a], reveal_to_sender=True),
                    lambda ch: psi_receiver(ch, cb[kind_b], reveal_to_sender=True))
    assert r.tolist() == plain(b, a)
    assert s.tolist() == plain(a, b)


def test_a_tuple_of_keys_is_not_taken_for_encoded_items():
    s, r = run_pair(lambda ch: psi_sender(ch, ("x", "y")), lambda ch: psi_receiver(ch, ("y", "z")))
    assert r.tolist() == [0]


def test_encoded_items_are_accepted_as_such():
    enc = keys.encode_items(["x", "y"])
    assert keys.is_encoded(enc) and not keys.is_encoded(("x", "y"))
    _, r = run_pair(lambda ch: psi_sender(ch, enc), lambda ch: psi_receiver(ch, ["y"]))
    assert r.tolist() == [0]


def test_numpy_scalars_of_str_and_bytes_are_their_values():
    data, off = keys.encode_items([np.str_("é"), np.bytes_(b"ab"), "c"])
    assert bytes(data) == "é".encode() + b"abc" and off.tolist() == [0, 2, 4, 5]


@pytest.mark.parametrize("bad, match", [
    (np.arange(3), "int64"),
    (np.zeros((2, 2), dtype="U2"), "one-dimensional"),
    (Column(["a", None]), "item 1 is a missing value"),
    (Column(["a", float("nan")]), "missing value"),
    (np.array(["a", 3], dtype=object), "found int at item 1"),
    ([np.int64(3)], "found int64"),
    ("abc", "single str"),
    (b"abc", "single bytes"),
    (7, "not int"),
    (Column(["\ud800"]), "item 0 cannot be encoded as UTF-8"),
])
def test_bad_inputs_raise_parameter_error(bad, match):
    with pytest.raises(ParameterError, match=match):
        keys.encode_items(bad)


def test_to_numpy_failure_is_a_parameter_error():
    class Broken:
        def to_numpy(self):
            raise RuntimeError("zero-copy conversion impossible")

    with pytest.raises(ParameterError, match="to_numpy"):
        keys.encode_items(Broken())
