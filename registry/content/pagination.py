"""`n`/`last` pagination shared by the tag list and the catalog."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from registry.errors import PaginationInvalid


@dataclass(frozen=True)
class Page:
    items: list[str]
    more: bool  # entries remain after items[-1]


def parse_limit(
    raw: str | None, default: int | None = None, maximum: int | None = None
) -> int | None:
    """`n` as a count: absent or empty gives `default`; not a number, negative or above
    `maximum` is PAGINATION_NUMBER_INVALID (Distribution's rules)."""
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise PaginationInvalid(f"invalid number of results: {raw!r}", detail={"n": raw}) from None
    if value < 0 or (maximum is not None and value > maximum):
        message = f"n must be between 0 and {maximum}" if maximum else "n must not be negative"
        raise PaginationInvalid(message, detail={"n": value})
    return value


def page_of(
    ordered: Iterable[str],
    limit: int | None,
    last: str | None,
    key: Callable[[str], Any] = lambda item: item,
) -> Page:
    """The items after `last` (exclusive) in the already sorted `ordered`, at most `limit`."""
    if limit == 0:
        return Page([], False)
    after = key(last) if last else None
    items: list[str] = []
    for item in ordered:
        if after is not None and key(item) <= after:
            continue
        if limit is not None and len(items) == limit:
            return Page(items, True)
        items.append(item)
    return Page(items, False)
