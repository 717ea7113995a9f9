"""Byte-range parsing for blob GETs and upload chunks."""

from __future__ import annotations

import pytest

from registry.content.ranges import (
    ByteRange,
    parse_chunk_range,
    parse_range_request,
    upload_progress,
)
from registry.errors import BlobUploadInvalid, RangeInvalid


@pytest.mark.parametrize(("size", "header"), [(0, "0-0"), (1, "0-0"), (2, "0-1"), (1000, "0-999")])
def test_upload_progress_is_distributions_range(size: int, header: str) -> None:
    assert upload_progress(size) == header


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("0-99", ByteRange(0, 99)),
        ("100-100", ByteRange(100, 100)),
        ("bytes 5-9/10", ByteRange(5, 9)),
        ("bytes=5-9", ByteRange(5, 9)),
        ("5-9/*", ByteRange(5, 9)),
    ],
)
def test_chunk_ranges_clients_send_are_understood(header: str, expected: ByteRange) -> None:
    assert parse_chunk_range(header) == expected


@pytest.mark.parametrize("header", ["", "5", "-5", "a-b", "5-", "1-2-3", "1" * 30 + "-2"])
def test_malformed_chunk_range_is_blob_upload_invalid(header: str) -> None:
    with pytest.raises(BlobUploadInvalid):
        parse_chunk_range(header)


def test_backwards_chunk_range_is_range_invalid() -> None:
    with pytest.raises(RangeInvalid):
        parse_chunk_range("9-3")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", ByteRange(0, 9)),
        ("bytes=90-", ByteRange(90, 99)),
        ("bytes=-10", ByteRange(90, 99)),
        ("bytes=-1000", ByteRange(0, 99)),
        ("bytes=50-5000", ByteRange(50, 99)),
        ("BYTES = 1-2", ByteRange(1, 2)),
    ],
)
def test_single_ranges_resolve_against_the_size(header: str, expected: ByteRange) -> None:
    assert parse_range_request(header, 100) == expected


@pytest.mark.parametrize("header", [None, "bytes=0-1,4-5", "lines=0-5"])
def test_no_multi_or_foreign_ranges_means_the_whole_blob(header: str | None) -> None:
    assert parse_range_request(header, 100) is None


@pytest.mark.parametrize(
    ("header", "size"),
    [("bytes=100-", 100), ("bytes=200-300", 100), ("bytes=-0", 100), ("bytes=-5", 0),
     ("bytes=0-", 0), ("bytes=x-1", 100), ("bytes=9-3", 100), ("bytes=-", 100)],
)  # fmt: skip
def test_unsatisfiable_ranges_name_the_size(header: str, size: int) -> None:
    with pytest.raises(RangeInvalid) as raised:
        parse_range_request(header, size)
    assert raised.value.headers["Content-Range"] == f"bytes */{size}"
