"""What the filesystem driver and its writer both use: OS errors as storage errors, parent
directories made, files removed if there."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager

from registry.storage.driver import StorageError


@contextmanager
def os_errors(op: str, path: str) -> Iterator[None]:
    """Report what the OS refused (a directory in the way, a full disk) as a storage error."""
    try:
        yield
    except OSError as exc:
        raise StorageError(f"{op} {path}: {exc.strerror or exc}", path=path) from exc


def make_parent(target: str, path: str) -> None:
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise StorageError(f"a parent of {path} is a file", path=path) from None


def unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise
