"""Conformance: every operation refuses malformed paths with InvalidPathError, for every driver."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from registry.storage import InvalidPathError, StorageDriver

BAD_PATHS = [
    "",
    "relative/path",
    "/a/../b",
    "/a/./b",
    "/..",
    "/a//b",
    "/a/",
    "/with space",
    "/question?mark",
    "/back\\slash",
    "/ümlaut",
    "/new\nline",
]

OPERATIONS: dict[str, Callable[[StorageDriver, str], object]] = {
    "get_content": lambda s, p: s.get_content(p),
    "put_content": lambda s, p: s.put_content(p, b"x"),
    "reader": lambda s, p: s.reader(p, 0),
    "writer": lambda s, p: s.writer(p),
    "stat": lambda s, p: s.stat(p),
    "list": lambda s, p: s.list(p),
    "move_source": lambda s, p: s.move(p, "/valid/dest"),
    "move_dest": lambda s, p: s.move("/valid/source", p),
    "delete": lambda s, p: s.delete(p),
    "walk": lambda s, p: list(s.walk(p)),
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_malformed_paths_are_refused(storage: StorageDriver, root: str, operation: str) -> None:
    for path in BAD_PATHS:
        with pytest.raises(InvalidPathError):
            OPERATIONS[operation](storage, path)


@pytest.mark.parametrize("operation", ["get_content", "put_content", "writer", "delete"])
def test_root_is_not_a_file(storage: StorageDriver, root: str, operation: str) -> None:
    with pytest.raises(InvalidPathError):
        OPERATIONS[operation](storage, "/")


def test_unusual_but_valid_names_work(storage: StorageDriver, root: str) -> None:
    path = f"{root}/A-Z_a.z-0.9/...dots/-dash/_under"
    storage.put_content(path, b"ok")
    assert storage.get_content(path) == b"ok"
