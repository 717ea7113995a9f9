"""Words of the summaries people read (GC's "what was kept", the CLI's lines): counts with
their noun in the right number."""

from __future__ import annotations


def plural(count: int, one: str, many: str | None = None) -> str:
    """`1 repository`, `2 repositories`: `many` defaults to `one` + "s"."""
    return f"{count} {one if count == 1 else (many or one + 's')}"
