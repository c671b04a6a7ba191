"""RR22 OKVS: decode(encode(k → v), k) = v for random and adversarial keys; failures and errors."""

import json
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc import Rng
from pqmpc.errors import ParameterError
from pqmpc.psi import okvs
from pqmpc.psi.okvs import OkvsFailure, OkvsParams, okvs_decode, okvs_encode, okvs_encode_random_seed

VECTOR = pathlib.Path(__file__).resolve().parents[2] / "vectors" / "psi" / "rr22_okvs.json"


def roundtrip(keys, values, rng=None, **kw):
    p = OkvsParams(keys.shape[0], **kw)
    seed, table = okvs_encode_random_seed(keys, values, rng or Rng(), p)
    assert table.shape == (p.size, 16)
    assert np.array_equal(okvs_decode(table, keys, seed, p), values)
    return p, seed, table


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 3000), st.integers(0, 2 ** 32))
def test_random_keys(n, s):
    r = np.random.default_rng(s)
    keys = r.integers(0, 256, (n, 16), dtype=np.uint8)
    keys = np.unique(keys.view(np.dtype((np.void, 16))), return_index=False).view(np.uint8).reshape(-1, 16)
    values = r.integers(0, 256, (keys.shape[0], 16), dtype=np.uint8)
    roundtrip(keys, values, Rng(s.to_bytes(8, "little")))


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 3000), st.sampled_from(["counter", "one-bit", "high-byte", "zero-values"]))
def test_adversarial_keys(n, kind):
    """Structured key sets (a counter, keys differing in one bit, in the top byte): the rows are
    AES outputs under the encoder's seed, so structure in the keys does not show in the matrix."""
    keys = np.zeros((n, 16), dtype=np.uint8)
    if kind == "counter" or kind == "zero-values":
        keys.view(np.uint64)[:, 0] = np.arange(n, dtype=np.uint64)
    elif kind == "one-bit":
        keys.view(np.uint64)[:, 0] = np.arange(n, dtype=np.uint64) * 0x10000000001
        keys[:, 8] = 0xFF
    else:
        keys.view(np.uint64)[:, 1] = np.arange(n, dtype=np.uint64) << np.uint64(52)
    values = np.zeros_like(keys) if kind == "zero-values" else np.random.default_rng(n).integers(
        0, 256, (n, 16), dtype=np.uint8)
    roundtrip(keys, values)


def test_many_bins():
    """More than one bin (bin size 2^6): bins, capacities and the dense columns are all used."""
    r = np.random.default_rng(7)
    keys = r.integers(0, 256, (5000, 16), dtype=np.uint8)
    values = r.integers(0, 256, (5000, 16), dtype=np.uint8)
    p, _, _ = roundtrip(keys, values, bin_size=1 << 9)
    assert p.bins == 10 and p.capacity > 500


def test_gap_rows_are_solved():
    """Below the peeling threshold (e = 1.1 < 1.222) peeling stalls: the dense GF(2^128) solve must fix the gap rows."""
    r = np.random.default_rng(3)
    solved = 0
    for trial in range(60):
        keys = r.integers(0, 256, (200, 16), dtype=np.uint8)
        values = r.integers(0, 256, (200, 16), dtype=np.uint8)
        p = OkvsParams(200)
        p.sparse, p.dense = 220, 24
        p.width = p.size = 244
        seed = r.bytes(16)
        try:
            table = okvs_encode(keys, values, seed, p)
        except OkvsFailure:
            continue
        assert np.array_equal(okvs_decode(table, keys, seed, p), values)
        solved += int(table[p.sparse:].any())
    assert solved >= 5, "too few runs used (and solved) the dense columns"


@pytest.mark.parametrize("n", [0, 1, 2])
def test_tiny(n):
    keys = np.arange(16 * n, dtype=np.uint8).reshape(n, 16)
    values = np.arange(16 * n, 0, -1, dtype=np.uint8).reshape(n, 16) if n else keys.copy()
    p, seed, table = roundtrip(keys, values)
    assert p.size == (0 if n == 0 else p.bins * p.width)


def test_duplicates_refused():
    keys = np.random.default_rng(1).integers(0, 256, (50, 16), dtype=np.uint8)
    keys[37] = keys[12]
    with pytest.raises(ParameterError, match="positions 12 and 37"):
        okvs_encode(keys, np.zeros_like(keys), bytes(16))


def test_bad_shapes():
    with pytest.raises(ParameterError):
        okvs_encode(np.zeros((3, 8), np.uint8), np.zeros((3, 16), np.uint8), bytes(16))
    with pytest.raises(ParameterError):
        okvs_encode(np.zeros((3, 16), np.uint8), np.zeros((2, 16), np.uint8), bytes(16))
    with pytest.raises(ParameterError):
        okvs_decode(np.zeros((5, 16), np.uint8), np.zeros((1, 16), np.uint8), bytes(16), OkvsParams(100))
    with pytest.raises(ParameterError):
        okvs_encode(np.zeros((1, 16), np.uint8), np.zeros((1, 16), np.uint8), bytes(15))


def test_failure_is_reported_not_wrong():
    """A bin over capacity (a seed/parameter mismatch) is an OkvsFailure, never a table that decodes wrongly."""
    r = np.random.default_rng(5)
    keys = r.integers(0, 256, (3000, 16), dtype=np.uint8)
    p = OkvsParams(3000, bin_size=1 << 9)
    p.capacity = 10    # far too small on purpose
    with pytest.raises(OkvsFailure):
        okvs_encode(keys, keys, bytes(16), p)
    with pytest.raises(OkvsFailure):
        okvs_encode_random_seed(keys, keys, Rng(b"x" * 32), p)


def test_parameters_match_reference_fit():
    p = OkvsParams(1 << 20)
    assert p.bins == 64 and p.dense == 2
    assert 1.26 < p.sparse / p.capacity < 1.28
    assert okvs.bin_capacity(1 << 20, 64, 40) == p.capacity
    # the capacity bound is a real tail bound: well above the mean, below mean + 10 sigma
    assert (1 << 14) + 5 * 128 < p.capacity < (1 << 14) + 10 * 128


def compute() -> dict:
    r = np.random.default_rng(2022)
    keys = r.integers(0, 256, (3000, 16), dtype=np.uint8)
    values = r.integers(0, 256, (3000, 16), dtype=np.uint8)
    p = OkvsParams(3000, bin_size=1 << 10)
    seed = bytes(range(16))
    table = okvs_encode(keys, values, seed, p)
    import hashlib
    return {"params": p.as_dict(), "seed": seed.hex(), "keys_values": "numpy default_rng(2022), 3000 x 2 blocks",
            "sha256_table": hashlib.sha256(table.tobytes()).hexdigest(),
            "decode_first": okvs_decode(table, keys[:2], seed, p).tobytes().hex()}


def test_known_answer():
    assert compute() == json.loads(VECTOR.read_text())


if __name__ == "__main__":
    VECTOR.parent.mkdir(parents=True, exist_ok=True)
    VECTOR.write_text(json.dumps(compute(), indent=1) + "\n")
