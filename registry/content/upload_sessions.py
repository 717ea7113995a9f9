"""What the upload path needs from the shared state of upload sessions: one writer at a time.

A request that writes an upload (PATCH, PUT, DELETE) holds it exclusively from before its
first byte to its answer; the holder commits the size it wrote, fenced by its token. The
implementation lives where every instance sharing the storage sees it (the database:
`registry/cluster/upload_locks.py`).
"""

from __future__ import annotations

from typing import Protocol

from registry.content.ranges import upload_progress
from registry.errors import BlobUploadInvalid, RangeInvalid, RegistryError


class UploadBusy(RangeInvalid):
    """Another request is writing this upload now: the chunk cannot be placed (416)."""

    def __init__(self, name: str, upload_id: str, committed: int | None) -> None:
        super().__init__(
            f"upload {upload_id} is being written by another request; retry when it has ended",
            detail={"uuid": upload_id},
        )
        self.headers.update(
            {"Location": f"/v2/{name}/blobs/uploads/{upload_id}", "Docker-Upload-UUID": upload_id}
        )
        if committed is not None:
            self.headers["Range"] = upload_progress(committed)


class UploadBusyConflict(BlobUploadInvalid):
    """The same refusal for a DELETE, where a range means nothing: 409 Conflict."""

    status = 409


class UploadLockLost(RegistryError):
    """This request's hold on the upload ended before it finished (the holder was too slow
    to renew it, or the database was unreachable): nothing it wrote counts."""

    code, status = "BLOB_UPLOAD_INVALID", 409
    default_message = "the upload's write lock was lost before the request ended; retry"


class Hold(Protocol):
    """One request's exclusive hold on an upload session."""

    @property
    def committed(self) -> int | None:
        """Bytes committed before this hold (None: unknown, take the storage's size)."""

    def check(self) -> None:
        """Raise UploadLockLost unless the hold is still certainly ours."""

    def commit(self, size: int) -> None:
        """Take `size` good bytes as the upload's new size; written when the hold is
        released, in the same UPDATE, fenced by the hold's token."""

    def release(self) -> None:
        """Let the next request in (idempotent); UploadLockLost when a commit could not be
        written because the hold had ended."""


class UploadSessions(Protocol):
    def register(self, name: str, upload_id: str) -> None:
        """A new, empty session that nobody holds."""

    def acquire(self, name: str, upload_id: str) -> Hold:
        """Hold the session, or raise UploadBusy at once when another request does."""

    def committed(self, name: str, upload_id: str) -> int | None:
        """Bytes committed so far (None: unknown or no record)."""

    def forget(self, name: str, upload_id: str) -> None:
        """Drop the record of a finished or cancelled session."""
