"""Kernel preloading: the spec lists cover what a first IKNP call runs, and kernels
loaded on the light path (or compiled on a cold cache) compute what they should."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from pqmpc.primitives.cpu import HAVE_AESNI

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# A fresh process: set up IKNP over ML-KEM base OTs (both parties, two threads), then
# count every kernel numba still had to load lazily after the preload.
_FIRST_CALL = textwrap.dedent("""
    import json
    import numpy as np
    from numba.core import caching
    from pqmpc.net import run_pair
    from pqmpc.ot import IKNP

    late, phase = [], ["setup"]
    orig = caching.Cache.load_overload

    def spy(self, sig, ctx):
        late.append((phase[0], self._name))
        return orig(self, sig, ctx)

    a, b = IKNP(), IKNP()
    a.preload()
    caching.Cache.load_overload = spy
    n = 70000
    (d, q), (r, t) = run_pair(lambda ch: a.send_random_correlated(ch, n),
                              lambda ch: b.receive_random_correlated(ch, n))
    ok = bool(np.array_equal(t, q ^ (r[:, None] * d[None, :])))
    print(json.dumps({"late": late, "ok": ok}))
""")


def _run(code, env=None):
    e = dict(os.environ, PYTHONPATH=ROOT)
    e.update(env or {})
    out = subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not HAVE_AESNI, reason="the AES-NI kernel lists are empty without AES-NI")
def test_iknp_preload_covers_the_first_call():
    _run("from pqmpc.ot import IKNP; IKNP().preload(); print('{}')")  # make sure the cache is built
    got = _run(_FIRST_CALL)
    assert got["ok"]
    assert got["late"] == [], f"kernels loaded lazily after preload: {got['late']}"


def test_preload_on_a_cold_cache_compiles(tmp_path):
    # A miss must take numba's full path (registries initialised); the kernel must work.
    code = textwrap.dedent("""
        import hashlib, json
        import numpy as np
        from pqmpc.primitives import keccak
        from pqmpc.primitives.preload import preload
        k = preload(keccak.kernel_specs())
        again = preload(keccak.kernel_specs())
        msg = np.arange(300, dtype=np.uint8).reshape(2, 150)
        h = keccak.sha3_256(msg)
        ok = all(h[i].tobytes() == hashlib.sha3_256(msg[i].tobytes()).digest() for i in range(2))
        print(json.dumps({"loaded": k, "again": again, "ok": ok}))
    """)
    for _ in range(2):  # cold (compiles and saves), then warm (light path, same result)
        got = _run(code, {"NUMBA_CACHE_DIR": str(tmp_path)})
        assert got == {"loaded": 1, "again": 0, "ok": True}
    # an index that names a data file which is gone: the light path must fall back to a
    # full compilation, not compile with numba half initialised
    data = list(tmp_path.rglob("*keccak_words*.nbc"))
    assert data
    for f in data:
        f.unlink()
    assert _run(code, {"NUMBA_CACHE_DIR": str(tmp_path)}) == {"loaded": 1, "again": 0, "ok": True}
