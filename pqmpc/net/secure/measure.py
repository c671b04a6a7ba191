"""Measure the secure channel: handshake time and bytes, record throughput.

    python -m pqmpc.net.secure.measure [--quick]

Handshake time is the wall time of both ``wrap`` calls running in two threads
over an in-memory pair (median of many runs). Throughput sends large messages
one way and reports plaintext GB/s seen by the receiver, for the AEAD alone
(encrypt + decrypt one record stream in one thread), over an in-memory pair and
over TCP loopback, each next to the same transport without encryption.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import numpy as np

from ..memory import MemoryChannel
from ..tcp import TcpChannel, TcpListener
from .channel import HDR, RECORD_BYTES, SecureChannel
from .keys import Identity, generate_psk
from .noise import TAGLEN, CipherState


def _wrap_pair(a, b, k0: dict, k1: dict):
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("r", SecureChannel.wrap(b, role="responder", **k1)))
    t.start()
    s = SecureChannel.wrap(a, role="initiator", **k0)
    t.join()
    return s, box["r"]


def handshake(runs: int) -> dict:
    ia, ib, psk = Identity.generate(), Identity.generate(), generate_psk()
    out = {}
    for mode, kw in (("static", ({"identity": ia, "peer": ib.public}, {"identity": ib, "peer": ia.public})),
                     ("psk", ({"psk": psk}, {"psk": psk})),
                     ("static+psk", ({"identity": ia, "peer": ib.public, "psk": psk},
                                     {"identity": ib, "peer": ia.public, "psk": psk}))):
        times = []
        for _ in range(runs):
            a, b = MemoryChannel.pair(timeout=10)
            t0 = time.perf_counter()
            s, r = _wrap_pair(a, b, *kw)
            times.append(time.perf_counter() - t0)
            nbytes = s.handshake_bytes
            s.close()
            r.close()
        out[mode] = {"median_ms": 1e3 * statistics.median(times), "min_ms": 1e3 * min(times),
                     "bytes": nbytes}
    return out


def aead_only(total: int) -> float:
    """GB/s of seal + open of 1 MiB records in one thread (no transport)."""
    tx, rx = CipherState(bytes(32)), CipherState(bytes(32))
    data = np.zeros(RECORD_BYTES, np.uint8)
    frame = bytearray(HDR.size + RECORD_BYTES + TAGLEN)
    out = bytearray(RECORD_BYTES)
    hdr = bytes(HDR.size)
    n = total // RECORD_BYTES
    t0, c0 = time.perf_counter(), time.process_time()
    with memoryview(frame) as fv:
        for _ in range(n):
            tx.encrypt_into(hdr, data, fv[HDR.size:])
            rx.decrypt_into(hdr, fv[HDR.size:], out)
    return _rates(n * RECORD_BYTES, t0, c0)


def _rates(nbytes: int, t0: float, c0: float) -> tuple[float, float]:
    """(GB/s by wall clock, GB/s per CPU-second of this process): the machine may be shared."""
    return nbytes / (time.perf_counter() - t0) / 1e9, nbytes / max(time.process_time() - c0, 1e-9) / 1e9


def stream(a, b, total: int, msg: int) -> float:
    """GB/s of plaintext from a to b (sender and receiver in two threads)."""
    data = np.zeros(msg, np.uint8)
    n = total // msg

    def send():
        for _ in range(n):
            a.send(data)

    t = threading.Thread(target=send)
    t0, c0 = time.perf_counter(), time.process_time()
    t.start()
    for _ in range(n):
        b.recv_frame()
    t.join()
    return _rates(n * msg, t0, c0)


def _tcp():
    listener = TcpListener("127.0.0.1", 0)
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("a", listener.accept(30)))
    t.start()
    b = TcpChannel.connect("127.0.0.1", listener.port, timeout=30)
    t.join()
    listener.close()
    return box["a"], b


def throughput(total: int, msg: int) -> dict:
    psk = generate_psk()
    res = {"aead_only (seal+open, one thread)": aead_only(total)}
    for name, make in (("memory", lambda: MemoryChannel.pair(timeout=30)), ("tcp", _tcp)):
        a, b = make()
        res[f"{name} plain"] = stream(a, b, total, msg)
        a.close()
        b.close()
        s, r = _wrap_pair(*make(), {"psk": psk}, {"psk": psk})
        res[f"{name} secure initiator->responder"] = stream(s, r, total, msg)
        res[f"{name} secure responder->initiator"] = stream(r, s, total, msg)
        s.close()
        r.close()
    return res


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer runs, less data")
    args = p.parse_args(argv)
    runs, total = (10, 256 << 20) if args.quick else (50, 1 << 30)
    c0 = time.process_time()
    hs = handshake(runs)
    cpu_ms = 1e3 * (time.process_time() - c0) / (3 * runs)
    for mode, r in hs.items():
        print(f"handshake {mode:10s}: median {r['median_ms']:.2f} ms, min {r['min_ms']:.2f} ms, "
              f"{r['bytes']} bytes on the wire (both directions)")
    print(f"handshake CPU time, both parties together: {cpu_ms:.2f} ms")
    for k, (wall, cpu) in throughput(total, 16 << 20).items():
        print(f"{k:36s}: {wall:5.2f} GB/s wall, {cpu:5.2f} GB/s per CPU-second (both parties' work)")


if __name__ == "__main__":
    main()
