"""Blob uploads in Distribution's layout: `_uploads/<uuid>/{startedat,data,hashstates/}`.

Every request reopens the upload at the size the last successful request committed (kept
with its session: registry/content/upload_sessions.py), resumes the SHA-256 from the hash
state stored at that offset and, when its body is all in, stores the data, then the new state,
then commits the new size; a request that fails rolls its bytes back. So any registry process
sharing the storage can take the next chunk, one request at a time, and the data moved into
the blob store is exactly what the hash describes. Methods here are sync; call them in a thread.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from datetime import UTC, datetime

from registry import layout
from registry.content.gc_guard import NO_GUARD, GCGuard, repository_key
from registry.content.links import blob_size, link_blob, linked_blob_size
from registry.content.names import validate_digest, validate_name
from registry.content.repositories import is_deleted
from registry.content.upload_sessions import Hold
from registry.content.uploadhash import Hasher, new_hasher, resume_hasher, store_hash_state
from registry.errors import BlobUploadUnknown, DigestInvalid, RegistryError
from registry.storage import FileWriter, InvalidOffsetError, PathNotFoundError, StorageDriver

_UPLOAD_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_READ_CHUNK = 1 << 20

log = logging.getLogger("hth.content")


def validate_upload_id(upload_id: str) -> str:
    """Upload ids are lowercase UUIDs; anything else (a path, say) is an unknown upload."""
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise BlobUploadUnknown(detail={"uuid": upload_id})
    return upload_id


def started_at_text(now: datetime | None = None) -> str:
    """RFC 3339 in UTC, seconds precision: what Distribution's time.RFC3339 writes."""
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Upload:
    """One request's handle on an upload: appends, then save(), rollback(), complete() or
    cancel(). A resumed upload is written under a Hold (one writer per session)."""

    def __init__(
        self,
        driver: StorageDriver,
        name: str,
        upload_id: str,
        writer: FileWriter,
        hasher: Hasher,
        hold: Hold | None = None,
    ) -> None:
        self.driver = driver
        self.name = name
        self.upload_id = upload_id
        self._writer = writer
        self._hasher = hasher
        self._hold = hold
        self._open = True

    @classmethod
    def create(cls, driver: StorageDriver, name: str) -> Upload:
        """A new session; nobody else knows its id until it is answered, so no hold."""
        upload_id = str(uuid.uuid4())
        driver.put_content(layout.upload_started_at(name, upload_id), started_at_text().encode())
        writer = driver.writer(layout.upload_data(name, upload_id), append=False)
        return cls(driver, name, upload_id, writer, new_hasher())

    @classmethod
    def resume(cls, driver: StorageDriver, name: str, upload_id: str, hold: Hold) -> Upload:
        """Reopen the session at the size its last successful request committed: whatever a
        request that failed or died wrote after that is dropped by the driver."""
        require_upload(driver, name, upload_id)
        path = layout.upload_data(name, upload_id)
        committed = hold.committed
        try:
            writer = driver.writer(path, append=True, size=committed)
        except InvalidOffsetError:
            # Less data than its requests committed: lost in storage; the client starts anew.
            raise BlobUploadUnknown(
                "the upload's data is shorter than what it acknowledged; start a new upload",
                detail={"uuid": upload_id},
            ) from None
        try:
            hasher = resume_hasher(driver, name, upload_id, writer.size)
            if committed is None:  # a session without a record: adopt what is stored
                hold.commit(writer.size)
        except BaseException:
            writer.close()
            raise
        return cls(driver, name, upload_id, writer, hasher, hold)

    @property
    def size(self) -> int:
        return self._writer.size

    def write(self, data: bytes) -> None:
        if self._hold is not None:
            self._hold.check()  # a request whose hold ran out must not write another byte
        self._writer.write(data)
        self._hasher.update(data)

    def save(self) -> None:
        """Keep what this request wrote: store it, then its hash state, then commit its size
        under the hold (the commit is what makes the bytes count; a new session has none)."""
        if not self._open:
            return
        self._open = False
        self._writer.close()
        store_hash_state(self.driver, self.name, self.upload_id, self._hasher)
        if self._hold is not None:
            self._hold.commit(self.size)

    def rollback(self) -> None:
        """Drop what this request wrote: the session is as the request found it."""
        if self._open:
            self._open = False
            self._writer.rollback()

    def complete(self, digest: str, guard: GCGuard = NO_GUARD) -> int:
        """Turn the upload into blob `digest` linked into the repository; returns its size.
        The guard comes before looking for an existing copy: one an online GC is deleting is
        replaced by this upload's data, one it has not started on is kept by it.

        A digest that does not match the data cancels the upload (DIGEST_INVALID), as
        Distribution does: the same bytes would never match it later either.
        """
        validate_digest(digest)
        self._open = False
        try:
            self._writer.commit()
        finally:
            self._writer.close()
        size = self.size
        data = layout.upload_data(self.name, self.upload_id)
        try:
            stored = self.driver.stat(data).size
        except PathNotFoundError:
            stored = -1  # gone: nothing to move
        if stored != size or self._digest_of_data(digest.partition(":")[0]) != digest:
            self.cancel()
            reason = "content does not match" if stored == size else "stored size differs"
            raise DigestInvalid(detail={"digest": digest, "reason": reason})
        guard.protect([digest, repository_key(self.name)])
        if self._hold is not None:
            self._hold.check()  # still the only writer: nobody appended since the hash
        self._place_blob(data, digest, size)
        link_blob(self.driver, self.name, digest)
        self.driver.delete(layout.upload_dir(self.name, self.upload_id))
        return size

    def _place_blob(self, data: str, digest: str, size: int) -> None:
        """Move the verified data into the blob store, unless a good copy is there already;
        a copy of another size cannot be this digest's content: it is replaced."""
        existing = blob_size(self.driver, digest)
        if existing == size:
            return
        if existing is not None:
            log.warning(
                "blob %s held %d bytes instead of %d: replaced by a verified upload to %s",
                digest,
                existing,
                size,
                self.name,
            )
        self.driver.move(data, layout.blob_data(digest))

    def cancel(self) -> None:
        if self._open:
            self._open = False
            self._writer.close()
        delete_upload_dir(self.driver, self.name, self.upload_id)

    def _digest_of_data(self, algorithm: str) -> str:
        if algorithm == "sha256":
            return f"sha256:{self._hasher.hexdigest()}"
        # Other algorithms are rare enough to be worth one more read of the data.
        hasher = hashlib.new(algorithm)
        with self.driver.reader(layout.upload_data(self.name, self.upload_id)) as reader:
            while chunk := reader.read(_READ_CHUNK):
                hasher.update(chunk)
        return f"{algorithm}:{hasher.hexdigest()}"


def require_upload(driver: StorageDriver, name: str, upload_id: str) -> None:
    """BLOB_UPLOAD_UNKNOWN unless upload `upload_id` exists in repository `name`."""
    validate_upload_id(upload_id)
    try:
        driver.stat(layout.upload_started_at(name, upload_id))
    except PathNotFoundError:
        raise BlobUploadUnknown(detail={"uuid": upload_id}) from None


def upload_size(driver: StorageDriver, name: str, upload_id: str, committed: int | None) -> int:
    """Bytes the session holds: what its requests committed, else (a session without a
    record) what the storage holds (the writer knows, whatever the driver buffers)."""
    require_upload(driver, name, upload_id)
    if committed is not None:
        return committed
    with driver.writer(layout.upload_data(name, upload_id), append=True) as writer:
        return writer.size


def cancel_upload(driver: StorageDriver, name: str, upload_id: str) -> None:
    require_upload(driver, name, upload_id)
    delete_upload_dir(driver, name, upload_id)


def delete_upload_dir(driver: StorageDriver, name: str, upload_id: str) -> None:
    try:
        driver.delete(layout.upload_dir(name, upload_id))
    except PathNotFoundError:
        pass  # cancelled concurrently: the outcome is the same


def mount_blob(
    driver: StorageDriver, name: str, digest: str, source: str, guard: GCGuard = NO_GUARD
) -> bool:
    """Link blob `digest` of repository `source` into `name`; False when it cannot be (the
    client then uploads it), as when an online GC deleted it a moment ago."""
    try:
        validate_digest(digest)
        validate_name(source)
    except RegistryError:
        return False
    guard.protect([digest, repository_key(name)])
    if linked_blob_size(driver, source, digest) is None or is_deleted(driver, source):
        return False
    link_blob(driver, name, digest)
    return True
