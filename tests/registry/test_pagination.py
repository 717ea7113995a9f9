"""`n`/`last` parsing and paging shared by the tag list and the catalog."""

from __future__ import annotations

import pytest

from registry.content.pagination import Page, page_of, parse_limit
from registry.errors import PaginationInvalid

ITEMS = ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, 7), ("", 7), ("0", 0), ("3", 3), ("1000", 1000)]
)
def test_parse_limit_accepts_counts_up_to_the_maximum(raw: str | None, expected: int) -> None:
    assert parse_limit(raw, default=7, maximum=1000) == expected


@pytest.mark.parametrize("raw", ["-1", "x", "2.5", "1001"])
def test_parse_limit_refuses_what_is_not_a_count_in_range(raw: str) -> None:
    with pytest.raises(PaginationInvalid):
        parse_limit(raw, maximum=1000)


def test_page_of_without_limit_is_everything_after_last() -> None:
    assert page_of(ITEMS, None, None) == Page(ITEMS, False)
    assert page_of(ITEMS, None, "b") == Page(["c", "d"], False)
    assert page_of(ITEMS, None, "bb") == Page(["c", "d"], False)


def test_page_of_marks_whether_more_remain() -> None:
    assert page_of(ITEMS, 2, None) == Page(["a", "b"], True)
    assert page_of(ITEMS, 2, "b") == Page(["c", "d"], False)
    assert page_of(ITEMS, 0, None) == Page([], False)
