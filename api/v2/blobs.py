"""Blob routes: HEAD/GET/DELETE /v2/<name>/blobs/<digest>."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from api.state import app_state, get_driver
from api.v2.responses import API_VERSION_HEADER, empty, error_response
from api.v2.streaming import read_stream
from registry.content import blobs
from registry.content.ranges import parse_range_request
from registry.errors import RegistryError

# Blobs never change under their digest; Distribution lets caches keep them for a year.
CACHE_CONTROL = "max-age=31536000"


def _blob_headers(digest: str, length: int) -> dict[str, str]:
    return {
        **API_VERSION_HEADER,
        "Docker-Content-Digest": digest,
        "Content-Length": str(length),
        "Content-Type": "application/octet-stream",
        "ETag": f'"{digest}"',
        "Accept-Ranges": "bytes",
        "Cache-Control": CACHE_CONTROL,
    }


async def head_blob(request: Request, params: dict[str, str]) -> Response:
    name, digest = params["name"], params["digest"]
    guard = app_state(request).gc_guard
    try:
        size = await run_in_threadpool(blobs.stat_blob, get_driver(request), name, digest, guard)
    except RegistryError as exc:
        return error_response(exc, head=True)
    return Response(b"", 200, headers=_blob_headers(digest, size))


async def get_blob(request: Request, params: dict[str, str]) -> Response:
    """The blob's bytes (one range of them on `Range`), or a redirect to cloud storage."""
    name, digest, driver = params["name"], params["digest"], get_driver(request)
    guard = app_state(request).gc_guard
    size, url = await run_in_threadpool(blobs.locate_blob, driver, name, digest, guard)
    if url is not None:
        return empty(307, {"Location": url, "Docker-Content-Digest": digest})
    headers = _blob_headers(digest, size)
    if request.headers.get("if-none-match") == headers["ETag"]:
        del headers["Content-Length"]
        return Response(b"", 304, headers=headers)
    byte_range = parse_range_request(request.headers.get("range"), size)
    start, length, status = 0, size, 200
    if byte_range is not None:
        start, length, status = byte_range.start, byte_range.length, 206
        headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{size}"
        headers["Content-Length"] = str(length)
    reader = await run_in_threadpool(blobs.open_blob, driver, digest, start)
    return StreamingResponse(read_stream(reader, length), status, headers=headers)


async def delete_blob(request: Request, params: dict[str, str]) -> Response:
    """Unlink the blob from the repository; garbage collection frees the data later."""
    name, digest = params["name"], params["digest"]
    await run_in_threadpool(blobs.unlink_blob, get_driver(request), name, digest)
    return empty(202)
