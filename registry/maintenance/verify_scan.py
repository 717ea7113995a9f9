"""The scrub's reading half: list the blob store, re-hash blob data through the driver."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from registry import layout
from registry.maintenance.digestset import hex_key, key_digest
from registry.maintenance.throttle import RateLimit
from registry.storage import FileInfo, PathNotFoundError, StorageDriver, StorageError
from registry.storage import StorageUnavailableError as Unavailable

READ_SIZE = 1024 * 1024  # bytes per read: big enough for few calls, small enough to stop soon


@dataclass(frozen=True, slots=True)
class BlobEntry:
    """A blob's data file as the listing saw it; compact, there may be millions."""

    key: bytes
    size: int
    mod_time: datetime

    @property
    def digest(self) -> str:
        return key_digest(self.key)

    @property
    def path(self) -> str:
        return layout.blob_data(self.digest)


@dataclass
class Listing:
    entries: list[BlobEntry] = field(default_factory=list)
    bytes: int = 0
    older: int = 0  # blobs left out by `since`
    odd: list[str] = field(default_factory=list)  # files whose path names no checkable digest


def list_blobs(
    driver: StorageDriver, since: datetime | None, report: Callable[[int], None]
) -> Listing:
    """Every `blobs/<alg>/<xx>/<hex>/data` (modified at or after `since`, when given);
    `report(files_seen)` is called every few thousand files (and may stop the listing)."""
    listing, seen = Listing(), 0
    try:
        for info in driver.walk(layout.BLOBS):
            if info.is_dir:
                continue
            _add(listing, info, since)
            seen += 1
            if seen % 5000 == 0:
                report(seen)
    except PathNotFoundError:
        pass  # an empty registry has no blob store yet
    report(seen)
    return listing


def _add(listing: Listing, info: FileInfo, since: datetime | None) -> None:
    key = _key_of(info.path[len(layout.BLOBS) + 1 :].split("/"))
    if key is None:
        listing.odd.append(info.path)
    elif since is not None and info.mod_time < since:
        listing.older += 1
    else:
        listing.entries.append(BlobEntry(key, info.size, info.mod_time))
        listing.bytes += info.size


def _key_of(parts: list[str]) -> bytes | None:
    if len(parts) != 4 or parts[3] != "data" or parts[2][:2] != parts[1]:
        return None
    return hex_key(parts[0], parts[2])


@dataclass(frozen=True, slots=True)
class Hashed:
    """What re-reading a blob's data found."""

    actual: str | None  # the digest of the bytes read; None when they could not all be read
    size: int  # bytes read
    error: str | None = None  # why the data could not be read to its end
    vanished: bool = False  # gone before it could be read (GC, another scrub): not a problem


Tick = Callable[[int], None]
"""Called with each piece's size as it is read: counts bytes and may raise TaskCancelled."""


def hash_data(
    driver: StorageDriver, path: str, algorithm: str, limit: RateLimit | None, tick: Tick
) -> Hashed:
    """Re-hash the file at `path`. Transient storage errors are raised (the task retries);
    others, and local I/O errors (a bad disk sector), say the data is unreadable."""
    hasher = hashlib.new(algorithm)
    piece = limit.chunk_size(READ_SIZE) if limit is not None else READ_SIZE
    size = 0
    try:
        with driver.reader(path) as reader:
            while data := reader.read(piece):
                if limit is not None:
                    limit.take(len(data))
                hasher.update(data)  # releases the GIL: threads hash in parallel
                size += len(data)
                tick(len(data))
    except PathNotFoundError:
        return Hashed(None, size, vanished=True)
    except (Unavailable, TimeoutError, ConnectionError):
        raise
    except (StorageError, OSError) as exc:
        return Hashed(None, size, error=f"unreadable after {size} bytes: {exc}")
    return Hashed(f"{algorithm}:{hasher.hexdigest()}", size)


def hash_blob(
    driver: StorageDriver, entry: BlobEntry, limit: RateLimit | None, tick: Tick
) -> Hashed:
    return hash_data(driver, entry.path, entry.digest.partition(":")[0], limit, tick)
