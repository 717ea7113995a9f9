"""Conformance: streamed writes (commit, resume with append, cancel), for every driver.

Between close() and commit() what a reader sees at the path is unspecified (the filesystem
shows the bytes so far, S3 nothing or a partial object); only the resumed size and the
committed content are part of the contract.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tracemalloc

import pytest

from registry.storage import PathNotFoundError, StorageDriver, StorageError
from testbed.processes import REPO_ROOT
from tests.storage.conftest import Backend

MiB = 1024 * 1024


def write_all(storage: StorageDriver, path: str, pieces: list[bytes], append: bool = False) -> int:
    with storage.writer(path, append=append) as writer:
        for piece in pieces:
            assert writer.write(piece) == len(piece)
        writer.commit()
        return writer.size


def test_writer_commit_makes_the_content_readable(storage: StorageDriver, root: str) -> None:
    pieces = [b"abc", b"", os.urandom(1000), b"\x00\xff"]
    size = write_all(storage, f"{root}/upload/data", pieces)
    assert size == sum(map(len, pieces))
    assert storage.get_content(f"{root}/upload/data") == b"".join(pieces)


def test_writer_committed_with_nothing_written_leaves_an_empty_file(
    storage: StorageDriver, root: str
) -> None:
    assert write_all(storage, f"{root}/empty", []) == 0
    assert storage.get_content(f"{root}/empty") == b""
    assert storage.stat(f"{root}/empty").size == 0


def test_writer_size_counts_every_write(storage: StorageDriver, root: str) -> None:
    with storage.writer(f"{root}/file") as writer:
        assert writer.size == 0
        writer.write(b"x" * 10)
        writer.write(b"y" * 5)
        assert writer.size == 15
        writer.commit()


def test_new_writer_replaces_existing_content(storage: StorageDriver, root: str) -> None:
    storage.put_content(f"{root}/file", b"old content that is longer")
    assert write_all(storage, f"{root}/file", [b"new"]) == 3
    assert storage.get_content(f"{root}/file") == b"new"


def test_append_writer_continues_after_committed_content(storage: StorageDriver, root: str) -> None:
    write_all(storage, f"{root}/file", [b"first;"])
    with storage.writer(f"{root}/file", append=True) as writer:
        assert writer.size == 6
        writer.write(b"second")
        assert writer.size == 12
        writer.commit()
    assert storage.get_content(f"{root}/file") == b"first;second"


def test_append_writer_resumes_a_write_closed_without_commit(
    storage: StorageDriver, root: str
) -> None:
    with storage.writer(f"{root}/upload") as writer:
        writer.write(b"part one;")
    for piece in (b"part two;", b"part three"):
        with storage.writer(f"{root}/upload", append=True) as writer:
            writer.write(piece)
    with storage.writer(f"{root}/upload", append=True) as writer:
        assert writer.size == len(b"part one;part two;part three")
        writer.commit()
    assert storage.get_content(f"{root}/upload") == b"part one;part two;part three"


def test_append_resumes_across_part_boundaries(storage: StorageDriver, root: str) -> None:
    # Sizes straddle S3's 5 MiB minimum part and GCS's 256 KiB chunk: tails of every size.
    pieces = [os.urandom(5 * MiB + 3), os.urandom(100), os.urandom(6 * MiB), os.urandom(300_000)]
    expected = hashlib.sha256()
    for index, piece in enumerate(pieces):
        with storage.writer(f"{root}/upload", append=index > 0) as writer:
            assert writer.size == sum(map(len, pieces[:index]))
            writer.write(piece)
            expected.update(piece)
    with storage.writer(f"{root}/upload", append=True) as writer:
        writer.commit()
    assert storage.stat(f"{root}/upload").size == sum(map(len, pieces))
    assert hashlib.sha256(storage.get_content(f"{root}/upload")).digest() == expected.digest()


def test_append_continues_after_put_content(storage: StorageDriver, root: str) -> None:
    first = os.urandom(5 * MiB + 10)  # above S3's part minimum: copied, not re-read
    storage.put_content(f"{root}/small", b"small;")
    storage.put_content(f"{root}/large", first)
    for name, start in (("small", b"small;"), ("large", first)):
        with storage.writer(f"{root}/{name}", append=True) as writer:
            assert writer.size == len(start)
            writer.write(b"appended")
            writer.commit()
        assert storage.get_content(f"{root}/{name}") == start + b"appended"


RESUME_IN_CHILD = """
import json, sys
from registry.storage import create_driver
name, settings, path = json.loads(sys.argv[1])
driver = create_driver(name, settings)
with driver.writer(path, append=True) as writer:
    sys.stdout.write(str(writer.size))
    writer.write(bytes(range(256)) * 4096)
"""


def test_append_resumes_a_write_in_another_process(backend: Backend, root: str) -> None:
    storage, path = backend.driver, f"{root}/upload"
    with storage.writer(path) as writer:
        writer.write(b"x" * (5 * MiB + 1))
    name = backend.case.driver or backend.name
    child = subprocess.run(
        [sys.executable, "-c", RESUME_IN_CHILD, json.dumps([name, backend.settings, path])],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
        timeout=120,
    )
    assert child.stdout == str(5 * MiB + 1).encode()
    with storage.writer(path, append=True) as writer:
        assert writer.size == 5 * MiB + 1 + MiB
        writer.commit()
    assert storage.get_content(path) == b"x" * (5 * MiB + 1) + bytes(range(256)) * 4096


def test_append_to_a_missing_path_starts_an_empty_file(storage: StorageDriver, root: str) -> None:
    with storage.writer(f"{root}/new", append=True) as writer:
        assert writer.size == 0
        writer.write(b"data")
        writer.commit()
    assert storage.get_content(f"{root}/new") == b"data"


def test_cancel_discards_the_write(storage: StorageDriver, root: str) -> None:
    with storage.writer(f"{root}/upload") as writer:
        writer.write(os.urandom(6 * MiB))
        writer.cancel()
    with pytest.raises(PathNotFoundError):
        storage.stat(f"{root}/upload")


def test_cancel_of_a_resumed_write_discards_the_file(storage: StorageDriver, root: str) -> None:
    with storage.writer(f"{root}/upload") as writer:
        writer.write(b"some bytes")
    with storage.writer(f"{root}/upload", append=True) as writer:
        writer.write(b"more")
        writer.cancel()
    with pytest.raises(PathNotFoundError):
        storage.stat(f"{root}/upload")


def test_writer_refuses_writes_after_commit(storage: StorageDriver, root: str) -> None:
    with storage.writer(f"{root}/file") as writer:
        writer.write(b"x")
        writer.commit()
        with pytest.raises(StorageError):
            writer.write(b"y")
        with pytest.raises(StorageError):
            writer.commit()
    assert storage.get_content(f"{root}/file") == b"x"


def test_large_streamed_write_and_read_never_hold_the_file_in_memory(
    storage: StorageDriver, root: str
) -> None:
    expected, actual = hashlib.sha256(), hashlib.sha256()
    piece = os.urandom(MiB)
    tracemalloc.start()
    try:
        with storage.writer(f"{root}/big") as writer:
            for index in range(32):
                chunk = bytes([index]) + piece[1:]
                writer.write(chunk)
                expected.update(chunk)
            writer.commit()
        with storage.reader(f"{root}/big") as reader:
            while chunk := reader.read(MiB):
                actual.update(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert storage.stat(f"{root}/big").size == 32 * MiB
    assert actual.hexdigest() == expected.hexdigest()
    assert peak < 16 * MiB  # a part or two in flight, never the 32 MiB file
