"""Upload routes: POST /v2/<name>/blobs/uploads/, GET/PATCH/PUT/DELETE .../uploads/<id>.

A request that writes a session (PATCH, PUT, DELETE) holds it exclusively from before its
first byte to its answer; a second one meanwhile is refused at once and writes nothing. A
chunk is all-or-nothing: a body shorter or longer than its `Content-Range`, one that stalls,
or any failure while writing leaves the session as it was. Only a streamed PATCH (no
`Content-Range`) cut off by the client keeps what arrived, as Distribution does, so that the
client can resume from the `Range` it is told.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from api.auth.v2_access import may_mount_from
from api.state import app_state, get_driver
from api.v2.responses import empty
from api.v2.streaming import (
    BodyStalled,
    BodyTooLong,
    cleanup_in_thread,
    receive_body,
)
from registry.content import uploads
from registry.content.gc_guard import repository_key, upload_key
from registry.content.names import validate_digest
from registry.content.ranges import ByteRange, parse_chunk_range, upload_progress
from registry.content.upload_sessions import Hold, UploadBusy, UploadBusyConflict
from registry.content.uploads import Upload
from registry.errors import (
    BlobUploadInvalid,
    DigestInvalid,
    RangeInvalid,
    SizeInvalid,
)


class UploadInterrupted(BlobUploadInvalid):
    default_message = "client disconnected during the upload"


class UploadStalled(BlobUploadInvalid):
    status = 408


def _upload_headers(name: str, upload_id: str, size: int) -> dict[str, str]:
    return {
        "Location": f"/v2/{name}/blobs/uploads/{upload_id}",
        "Docker-Upload-UUID": upload_id,
        "Range": upload_progress(size),
    }


def _created(name: str, digest: str) -> Response:
    headers = {"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest}
    return empty(201, headers)


async def start_upload(request: Request, params: dict[str, str]) -> Response:
    """POST: a cross-repository mount, a whole blob (`?digest=`), or a new upload session."""
    name, query, driver = params["name"], request.query_params, get_driver(request)
    guard = app_state(request).gc_guard
    mount, source = query.get("mount"), query.get("from")
    if mount and source and await may_mount_from(request, source):
        mounted = await run_in_threadpool(uploads.mount_blob, driver, name, mount, source, guard)
        if mounted:
            return _created(name, mount)
    digest = query.get("digest")
    if digest is not None:
        validate_digest(digest)
    # The session's folder must not go with a repository an online GC finds empty.
    await run_in_threadpool(guard.protect, [repository_key(name)])
    upload = await run_in_threadpool(Upload.create, driver, name)
    try:
        # Before anything is written into it: a GC that found it stale must keep it now.
        await run_in_threadpool(guard.protect, [upload_key(upload.upload_id)])
        if digest is None:
            await run_in_threadpool(upload.save)
            sessions = app_state(request).upload_sessions
            await run_in_threadpool(sessions.register, name, upload.upload_id)
            return empty(202, _upload_headers(name, upload.upload_id, 0))
        await _receive(request, upload, None)
        await run_in_threadpool(upload.complete, digest, guard)
    except BaseException:
        await cleanup_in_thread(upload.cancel)  # nobody knows its id: do not leave it behind
        raise
    return _created(name, digest)


async def upload_status(request: Request, params: dict[str, str]) -> Response:
    name, upload_id = params["name"], params["upload_id"]
    uploads.validate_upload_id(upload_id)
    sessions = app_state(request).upload_sessions
    committed = await run_in_threadpool(sessions.committed, name, upload_id)
    size = await run_in_threadpool(
        uploads.upload_size, get_driver(request), name, upload_id, committed
    )
    return empty(204, _upload_headers(name, upload_id, size))


async def patch_upload(request: Request, params: dict[str, str]) -> Response:
    """Append one chunk: with `Content-Range` (must start where the upload ends) or streamed."""
    name, upload_id = params["name"], params["upload_id"]
    chunk = _chunk_range(request)
    async with _held(request, name, upload_id) as hold:
        upload = await _resume(request, name, upload_id, hold)
        try:
            await _receive(request, upload, chunk)
        except UploadInterrupted:
            # A streamed chunk keeps what arrived (the client resumes from Range); one with a
            # Content-Range is all or nothing.
            await cleanup_in_thread(upload.rollback if chunk else upload.save)
            raise
        except BaseException:
            await cleanup_in_thread(upload.rollback)
            raise
        await run_in_threadpool(upload.save)
    return empty(202, _upload_headers(name, upload_id, upload.size))


async def finish_upload(request: Request, params: dict[str, str]) -> Response:
    """PUT ?digest=: append an optional last chunk, check the digest, make it a blob."""
    name, upload_id = params["name"], params["upload_id"]
    uploads.validate_upload_id(upload_id)
    digest = request.query_params.get("digest")
    if not digest:
        raise DigestInvalid("digest missing", detail={"digest": digest})
    validate_digest(digest)
    chunk = _chunk_range(request)
    sessions = app_state(request).upload_sessions
    async with _held(request, name, upload_id) as hold:
        upload = await _resume(request, name, upload_id, hold)
        try:
            await _receive(request, upload, chunk)
        except BaseException:
            await cleanup_in_thread(upload.rollback)
            raise
        try:
            await run_in_threadpool(upload.complete, digest, app_state(request).gc_guard)
        except DigestInvalid:
            await run_in_threadpool(sessions.forget, name, upload_id)  # the upload is gone
            raise
    await run_in_threadpool(sessions.forget, name, upload_id)
    return _created(name, digest)


async def cancel_upload(request: Request, params: dict[str, str]) -> Response:
    name, upload_id = params["name"], params["upload_id"]
    sessions = app_state(request).upload_sessions
    try:
        async with _held(request, name, upload_id):
            await run_in_threadpool(uploads.cancel_upload, get_driver(request), name, upload_id)
    except UploadBusy as busy:
        raise UploadBusyConflict(busy.message, detail=busy.detail) from None
    await run_in_threadpool(sessions.forget, name, upload_id)
    return empty(204, {"Docker-Upload-UUID": upload_id})


@asynccontextmanager
async def _held(request: Request, name: str, upload_id: str) -> AsyncIterator[Hold]:
    """Hold the session for the whole request (UploadBusy at once when another one does).
    An online GC keeps the session's folder from here on, or has purged it already."""
    uploads.validate_upload_id(upload_id)
    keys = [upload_key(upload_id), repository_key(name)]
    await run_in_threadpool(app_state(request).gc_guard.protect, keys)
    await run_in_threadpool(uploads.require_upload, get_driver(request), name, upload_id)
    sessions = app_state(request).upload_sessions
    hold = await run_in_threadpool(sessions.acquire, name, upload_id)
    try:
        yield hold
    finally:
        await cleanup_in_thread(hold.release)


def _chunk_range(request: Request) -> ByteRange | None:
    header = request.headers.get("content-range")
    return parse_chunk_range(header) if header else None


async def _resume(request: Request, name: str, upload_id: str, hold: Hold) -> Upload:
    return await run_in_threadpool(Upload.resume, get_driver(request), name, upload_id, hold)


async def _receive(request: Request, upload: Upload, chunk: ByteRange | None) -> None:
    """Stream the body into the upload after checking it against `Content-Range` and
    `Content-Length`; a range not starting at the upload's end is RANGE_INVALID (416)."""
    declared = _content_length(request)
    if chunk is not None:
        if chunk.start != upload.size:
            error = RangeInvalid(f"chunk starts at {chunk.start}, upload holds {upload.size}")
            error.headers.update(_upload_headers(upload.name, upload.upload_id, upload.size))
            raise error
        if declared is not None and declared != chunk.length:
            raise SizeInvalid(f"Content-Length {declared} but Content-Range of {chunk.length}")
    limit = chunk.length if chunk is not None else None
    idle = app_state(request).upload_idle_timeout
    try:
        received = await receive_body(request, upload.write, limit=limit, idle_timeout=idle)
    except ClientDisconnect:
        raise UploadInterrupted() from None
    except BodyTooLong:
        raise SizeInvalid(f"body longer than its Content-Range of {limit} bytes") from None
    except BodyStalled:
        raise UploadStalled(f"no byte of the body arrived for {idle:g} s") from None
    if chunk is not None and received != chunk.length:
        raise SizeInvalid(f"received {received} bytes for a Content-Range of {chunk.length}")


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    if not value.isascii() or not value.isdigit():
        raise SizeInvalid(f"invalid Content-Length: {value!r}")
    return int(value)
