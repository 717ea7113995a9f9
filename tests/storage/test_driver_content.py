"""Conformance: whole-file content, readers at offsets, stat and redirect URLs, for every driver."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from registry.storage import (
    InvalidOffsetError,
    PathNotFoundError,
    StorageDriver,
)
from tests.storage.conftest import Backend

MiB = 1024 * 1024


@pytest.mark.parametrize(
    "data",
    [b"", b"hello, registry", os.urandom(MiB), bytes(range(256)) * 3 + b"\xff\xfe\x80"],
    ids=["empty", "text", "1MiB", "non-utf8"],
)
def test_put_content_then_get_content_returns_the_same_bytes(
    storage: StorageDriver, root: str, data: bytes
) -> None:
    storage.put_content(f"{root}/dir/file", data)
    assert storage.get_content(f"{root}/dir/file") == data


def test_put_content_overwrites_existing_content(storage: StorageDriver, root: str) -> None:
    storage.put_content(f"{root}/file", b"first version, longer")
    storage.put_content(f"{root}/file", b"second")
    assert storage.get_content(f"{root}/file") == b"second"


def test_get_content_of_missing_path_raises_path_not_found(
    storage: StorageDriver, root: str
) -> None:
    with pytest.raises(PathNotFoundError):
        storage.get_content(f"{root}/missing")


def test_get_content_of_a_directory_raises_path_not_found(
    storage: StorageDriver, root: str
) -> None:
    storage.put_content(f"{root}/dir/file", b"x")
    with pytest.raises(PathNotFoundError):
        storage.get_content(f"{root}/dir")


@pytest.mark.parametrize("offset", [0, 1, 5000, 9999, 10000])
def test_reader_starts_at_the_offset(storage: StorageDriver, root: str, offset: int) -> None:
    data = os.urandom(10000)
    storage.put_content(f"{root}/file", data)
    with storage.reader(f"{root}/file", offset) as reader:
        assert reader.read() == data[offset:]


def test_reader_reads_in_small_pieces(storage: StorageDriver, root: str) -> None:
    data = os.urandom(3 * MiB + 17)
    storage.put_content(f"{root}/file", data)
    pieces = []
    with storage.reader(f"{root}/file", 100) as reader:
        while piece := reader.read(65536):
            pieces.append(piece)
    assert b"".join(pieces) == data[100:]


@pytest.mark.parametrize("offset", [11, 1000, -1])
def test_reader_outside_the_file_raises_invalid_offset(
    storage: StorageDriver, root: str, offset: int
) -> None:
    storage.put_content(f"{root}/file", b"0123456789")
    with pytest.raises(InvalidOffsetError):
        storage.reader(f"{root}/file", offset)


def test_reader_of_missing_path_raises_path_not_found(storage: StorageDriver, root: str) -> None:
    with pytest.raises(PathNotFoundError):
        storage.reader(f"{root}/missing", 0)
    with pytest.raises(PathNotFoundError):
        storage.reader(f"{root}/missing", 10)


def test_stat_of_a_file_gives_its_size_and_a_recent_time(storage: StorageDriver, root: str) -> None:
    before = datetime.now(UTC) - timedelta(minutes=5)
    storage.put_content(f"{root}/dir/file", b"12345")
    info = storage.stat(f"{root}/dir/file")
    assert (info.path, info.size, info.is_dir) == (f"{root}/dir/file", 5, False)
    assert info.mod_time.tzinfo is not None
    assert before < info.mod_time < datetime.now(UTC) + timedelta(minutes=5)


def test_stat_of_a_directory_says_it_is_one(storage: StorageDriver, root: str) -> None:
    storage.put_content(f"{root}/dir/sub/file", b"12345")
    for directory in (root, f"{root}/dir", f"{root}/dir/sub"):
        info = storage.stat(directory)
        assert (info.path, info.is_dir) == (directory, True)
    assert storage.stat("/").is_dir


def test_stat_of_missing_path_raises_path_not_found(storage: StorageDriver, root: str) -> None:
    storage.put_content(f"{root}/file", b"x")
    for missing in (f"{root}/missing", f"{root}/fil", f"{root}/file/below"):
        with pytest.raises(PathNotFoundError):
            storage.stat(missing)


def test_redirect_url_serves_the_content_or_is_none(backend: Backend, root: str) -> None:
    storage = backend.driver
    storage.put_content(f"{root}/blob/data", b"redirected content")
    url = storage.redirect_url(f"{root}/blob/data")
    if not backend.case.redirects:
        assert url is None
        return
    assert url is not None
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    assert response.content == b"redirected content"
