"""Conformance: concurrent writers and readers, for every driver."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from registry.storage import StorageDriver

KiB = 1024


def test_concurrent_writers_to_different_paths(storage: StorageDriver, root: str) -> None:
    contents = {f"{root}/w{index}/data": os.urandom(300 * KiB + index) for index in range(8)}

    def write(path: str) -> None:
        data = contents[path]
        with storage.writer(path) as writer:
            for start in range(0, len(data), 64 * KiB):
                writer.write(data[start : start + 64 * KiB])
            writer.commit()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, contents))
    for path, data in contents.items():
        assert storage.get_content(path) == data


def test_concurrent_put_content_to_one_path_never_shows_a_mix(
    storage: StorageDriver, root: str
) -> None:
    path = f"{root}/link"
    versions = [bytes([index]) * (256 * KiB) for index in range(4)]
    storage.put_content(path, versions[0])

    def put(index: int) -> None:
        for _ in range(5):
            storage.put_content(path, versions[index % len(versions)])

    def read(_: int) -> list[bytes]:
        return [storage.get_content(path) for _ in range(10)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        writes = [pool.submit(put, index) for index in range(4)]
        reads = [pool.submit(read, index) for index in range(4)]
        for future in writes:
            future.result()
        seen = [content for future in reads for content in future.result()]
    assert all(content in versions for content in seen)
    assert storage.get_content(path) in versions
