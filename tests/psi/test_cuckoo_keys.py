"""Cuckoo hashing (and its stated failure bound), key encoding, ids and de-duplication."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import ParameterError
from pqmpc.psi import cuckoo, keys


def fitted_lambda(n, e):
    """λ of the PSTY19 fit at expansion e (the inverse of cuckoo.expansion)."""
    lo, hi = 0.0, 400.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cuckoo.expansion(n, mid) < e else (lo, mid)
    return lo


def test_expansion_matches_the_published_fit():
    assert 1.45 < cuckoo.expansion(1 << 12) < 1.5
    assert 1.5 < cuckoo.expansion(1 << 20) < 1.56
    assert cuckoo.num_bins(0) == 0
    assert cuckoo.num_bins(1) >= 1
    for n in (1, 2, 3, 10, 100, 1000):
        assert cuckoo.num_bins(n) >= n


def test_insertion_places_every_item_in_one_of_its_bins():
    rng = np.random.default_rng(5)
    n = 20_000
    m = cuckoo.num_bins(n)
    pos = rng.integers(0, m, (n, 3))
    table, hidx = cuckoo.insert(pos, m)
    occ = np.flatnonzero(table >= 0)
    assert occ.size == n
    assert np.array_equal(np.sort(table[occ]), np.arange(n))
    assert np.all(pos[table[occ], hidx[occ]] == occ)


def test_failure_is_reported():
    pos = np.zeros((3, 3), dtype=np.int64)  # three items, one possible bin
    with pytest.raises(cuckoo.CuckooError):
        cuckoo.insert(pos, 2)


@pytest.mark.parametrize("n,e,trials", [(16, 1.3, 3000), (64, 1.2, 3000), (256, 1.15, 1500)])
def test_fitted_bound_holds_empirically(n, e, trials):
    # At small n and small tables failures are frequent enough to count: the
    # observed rate must stay below the fit's 2^-λ(n, e) (with binomial slack),
    # which is what makes the 2^-40 extrapolation at the default size credible.
    bound = 2.0 ** -fitted_lambda(n, e)
    assert bound > 1e-3  # the check is only meaningful where failures are countable
    m = math.ceil(e * n)
    rng = np.random.default_rng(n)
    fails = 0
    for _ in range(trials):
        try:
            cuckoo.insert(rng.integers(0, m, (n, 3)), m)
        except cuckoo.CuckooError:
            fails += 1
    slack = 4 * math.sqrt(trials * bound) + 3
    assert fails <= trials * bound + slack, (fails, trials * bound)


def test_default_size_never_fails_at_small_scale():
    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 5, 17, 100, 1000):
        m = cuckoo.num_bins(n)
        for _ in range(200 if n < 1000 else 20):
            cuckoo.insert(rng.integers(0, m, (n, 3)), m)


def test_positions_in_range_and_keyed():
    ids = np.random.default_rng(1).integers(0, 256, (5000, 16), dtype=np.uint8)
    p1 = cuckoo.positions(ids, 777, bytes(16))
    p2 = cuckoo.positions(ids, 777, bytes(15) + b"\x01")
    assert p1.min() >= 0 and p1.max() < 777
    assert not np.array_equal(p1, p2)
    # roughly uniform
    counts = np.bincount(p1.ravel(), minlength=777)
    assert counts.max() < 5 * counts.mean()


def _aes_lanes(key: bytes, ids: np.ndarray) -> list[tuple[int, int, int]]:
    """The three 64-bit lanes of the wire format, from an independent AES (the ``cryptography`` package)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    tweaked = ids.copy()
    tweaked[:, 0] ^= 1
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    b = np.frombuffer(enc.update(ids.tobytes()), dtype="<u8").reshape(-1, 2)
    c = np.frombuffer(enc.update(tweaked.tobytes()), dtype="<u8").reshape(-1, 2)
    return [(int(x[0]), int(x[1]), int(y[0])) for x, y in zip(b, c)]


@pytest.mark.parametrize("m", [1, 2, 3, 777, (1 << 31) - 1, 3 << 29, (1 << 32) - 1])
def test_positions_are_the_64_bit_multiply_high(m):
    ids = np.random.default_rng(m).integers(0, 256, (300, 16), dtype=np.uint8)
    ids[:4] = 0xFF  # lanes near 2^64 as well
    key = bytes(range(16))
    got = cuckoo.positions(ids, m, key)
    want = [[(lane * m) >> 64 for lane in lanes] for lanes in _aes_lanes(key, ids)]
    assert got.tolist() == want


def test_mulhi_against_python_ints():
    rng = np.random.default_rng(11)
    a = rng.integers(0, 1 << 64, 2000, dtype=np.uint64, endpoint=False)
    a[:3] = [0, 1, (1 << 64) - 1]
    for m in (1, 5, (1 << 31) - 1, (1 << 32) - 1):
        got = [int(cuckoo.mulhi_u32(np.uint64(x), np.uint64(m))) for x in a[:200]]
        assert got == [(int(x) * m) >> 64 for x in a[:200]]


def test_positions_are_unbiased_at_a_large_table():
    # m = 1.5·2^30 bins (near the 2^30-item cap): 32-bit lanes give every bin 2 or 3 of
    # the 2^32 lane values, so the "3-value" bins (2/3 of them) would draw 3/4 of the
    # positions instead of 2/3. With 64-bit lanes the excess is below 2^-33.
    m = 3 << 29
    ids = np.random.default_rng(2).integers(0, 256, (1 << 19, 16), dtype=np.uint8)
    pos = cuckoo.positions(ids, m, b"bias test key 16").ravel()
    assert pos.min() >= 0 and pos.max() < m
    b = pos
    heavy = (((b + 1) << 32) + m - 1) // m - ((b << 32) + m - 1) // m == 3
    share = heavy.mean()
    sigma = math.sqrt((2 / 3) * (1 / 3) / pos.size)
    assert abs(share - 2 / 3) < 6 * sigma, share


@given(st.lists(st.one_of(st.text(max_size=40), st.binary(max_size=40)), max_size=60))
@settings(max_examples=60, deadline=None)
def test_ids_equal_iff_items_equal(items):
    data, offsets = keys.encode_items(items)
    ids = keys.item_ids(data, offsets, b"k" * 16)
    enc = [x.encode() if isinstance(x, str) else x for x in items]
    for i in range(len(items)):
        assert bytes(data[offsets[i]:offsets[i + 1]]) == enc[i]
    reps, inverse = keys.dedup_ids(ids)
    assert len(reps) == len(set(enc))
    for i in range(len(items)):
        assert enc[reps[inverse[i]]] == enc[i]


def test_padding_is_unambiguous():
    items = [b"", b"\x00", b"\x00" * 16, b"\x00" * 15, b"a" * 16, b"a" * 16 + b"\x00"]
    data, offsets = keys.encode_items(items)
    ids = keys.item_ids(data, offsets, bytes(16))
    assert len({bytes(r) for r in ids}) == len(items)


def test_combine_columns_is_unambiguous():
    k = keys.combine_columns([["a,b", "a"], ["c", "b,c"]])
    assert k[0] != k[1]
    assert keys.combine_columns([["x"]]) != keys.combine_columns([["x"], [""]])


def test_encode_rejects_non_items():
    with pytest.raises(ParameterError):
        keys.encode_items(b"abc")
    with pytest.raises(ParameterError):
        keys.encode_items([None])


def test_members_of_maps_duplicates_back():
    inverse = np.array([0, 1, 0, 2, 1])
    assert keys.members_of(inverse, np.array([0])).tolist() == [0, 2]
    assert keys.members_of(inverse, np.array([], dtype=np.int64)).tolist() == []
