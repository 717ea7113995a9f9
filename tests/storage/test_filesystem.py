"""The filesystem driver beyond the shared suite: atomic puts, hidden temp files, and writers
that only ever write to the file they opened, while it is at its path."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest

from registry.storage import StorageDriver, StorageError, create_driver
from registry.storage.filesystem import writer as filesystem_writer


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


def test_a_write_after_the_file_moved_away_never_reaches_it(fs: StorageDriver) -> None:
    writer = fs.writer("/uploads/u/data")
    writer.write(b"blob content")
    fs.move("/uploads/u/data", "/blobs/b/data")
    with pytest.raises(StorageError, match="moved"):
        writer.write(b"late bytes")
    with pytest.raises(StorageError, match="moved"):
        writer.commit()
    with pytest.raises(StorageError, match="moved"):
        writer.rollback()
    writer.close()
    assert fs.get_content("/blobs/b/data") == b"blob content"
    assert fs.list("/uploads/u") == []


def test_a_write_after_the_path_was_taken_by_a_new_file_leaves_both_alone(
    fs: StorageDriver,
) -> None:
    old = fs.writer("/uploads/u/data")
    old.write(b"old;")
    fs.move("/uploads/u/data", "/blobs/b/data")
    with fs.writer("/uploads/u/data") as new:
        new.write(b"new;")
        with pytest.raises(StorageError):
            old.write(b"stray")
        old.cancel()  # the path is no longer its file: nothing is deleted
        new.commit()
    assert fs.get_content("/blobs/b/data") == b"old;"
    assert fs.get_content("/uploads/u/data") == b"new;"


def test_bytes_written_as_the_file_moves_away_are_taken_back_out(
    fs: StorageDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The move lands between the writer's check of the path and its write: a race that
    # cannot be timed for real, so the write itself is made to move the file first.
    writer = fs.writer("/uploads/u/data")
    writer.write(b"blob content")
    real_write = filesystem_writer._write_all

    def move_then_write(fd: int, data: bytes) -> None:
        fs.move("/uploads/u/data", "/blobs/b/data")
        real_write(fd, data)

    monkeypatch.setattr(filesystem_writer, "_write_all", move_then_write)
    with pytest.raises(StorageError, match="moved"):
        writer.write(b"late bytes")
    writer.close()
    assert fs.get_content("/blobs/b/data") == b"blob content"


def test_a_writer_refuses_to_write_after_bytes_another_writer_added(fs: StorageDriver) -> None:
    first = fs.writer("/uploads/u/data")
    first.write(b"first;")
    with fs.writer("/uploads/u/data", append=True) as second:
        second.write(b"second;")
    with pytest.raises(StorageError, match="another writer"):
        first.write(b"interleaved")
    first.close()
    assert fs.get_content("/uploads/u/data") == b"first;second;"


def test_a_rollback_cuts_back_what_a_full_disk_left_half_written(
    fs: StorageDriver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A full disk cannot be had on cue either: the write fails after half of its bytes.
    with fs.writer("/uploads/u/data") as writer:
        writer.write(b"kept;")
    writer = fs.writer("/uploads/u/data", append=True)

    def half_then_full(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(filesystem_writer, "_write_all", half_then_full)
    with pytest.raises(StorageError, match="No space left"):
        writer.write(b"0123456789")
    assert writer.size == 5
    assert (tmp_path / "root" / "uploads" / "u" / "data").read_bytes() == b"kept;"
    monkeypatch.undo()
    writer.write(b"more")  # the writer goes on from where it was
    writer.rollback()
    assert fs.get_content("/uploads/u/data") == b"kept;"
