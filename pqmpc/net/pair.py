"""Run both parties of a protocol in two threads of one process."""

from __future__ import annotations

import threading

from ..errors import ChannelClosed, ChannelError, ChannelTimeout
from .memory import MemoryChannel


def run_pair(f0, f1, timeout: float | None = None, channels=None):
    """Run ``f0(ch0)`` and ``f1(ch1)`` concurrently; return ``(r0, r1)``.

    If either side raises, both channel ends are closed so that the other
    side's pending receive fails at once instead of hanging, and the first
    real error (not the ``ChannelClosed`` it caused on the other side) is
    re-raised. ``timeout`` bounds the whole run.
    """
    ch0, ch1 = channels if channels is not None else MemoryChannel.pair()
    results: list = [None, None]
    errors: list = [None, None]

    def body(i, f, ch):
        try:
            results[i] = f(ch)
        except BaseException as exc:  # re-raised in the caller's thread
            errors[i] = exc
            ch0.close()
            ch1.close()

    threads = [threading.Thread(target=body, args=(0, f0, ch0), daemon=True, name="pqmpc-party0"),
               threading.Thread(target=body, args=(1, f1, ch1), daemon=True, name="pqmpc-party1")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        if t.is_alive():
            ch0.close()
            ch1.close()
            for u in threads:
                u.join(5.0)
            raise ChannelTimeout(f"protocol run did not finish within {timeout} s")
    ch0.close()
    ch1.close()
    if errors[0] is not None or errors[1] is not None:
        induced = (ChannelClosed,)
        primary = [e for e in errors if e is not None and not isinstance(e, induced)]
        raise (primary or [e for e in errors if e is not None])[0]
    return results[0], results[1]


__all__ = ["run_pair", "ChannelError"]
