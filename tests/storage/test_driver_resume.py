"""Conformance: writer(path, append=True, size=N) resumes at exactly N bytes, for every driver.

A registry process killed in the middle of a write leaves behind what no close() or commit()
accounted for: S3 and OSS parts, Azure blocks, GCS parts, Swift segments, filesystem bytes.
A resume at the size of the last close drops them for good.
"""

from __future__ import annotations

import os

import pytest

from registry.storage import FileWriter, InvalidOffsetError, PathNotFoundError, StorageDriver
from registry.storage.base import CheckedWriter
from tests.storage.conftest import Backend


def abandon(writer: FileWriter) -> None:
    """Leave `writer` as a killed process leaves its write: what it sent stays, nothing is
    closed or rolled back. Its parts still on the wire are waited for (in a killed process
    they land or die with it); the bytes it held back are lost."""
    inner = writer.inner if isinstance(writer, CheckedWriter) else writer
    in_flight = getattr(inner, "in_flight", None)
    if in_flight is not None:
        in_flight.drain()


def closed_file(storage: StorageDriver, path: str, data: bytes) -> None:
    with storage.writer(path) as writer:
        writer.write(data)


def committed_content(storage: StorageDriver, path: str, size: int) -> bytes:
    """Resume `path` without a size, check it resumes at `size`, commit it and read it."""
    with storage.writer(path, append=True) as writer:
        assert writer.size == size
        writer.commit()
    return storage.get_content(path)


@pytest.mark.parametrize("then", ["commit", "close, resume and commit"])
def test_resume_at_size_drops_what_an_abandoned_writer_sent(
    backend: Backend, root: str, then: str
) -> None:
    storage, part, path = backend.driver, backend.part_size, f"{root}/upload"
    first = os.urandom(part + part // 3)
    closed_file(storage, path, first)
    killed = storage.writer(path, append=True)
    for _ in range(3):
        killed.write(os.urandom(part))  # several parts sent
    killed.write(b"held back")
    abandon(killed)
    second = os.urandom(part + 7)
    with storage.writer(path, append=True, size=len(first)) as writer:
        assert writer.size == len(first)
        writer.write(second)
        assert writer.size == len(first) + len(second)
        if then == "commit":
            writer.commit()
    if then == "commit":
        assert storage.get_content(path) == first + second
    else:
        assert committed_content(storage, path, len(first) + len(second)) == first + second


def test_resume_at_size_after_an_abandoned_writer_of_a_committed_file(
    backend: Backend, root: str
) -> None:
    storage, part, path = backend.driver, backend.part_size, f"{root}/file"
    first = os.urandom(part + part // 3)
    with storage.writer(path) as writer:
        writer.write(first)
        writer.commit()
    killed = storage.writer(path, append=True)
    killed.write(os.urandom(2 * part + 5))
    abandon(killed)
    with storage.writer(path, append=True, size=len(first)) as writer:
        writer.write(b"second")
    assert committed_content(storage, path, len(first) + 6) == first + b"second"


@pytest.mark.parametrize("tail", [1000, "a third of a part"])
def test_resume_at_the_previous_close_drops_the_last_one(
    backend: Backend, root: str, tail: int | str
) -> None:
    # A request closed its writer but failed to record it (the upload's hash state): the next
    # one resumes where the close before ended. A tail of 1000 bytes is under every minimum
    # part size (S3's 5 MiB, OSS's 100 KiB), so the next writer's first part holds it.
    storage, part, path = backend.driver, backend.part_size, f"{root}/upload"
    first = os.urandom(part + (tail if isinstance(tail, int) else part // 3))
    closed_file(storage, path, first)
    with storage.writer(path, append=True) as writer:
        writer.write(os.urandom(2 * part + 5))
    with storage.writer(path, append=True):
        pass  # a status request in between opens a writer to learn the size
    with storage.writer(path, append=True, size=len(first)) as writer:
        assert writer.size == len(first)
        writer.write(b"third")
    assert committed_content(storage, path, len(first) + 5) == first + b"third"


def test_resume_at_size_zero_starts_the_file_again(backend: Backend, root: str) -> None:
    storage, part, path = backend.driver, backend.part_size, f"{root}/upload"
    closed_file(storage, path, os.urandom(part + part // 3))
    killed = storage.writer(path, append=True)
    killed.write(os.urandom(2 * part))
    abandon(killed)
    with storage.writer(path, append=True, size=0) as writer:
        assert writer.size == 0
        writer.write(b"anew")
    assert committed_content(storage, path, 4) == b"anew"


def test_resume_at_the_size_of_an_untouched_file_changes_nothing(
    backend: Backend, root: str
) -> None:
    storage, part, path = backend.driver, backend.part_size, f"{root}/upload"
    first = os.urandom(2 * part + part // 3)
    closed_file(storage, path, first)
    with storage.writer(path, append=True, size=len(first)) as writer:
        assert writer.size == len(first)
    assert committed_content(storage, path, len(first)) == first


def test_resume_beyond_the_data_is_refused_and_changes_nothing(backend: Backend, root: str) -> None:
    storage, part, path = backend.driver, backend.part_size, f"{root}/upload"
    first = os.urandom(part + part // 3)
    closed_file(storage, path, first)
    with pytest.raises(InvalidOffsetError):
        storage.writer(path, append=True, size=len(first) + 1)
    with pytest.raises(InvalidOffsetError):
        storage.writer(f"{root}/missing", append=True, size=10)
    with pytest.raises(PathNotFoundError):
        storage.stat(f"{root}/missing")
    assert committed_content(storage, path, len(first)) == first


def test_resume_inside_a_part_cuts_there_or_is_refused_changing_nothing(
    backend: Backend, root: str
) -> None:
    # Every close ends a part (or a tail the driver keeps apart): a size inside a part was
    # never the end of a close, and only a driver that can cut anywhere takes it.
    storage, part, path = backend.driver, backend.part_size, f"{root}/upload"
    data = os.urandom(2 * part + part // 3)
    closed_file(storage, path, data)
    inside = part // 2
    if backend.case.cuts_anywhere:
        with storage.writer(path, append=True, size=inside) as writer:
            assert writer.size == inside
        assert committed_content(storage, path, inside) == data[:inside]
        return
    with pytest.raises(InvalidOffsetError):
        storage.writer(path, append=True, size=inside)
    assert committed_content(storage, path, len(data)) == data


def test_resume_at_a_negative_size_is_refused(storage: StorageDriver, root: str) -> None:
    with pytest.raises(InvalidOffsetError):
        storage.writer(f"{root}/upload", append=True, size=-1)
