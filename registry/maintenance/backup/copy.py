"""Fast file copies for backups and restores: in-kernel copy_file_range with large chunks,
written beside the target and renamed into place, on a pool of threads."""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import shutil
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

CHUNK = 64 * 1024 * 1024  # bytes per copy_file_range call: few syscalls for big layers
BUFFER = 4 * 1024 * 1024  # read buffer where the data passes through Python (hashing)
TEMP_MARK = ".tmp-"
# copy_file_range refuses some pairs of filesystems or file kinds: fall back to read/write.
_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM}


class DigestMismatch(Exception):
    """A file's content does not hash to the digest it is stored under."""

    def __init__(self, path: Path, digest: str, actual: str) -> None:
        super().__init__(f"{path}: content hashes to {actual}, expected {digest}")
        self.path, self.digest, self.actual = path, digest, actual


def temp_beside(target: Path) -> Path:
    return target.with_name(f"{target.name}{TEMP_MARK}{uuid.uuid4().hex[:12]}")


def _kernel_copy(source: int, dest: int) -> None:
    try:
        while os.copy_file_range(source, dest, CHUNK):
            pass
    except OSError as exc:
        if exc.errno not in _NO_KERNEL_COPY:
            raise
        os.lseek(source, 0, os.SEEK_SET)
        os.lseek(dest, 0, os.SEEK_SET)
        os.ftruncate(dest, 0)
        with open(source, "rb", closefd=False) as fin, open(dest, "wb", closefd=False) as fout:
            shutil.copyfileobj(fin, fout, BUFFER)


def _replace(temp: Path, target: Path, mtime: float) -> None:
    os.utime(temp, (mtime, mtime))  # kept as the source had it, like `cp -a`
    os.replace(temp, target)


def copy_file(source: Path, target: Path) -> int:
    """Copy `source` to `target` atomically (readers see no half file); bytes copied."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_beside(target)
    try:
        with open(source, "rb") as fin, open(temp, "wb") as fout:
            _kernel_copy(fin.fileno(), fout.fileno())
            stat = os.fstat(fin.fileno())
        _replace(temp, target, stat.st_mtime)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return stat.st_size


def copy_verified(source: Path, target: Path, digest: str) -> int:
    """Copy while hashing; DigestMismatch (and no target) unless it hashes to `digest`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_beside(target)
    algorithm = digest.partition(":")[0]
    hasher = hashlib.new(algorithm)
    buffer = memoryview(bytearray(BUFFER))
    try:
        with open(source, "rb", buffering=0) as fin, open(temp, "wb", buffering=0) as fout:
            while count := fin.readinto(buffer):
                hasher.update(buffer[:count])
                fout.write(buffer[:count])
            stat = os.fstat(fin.fileno())
        actual = f"{algorithm}:{hasher.hexdigest()}"
        if actual != digest:
            raise DigestMismatch(source, digest, actual)
        _replace(temp, target, stat.st_mtime)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return stat.st_size


def file_digest(path: Path, algorithm: str) -> tuple[str, int]:
    """The digest of a file's content and its size."""
    hasher = hashlib.new(algorithm)
    buffer = memoryview(bytearray(BUFFER))
    size = 0
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            hasher.update(buffer[:count])  # releases the GIL: threads hash in parallel
            size += count
    return f"{algorithm}:{hasher.hexdigest()}", size


def sync_filesystem(path: Path) -> None:
    """Flush the filesystem holding `path` to disk (syncfs, as `sync -f` does; else a full
    sync): what was copied is durable before a manifest or a swap says it is there."""
    try:
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def run_parallel(
    fn: Callable[[T], R], items: Iterable[T], workers: int
) -> Generator[tuple[T, R], None, None]:
    """(item, fn(item)) in completion order, at most `workers` running at once. The caller
    reports progress and may stop between results; an error stops the rest and is raised.
    Use it in `closing(...)`, so that stopping early also waits for the running ones."""
    pending: dict[Future[R], T] = {}
    source = iter(items)
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="hth-backup") as pool:
        try:
            for item in source:
                pending[pool.submit(fn, item)] = item
                if len(pending) >= 2 * workers:
                    yield from _completed(pending, everything=False)
            yield from _completed(pending, everything=True)
        finally:
            for future in pending:
                future.cancel()


def _completed(pending: dict[Future[R], T], everything: bool) -> Iterator[tuple[T, R]]:
    """Results as they complete: one batch, or until nothing is pending."""
    while pending:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            item = pending.pop(future)
            yield item, future.result()
        if not everything:
            return
