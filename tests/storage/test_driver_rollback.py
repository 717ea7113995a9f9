"""Conformance: rollback() takes back everything a writer wrote, for every driver.

A request that fails half-way rolls its writer back instead of closing it: the file stays as
the writer found it (an empty file for a new writer), and writer(path, append=True) resumes at
the size the rolled-back writer started from. Sizes are counted in the driver's own parts
(S3 parts, Azure blocks, GCS parts, Swift segments, OSS parts), so that a rolled-back write
has sent whole parts, or only held bytes back, or both.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from registry.storage import FileWriter, StorageDriver, StorageError
from tests.storage.conftest import Backend

# How much the rolled-back writer writes, in parts of the driver.
WRITTEN: dict[str, Callable[[int], int]] = {
    "exactly a part": lambda part: part,
    "less than a part": lambda part: part // 2 + 1,
    "several parts and a tail": lambda part: 2 * part + 1000,
}


def write_in_pieces(writer: FileWriter, data: bytes, piece: int) -> None:
    """`data` in writes of `piece` bytes, as a request body arrives."""
    for start in range(0, len(data), piece):
        assert writer.write(data[start : start + piece]) == len(data[start : start + piece])


def resume_and_commit(storage: StorageDriver, path: str, size: int, more: bytes) -> None:
    """Resume `path`, check it resumes at `size`, add `more` and commit."""
    with storage.writer(path, append=True) as writer:
        assert writer.size == size
        writer.write(more)
        writer.commit()


@pytest.mark.parametrize("written", list(WRITTEN))
def test_rollback_of_a_new_writer_leaves_an_empty_file(
    backend: Backend, root: str, written: str
) -> None:
    storage, part = backend.driver, backend.part_size
    storage.put_content(f"{root}/older", b"a file the new writer replaces")
    for path in (f"{root}/new", f"{root}/older"):
        writer = storage.writer(path)
        write_in_pieces(writer, os.urandom(WRITTEN[written](part)), part // 3 + 1)
        writer.rollback()
        resume_and_commit(storage, path, 0, b"after")
        assert storage.get_content(path) == b"after"


@pytest.mark.parametrize("written", list(WRITTEN))
def test_rollback_of_an_appending_writer_keeps_what_it_started_from(
    backend: Backend, root: str, written: str
) -> None:
    storage, part, path = backend.driver, backend.part_size, f"{root}/upload"
    first = os.urandom(part + part // 3)  # the appending writer starts inside a part
    with storage.writer(path) as writer:
        write_in_pieces(writer, first, part // 2)
    writer = storage.writer(path, append=True)
    assert writer.size == len(first)
    write_in_pieces(writer, os.urandom(WRITTEN[written](part)), part // 3 + 1)
    writer.rollback()
    after = os.urandom(part // 4)
    resume_and_commit(storage, path, len(first), after)
    assert storage.get_content(path) == first + after


def test_rollback_of_a_writer_appending_to_a_committed_file_keeps_the_file(
    backend: Backend, root: str
) -> None:
    storage, part, path = backend.driver, backend.part_size, f"{root}/file"
    first = os.urandom(part + part // 3)
    with storage.writer(path) as writer:
        writer.write(first)
        writer.commit()
    writer = storage.writer(path, append=True)
    write_in_pieces(writer, os.urandom(WRITTEN["several parts and a tail"](part)), part)
    writer.rollback()
    assert storage.get_content(path) == first
    resume_and_commit(storage, path, len(first), b"after")
    assert storage.get_content(path) == first + b"after"


def test_rollbacks_in_a_row_each_resume_at_the_same_size(storage: StorageDriver, root: str) -> None:
    # One rollback after another, each on a writer resumed from the previous state.
    path = f"{root}/upload"
    with storage.writer(path) as writer:
        writer.write(b"kept;")
    for _ in range(3):
        writer = storage.writer(path, append=True)
        writer.write(os.urandom(1000))
        writer.rollback()
    resume_and_commit(storage, path, 5, b"end")
    assert storage.get_content(path) == b"kept;end"


def test_rollback_after_close_changes_nothing(storage: StorageDriver, root: str) -> None:
    path = f"{root}/upload"
    writer = storage.writer(path)
    writer.write(b"closed")
    writer.close()
    writer.rollback()
    resume_and_commit(storage, path, 6, b";more")
    assert storage.get_content(path) == b"closed;more"


def test_a_rolled_back_writer_takes_nothing_more(storage: StorageDriver, root: str) -> None:
    path = f"{root}/upload"
    with storage.writer(path) as writer:
        writer.write(b"before")
    writer = storage.writer(path, append=True)
    writer.write(b" dropped")
    writer.rollback()
    with pytest.raises(StorageError):
        writer.write(b"more")
    with pytest.raises(StorageError):
        writer.commit()
    writer.rollback()  # a second rollback, and the close of a with block, do nothing
    writer.close()
    resume_and_commit(storage, path, 6, b"")
    assert storage.get_content(path) == b"before"


def test_rollback_of_a_committed_or_cancelled_writer_is_refused(
    storage: StorageDriver, root: str
) -> None:
    with storage.writer(f"{root}/committed") as writer:
        writer.write(b"final")
        writer.commit()
        with pytest.raises(StorageError):
            writer.rollback()
    assert storage.get_content(f"{root}/committed") == b"final"
    writer = storage.writer(f"{root}/cancelled")
    writer.write(b"gone")
    writer.cancel()
    with pytest.raises(StorageError):
        writer.rollback()
