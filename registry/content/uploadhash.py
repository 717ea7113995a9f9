"""The running SHA-256 of an upload, saved as `hashstates/sha256/<offset>` after each chunk.

States use Go's encoding (registry/hashstate.py), so uploads Distribution started resume
here and the reverse. Without a usable state the hash is rebuilt from the data itself.
"""

from __future__ import annotations

from typing import Protocol

from registry import layout
from registry.hashstate import RESUMABLE, HashStateError, ResumableSha256, new_sha256
from registry.storage import PathNotFoundError, StorageDriver

_READ_CHUNK = 1 << 20


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


def new_hasher() -> Hasher:
    return new_sha256()


def store_hash_state(driver: StorageDriver, name: str, upload_id: str, hasher: Hasher) -> None:
    """Save the state under the offset it has hashed up to (nothing to save for a plain
    hashlib hasher, used only where libcrypto is missing)."""
    if isinstance(hasher, ResumableSha256):
        path = layout.upload_hashstate(name, upload_id, "sha256", hasher.length)
        driver.put_content(path, hasher.marshal())


def resume_hasher(driver: StorageDriver, name: str, upload_id: str, size: int) -> Hasher:
    """A hasher that has seen the first `size` bytes of the upload's data."""
    hasher, offset = _newest_state(driver, name, upload_id, size)
    if offset < size:
        _hash_data(driver, layout.upload_data(name, upload_id), hasher, offset, size)
    return hasher


def _newest_state(
    driver: StorageDriver, name: str, upload_id: str, size: int
) -> tuple[Hasher, int]:
    """The state saved at `size` (one GET: what the previous request left), else the newest
    usable one below it (a write that failed after its state was saved, or lost states)."""
    if not RESUMABLE:
        return new_hasher(), 0
    exact = _load_state(driver, name, upload_id, size)
    if exact is not None:
        return exact, size
    for offset in sorted(_state_offsets(driver, name, upload_id), reverse=True):
        if offset >= size:
            continue  # beyond the data: the data write did not survive
        hasher = _load_state(driver, name, upload_id, offset)
        if hasher is not None:
            return hasher, offset
    return new_hasher(), 0


def _load_state(
    driver: StorageDriver, name: str, upload_id: str, offset: int
) -> ResumableSha256 | None:
    try:
        state = driver.get_content(layout.upload_hashstate(name, upload_id, "sha256", offset))
        hasher = ResumableSha256.unmarshal(state)
    except (PathNotFoundError, HashStateError):
        return None
    return hasher if hasher.length == offset else None


def _state_offsets(driver: StorageDriver, name: str, upload_id: str) -> list[int]:
    try:
        paths = driver.list(layout.upload_hashstates(name, upload_id, "sha256"))
    except PathNotFoundError:
        return []
    names = (path.rpartition("/")[2] for path in paths)
    return [int(n) for n in names if n.isascii() and n.isdigit()]


def _hash_data(driver: StorageDriver, path: str, hasher: Hasher, start: int, end: int) -> None:
    remaining = end - start
    with driver.reader(path, start) as reader:
        while remaining > 0:
            chunk = reader.read(min(_READ_CHUNK, remaining))
            if not chunk:
                break
            hasher.update(chunk)
            remaining -= len(chunk)
