"""Small wording helpers for messages people read."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """``"1 key"``, ``"2 keys"``, ``"1,000 rows"``; ``many`` for an irregular plural (``"matches"``)."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


__all__ = ["plural"]
