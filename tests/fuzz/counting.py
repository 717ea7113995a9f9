"""How many fuzz cases ran, by family; the total is printed at the end of the session."""

from __future__ import annotations

from collections import Counter

CASES: Counter[str] = Counter()


def count(family: str) -> None:
    CASES[family] += 1
