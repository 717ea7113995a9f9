"""Blob uploads in Distribution's layout: `_uploads/<uuid>/{startedat,data,hashstates/}`.

Storage is the only truth: every request reopens the upload, resumes the SHA-256 from the
newest stored hash state and saves the state again when it is done, so any registry process
sharing the storage can take the next chunk. Methods here are sync; call them in a thread.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime

from registry import layout
from registry.content.errors import BlobUploadUnknown, DigestInvalid, RegistryError
from registry.content.links import blob_size, link_blob, linked_blob_size
from registry.content.names import validate_digest, validate_name
from registry.content.repositories import is_deleted
from registry.content.uploadhash import Hasher, new_hasher, resume_hasher, store_hash_state
from registry.storage import FileWriter, PathNotFoundError, StorageDriver

_UPLOAD_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_READ_CHUNK = 1 << 20


def validate_upload_id(upload_id: str) -> str:
    """Upload ids are lowercase UUIDs; anything else (a path, say) is an unknown upload."""
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise BlobUploadUnknown(detail={"uuid": upload_id})
    return upload_id


def started_at_text(now: datetime | None = None) -> str:
    """RFC 3339 in UTC, seconds precision: what Distribution's time.RFC3339 writes."""
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Upload:
    """One request's handle on an upload: appends, then close() or complete() or cancel()."""

    def __init__(
        self, driver: StorageDriver, name: str, upload_id: str, writer: FileWriter, hasher: Hasher
    ) -> None:
        self.driver = driver
        self.name = name
        self.upload_id = upload_id
        self._writer = writer
        self._hasher = hasher
        self._open = True

    @classmethod
    def create(cls, driver: StorageDriver, name: str) -> Upload:
        upload_id = str(uuid.uuid4())
        driver.put_content(layout.upload_started_at(name, upload_id), started_at_text().encode())
        writer = driver.writer(layout.upload_data(name, upload_id), append=False)
        return cls(driver, name, upload_id, writer, new_hasher())

    @classmethod
    def resume(cls, driver: StorageDriver, name: str, upload_id: str) -> Upload:
        require_upload(driver, name, upload_id)
        writer = driver.writer(layout.upload_data(name, upload_id), append=True)
        try:
            hasher = resume_hasher(driver, name, upload_id, writer.size)
        except BaseException:
            writer.close()
            raise
        return cls(driver, name, upload_id, writer, hasher)

    @property
    def size(self) -> int:
        return self._writer.size

    def write(self, data: bytes) -> None:
        self._writer.write(data)
        self._hasher.update(data)

    def close(self) -> None:
        """Save the hash state for the bytes written so far and release the writer."""
        if not self._open:
            return
        self._open = False
        try:
            store_hash_state(self.driver, self.name, self.upload_id, self._hasher)
        finally:
            self._writer.close()

    def complete(self, digest: str) -> int:
        """Turn the upload into blob `digest` linked into the repository; returns its size.

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
        if self._digest_of_data(digest.partition(":")[0]) != digest:
            self.cancel()
            raise DigestInvalid(detail={"digest": digest, "reason": "content does not match"})
        data = layout.upload_data(self.name, self.upload_id)
        if blob_size(self.driver, digest) is None:
            self.driver.move(data, layout.blob_data(digest))
        link_blob(self.driver, self.name, digest)
        self.driver.delete(layout.upload_dir(self.name, self.upload_id))
        return size

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


def upload_size(driver: StorageDriver, name: str, upload_id: str) -> int:
    """Bytes received so far (the writer knows, whatever the driver buffers)."""
    require_upload(driver, name, upload_id)
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


def mount_blob(driver: StorageDriver, name: str, digest: str, source: str) -> bool:
    """Link blob `digest` of repository `source` into `name`; False when it cannot be."""
    try:
        validate_digest(digest)
        validate_name(source)
    except RegistryError:
        return False
    if linked_blob_size(driver, source, digest) is None or is_deleted(driver, source):
        return False
    link_blob(driver, name, digest)
    return True
