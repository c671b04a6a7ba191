"""Saber round-3 KEM against the submission's KAT files.

The stored files hold the first 10 records of each variant (checked field by
field, with readable failures); ``test_all_100_records`` regenerates the whole
official ``.rsp`` file of each variant (100 records) and compares its SHA-256
with that of the official file (see ``vectors/external/saber/README.md``).
"""

import hashlib
from pathlib import Path

import pytest

from pqmpc.lattice.drbg import CtrDrbg, kat_seeds
from pqmpc.lattice.saber import SaberKEM

KAT_DIR = Path(__file__).resolve().parents[2] / "vectors" / "external" / "saber"
FILES = {"LightSaber": 1568, "Saber": 2304, "FireSaber": 3040}
FULL_SHA256 = {
    "LightSaber": "d15eabf67e7a00aa1429369d2dd3c54a091c3bc33c733a7c50963b4d3b68f347",
    "Saber": "4066d962d8e71dad0b389d321771dd509cd273ec266e032029995516fb351053",
    "FireSaber": "f1cbf649d410da9fdb32dfeb7963b2b6e91c199c3e7208ed487116aa1462978a",
}


def _records(variant):
    path = KAT_DIR / variant / f"PQCkemKAT_{FILES[variant]}.first10.rsp"
    recs, cur = [], {}
    for line in path.read_text().splitlines():
        if " = " in line:
            k, v = line.split(" = ")
            cur[k] = v if k == "count" else bytes.fromhex(v)
            if k == "ss":
                recs.append(cur)
                cur = {}
    return recs


def _run(kem, seed):
    drbg = CtrDrbg(seed)
    pk, sk = kem.keypair(drbg)
    ct, ss = kem.encaps(pk, drbg)
    return pk, sk, ct, ss


@pytest.mark.parametrize("variant", list(FILES))
def test_first_ten_records(variant):
    kem = SaberKEM(variant)
    recs = _records(variant)
    assert len(recs) == 10
    for rec in recs:
        pk, sk, ct, ss = _run(kem, rec["seed"])
        assert pk == rec["pk"], f"pk, count {rec['count']}"
        assert sk == rec["sk"], f"sk, count {rec['count']}"
        assert ct == rec["ct"], f"ct, count {rec['count']}"
        assert ss == rec["ss"], f"ss, count {rec['count']}"
        assert kem.decaps(sk, ct) == rec["ss"], f"decaps, count {rec['count']}"


@pytest.mark.parametrize("variant", list(FILES))
def test_all_100_records(variant):
    kem = SaberKEM(variant)
    lines = [f"# {variant}", ""]
    for count, seed in enumerate(kat_seeds(100)):
        pk, sk, ct, ss = _run(kem, seed)
        assert kem.decaps(sk, ct) == ss
        lines += [f"count = {count}", f"seed = {seed.hex().upper()}", f"pk = {pk.hex().upper()}",
                  f"sk = {sk.hex().upper()}", f"ct = {ct.hex().upper()}", f"ss = {ss.hex().upper()}", ""]
    text = ("\n".join(lines) + "\n").encode()
    assert hashlib.sha256(text).hexdigest() == FULL_SHA256[variant]
    # The stored prefix is the same file's beginning, so the two checks agree.
    stored = (KAT_DIR / variant / f"PQCkemKAT_{FILES[variant]}.first10.rsp").read_bytes()
    assert text.startswith(stored)
