"""Without AES-NI, PSI's secret data (the items, their ids) never goes through a table AES.

numba falls back to a T-table AES on CPUs without AES-NI (every ARM machine);
its lookups are indexed by state bytes, so item ids and cuckoo positions
would leak the items through cache timing. There, both go through OpenSSL
(constant time, hardware-accelerated on ARM too) and give the same bytes.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqmpc.errors import ParameterError
from pqmpc.psi import cuckoo, keys

REPO = pathlib.Path(__file__).resolve().parents[2]


@settings(max_examples=40, deadline=None)
@given(items=st.lists(st.binary(max_size=70), max_size=40), key=st.binary(min_size=16, max_size=16))
def test_item_ids_same_bytes_on_both_backends(items, key):
    data, offsets = keys.encode_items(items)
    a = keys.item_ids(data, offsets, key, backend="kernel")
    b = keys.item_ids(data, offsets, key, backend="openssl")
    assert a.shape == (len(items), 16) and np.array_equal(a, b)


@pytest.mark.parametrize("m", [1, 1000, (1 << 31) - 1])
def test_positions_same_bytes_on_both_backends(m):
    ids = np.random.default_rng(m).integers(0, 256, (2000, 16), dtype=np.uint8)
    key = bytes(range(16, 32))
    assert np.array_equal(cuckoo.positions(ids, m, key, backend="kernel"),
                          cuckoo.positions(ids, m, key, backend="openssl"))


def test_unknown_backend_is_refused():
    with pytest.raises(ParameterError):
        keys.item_ids(np.zeros(0, np.uint8), np.zeros(1, np.int64), bytes(16), backend="table")
    with pytest.raises(ParameterError):
        cuckoo.positions(np.zeros((1, 16), np.uint8), 5, bytes(16), backend="table")


_CHILD = """
import json, sys, warnings
import numpy as np
from unittest import mock
from pqmpc.primitives import aes, aes_kernels
from pqmpc.psi import cuckoo, keys
calls = []
def spy(name, real):
    def f(*a, **k):
        calls.append(name)
        return real(*a, **k)
    return f
keys._cbc_mac_kernel = spy("table kernel", keys._cbc_mac_kernel)
cuckoo._positions_kernel = spy("table kernel", cuckoo._positions_kernel)
aes.cbc_mac = spy("openssl", aes.cbc_mac)
aes.aes_ecb = spy("openssl", aes.aes_ecb)
data, offsets = keys.encode_items(["", "a", "é" * 40, "x" * 16])
ids = keys.item_ids(data, offsets, bytes(range(16)))
pos = cuckoo.positions(ids, 1000, bytes(16))
print(json.dumps({"table": aes_kernels.TABLE_AES_ACTIVE, "calls": calls, "ids": ids.tolist(), "pos": pos.tolist()}))
"""


def test_without_aesni_the_items_go_through_openssl():
    env = dict(os.environ, NUMBA_CPU_FEATURES="-aes,-pclmul",
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, env=env, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["table"] is True
    assert res["calls"] and set(res["calls"]) == {"openssl"}
    data, offsets = keys.encode_items(["", "a", "é" * 40, "x" * 16])
    ids = keys.item_ids(data, offsets, bytes(range(16)))
    assert res["ids"] == ids.tolist()
    assert res["pos"] == cuckoo.positions(ids, 1000, bytes(16)).tolist()
