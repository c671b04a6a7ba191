"""``pqmpc info``: which backends and CPU features are in use, and their versions."""

from __future__ import annotations

import json

HELP = "show backends, CPU features and versions"


def add_parser(sub) -> None:
    p = sub.add_parser("info", help=HELP)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def collect() -> dict:
    from ..bench.runner import environment

    env = environment()
    info = {"versions": {k: env.get(k) for k in ("pqmpc", "python", "numpy", "numba", "cryptography", "openssl")},
            "cpu": env["cpu"]}
    try:
        from ..primitives import aesni

        info["aes_kernels"] = aesni.backend_info()
    except ImportError:
        info["aes_kernels"] = {"backend": "OpenSSL bulk calls (numba AES-NI kernels not installed)"}
    try:
        from ..lattice import kem

        info["kem_backends"] = kem.available_backends()
    except ImportError as exc:
        info["kem_backends"] = {"error": str(exc)}
    return info


def run(args) -> int:
    info = collect()
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True, default=str))
        return 0
    v = info["versions"]
    print("pqmpc " + str(v["pqmpc"]))
    for k in ("python", "numpy", "numba", "cryptography", "openssl"):
        print(f"  {k:<13} {v.get(k)}")
    cpu = info["cpu"]
    flags = cpu.get("flags", {})
    print(f"cpu            {cpu.get('model', cpu.get('machine'))}, {cpu.get('cores')} cores")
    print("  features     " + " ".join(f"{k}{'+' if on else '-'}" for k, on in flags.items()))
    print("symmetric kernels")
    for k, v in info["aes_kernels"].items():
        print(f"  {k:<13} {v}")
    print("ML-KEM backends (KyberOT backend='auto' picks the fastest available)")
    backends = info["kem_backends"]
    if isinstance(backends, dict):
        print(f"  unavailable: {backends.get('error')}")
        return 0
    for b in backends:
        state = "yes" if b.get("available") else "no "
        print(f"  {b['name']:<13} {state}  {', '.join(b.get('variants', [])) or '-':<36} {b.get('detail', '')}")
    return 0
