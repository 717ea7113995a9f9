"""The filesystem driver beyond the shared suite: atomic puts and hidden temp files."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from registry.storage import StorageDriver, StorageError, create_driver


@pytest.fixture()
def fs(tmp_path: Path) -> StorageDriver:
    return create_driver("filesystem", {"rootdirectory": str(tmp_path / "root")})


def local_entries(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_put_content_leaves_no_temp_file(fs: StorageDriver, tmp_path: Path) -> None:
    fs.put_content("/repo/link", b"sha256:abc")
    fs.put_content("/repo/link", b"sha256:def")
    assert local_entries(tmp_path / "root") == ["repo", "repo/link"]


def test_put_content_never_shows_a_partial_file(fs: StorageDriver, tmp_path: Path) -> None:
    target = tmp_path / "root" / "big"
    fs.put_content("/big", b"a" * 4_000_000)
    stop = threading.Event()
    seen: set[int] = set()

    def watch() -> None:
        while not stop.is_set():
            seen.add(len(target.read_bytes()))

    watcher = threading.Thread(target=watch)
    watcher.start()
    for fill in (b"b", b"c", b"d"):
        fs.put_content("/big", fill * 4_000_000)
    stop.set()
    watcher.join()
    assert seen == {4_000_000}


def test_temp_files_are_hidden_from_list_and_walk(fs: StorageDriver, tmp_path: Path) -> None:
    fs.put_content("/dir/file", b"x")
    (tmp_path / "root" / "dir" / ".tmp-file.0123").write_bytes(b"half written")
    assert fs.list("/dir") == ["/dir/file"]
    assert [info.path for info in fs.walk("/")] == ["/dir", "/dir/file"]


def test_put_content_under_a_file_fails_cleanly(fs: StorageDriver, tmp_path: Path) -> None:
    fs.put_content("/file", b"x")
    with pytest.raises(StorageError):
        fs.put_content("/file/below", b"y")
    with pytest.raises(StorageError):
        fs.writer("/file/below")
    assert local_entries(tmp_path / "root") == ["file"]


def test_writer_on_a_directory_fails_cleanly(fs: StorageDriver) -> None:
    fs.put_content("/dir/file", b"x")
    with pytest.raises(StorageError):
        fs.writer("/dir")
    with pytest.raises(StorageError):
        fs.put_content("/dir", b"y")


def test_rootdirectory_is_created(tmp_path: Path) -> None:
    create_driver("filesystem", {"rootdirectory": str(tmp_path / "new" / "root")})
    assert os.path.isdir(tmp_path / "new" / "root")
