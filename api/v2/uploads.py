"""Upload routes: POST /v2/<name>/blobs/uploads/, GET/PATCH/PUT/DELETE .../uploads/<id>."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from api.auth.v2_access import may_mount_from
from api.state import get_driver
from api.v2.responses import empty
from api.v2.streaming import cleanup_in_thread, receive_body
from registry.content import uploads
from registry.content.errors import (
    BlobUploadInvalid,
    DigestInvalid,
    RangeInvalid,
    SizeInvalid,
)
from registry.content.names import validate_digest
from registry.content.ranges import ByteRange, parse_chunk_range, upload_progress
from registry.content.uploads import Upload


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
    mount, source = query.get("mount"), query.get("from")
    if mount and source and await may_mount_from(request, source):
        mounted = await run_in_threadpool(uploads.mount_blob, driver, name, mount, source)
        if mounted:
            return _created(name, mount)
    digest = query.get("digest")
    if digest is not None:
        validate_digest(digest)
    upload = await run_in_threadpool(Upload.create, driver, name)
    if digest is None:
        await run_in_threadpool(upload.close)
        return empty(202, _upload_headers(name, upload.upload_id, 0))
    try:
        await _receive(request, upload, None)
        await run_in_threadpool(upload.complete, digest)
    except BaseException:
        await cleanup_in_thread(upload.cancel)  # nobody knows its id: do not leave it behind
        raise
    return _created(name, digest)


async def upload_status(request: Request, params: dict[str, str]) -> Response:
    name, upload_id = params["name"], params["upload_id"]
    size = await run_in_threadpool(uploads.upload_size, get_driver(request), name, upload_id)
    return empty(204, _upload_headers(name, upload_id, size))


async def patch_upload(request: Request, params: dict[str, str]) -> Response:
    """Append one chunk: with `Content-Range` (must start where the upload ends) or streamed."""
    name, upload_id = params["name"], params["upload_id"]
    chunk = _chunk_range(request)
    upload = await _resume(request, name, upload_id)
    try:
        await _receive(request, upload, chunk)
    finally:
        await cleanup_in_thread(upload.close)
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
    upload = await _resume(request, name, upload_id)
    try:
        await _receive(request, upload, chunk)
    except BaseException:
        await cleanup_in_thread(upload.close)
        raise
    await run_in_threadpool(upload.complete, digest)
    return _created(name, digest)


async def cancel_upload(request: Request, params: dict[str, str]) -> Response:
    name, upload_id = params["name"], params["upload_id"]
    await run_in_threadpool(uploads.cancel_upload, get_driver(request), name, upload_id)
    return empty(204, {"Docker-Upload-UUID": upload_id})


def _chunk_range(request: Request) -> ByteRange | None:
    header = request.headers.get("content-range")
    return parse_chunk_range(header) if header else None


async def _resume(request: Request, name: str, upload_id: str) -> Upload:
    return await run_in_threadpool(Upload.resume, get_driver(request), name, upload_id)


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
    try:
        received = await receive_body(request, upload.write)
    except ClientDisconnect:
        raise BlobUploadInvalid("client disconnected during the upload") from None
    if chunk is not None and received != chunk.length:
        raise SizeInvalid(f"received {received} bytes for a Content-Range of {chunk.length}")


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    if not value.isascii() or not value.isdigit():
        raise SizeInvalid(f"invalid Content-Length: {value!r}")
    return int(value)
