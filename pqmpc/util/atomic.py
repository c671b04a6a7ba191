"""Write files atomically: a temporary file in the same folder, then rename.

A crash, a killed process or a lost peer leaves either the old file or
the complete new one, never a half-written file. An interrupted command-line
run (``pqmpc.util.interrupt``) removes both the temporary file and the new one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

from . import interrupt


@contextlib.contextmanager
def atomic_open(path: str, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None):
    folder = os.path.dirname(os.path.abspath(path)) or "."
    with interrupt.file_lock():
        fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(path) + ".", dir=folder)
        interrupt.remove_on_interrupt(tmp)
    try:
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": newline}
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        with interrupt.file_lock():
            os.replace(tmp, path)
            interrupt.keep_on_interrupt(tmp)
            interrupt.remove_on_interrupt(path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        interrupt.keep_on_interrupt(tmp)
        raise


def atomic_write_text(path: str, text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)
