"""Manifest routes: GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>.

GET and HEAD make one trip to the thread pool: the tag or revision link, then the bytes
(cached by digest), then Accept negotiation (rules in registry/content/negotiation.py).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api.state import app_state, get_driver
from api.v2.responses import API_VERSION_HEADER
from registry.content import manifests
from registry.content.manifest_cache import ManifestCache, StoredManifest
from registry.content.names import is_digest
from registry.content.negotiation import negotiate
from registry.errors import ManifestTooLarge
from registry.storage import StorageDriver

_CACHE_ATTRIBUTE = "hth_manifest_cache"


def manifest_cache(request: Request) -> ManifestCache:
    """The process-wide manifest cache, created with the first request that needs it."""
    state = request.app.state
    cache: ManifestCache | None = getattr(state, _CACHE_ATTRIBUTE, None)
    if cache is None:
        cache = ManifestCache()
        setattr(state, _CACHE_ATTRIBUTE, cache)
    return cache


def accepted_types(request: Request) -> frozenset[str] | None:
    """Media types named in every Accept header (q-values ignored, as Distribution does);
    None when the client sent none or accepts anything."""
    types = set()
    for value in request.headers.getlist("accept"):
        for item in value.split(","):
            media_type = item.split(";", 1)[0].strip().lower()
            if media_type:
                types.add(media_type)
    if not types or "*/*" in types:
        return None
    return frozenset(types)


def _read(
    driver: StorageDriver,
    name: str,
    reference: str,
    accepted: frozenset[str] | None,
    cache: ManifestCache,
) -> StoredManifest:
    digest = manifests.resolve(driver, name, reference)
    manifest = manifests.load(driver, digest, cache)
    return negotiate(driver, name, manifest, accepted, not is_digest(reference), cache)


async def _serve(request: Request, params: dict[str, str], head: bool) -> Response:
    name, reference = params["name"], params["reference"]
    accepted = accepted_types(request)
    cache = manifest_cache(request)
    manifest = await run_in_threadpool(_read, get_driver(request), name, reference, accepted, cache)
    etag = f'"{manifest.digest}"'
    headers = {**API_VERSION_HEADER, "Docker-Content-Digest": manifest.digest, "ETag": etag}
    if request.headers.get("if-none-match") in (etag, manifest.digest):
        return Response(b"", 304, headers=headers)
    headers["Content-Length"] = str(len(manifest.body))
    body = b"" if head else manifest.body
    return Response(body, 200, headers=headers, media_type=manifest.media_type)


async def get_manifest(request: Request, params: dict[str, str]) -> Response:
    return await _serve(request, params, head=False)


async def head_manifest(request: Request, params: dict[str, str]) -> Response:
    return await _serve(request, params, head=True)


async def put_manifest(request: Request, params: dict[str, str]) -> Response:
    name, reference = params["name"], params["reference"]
    manifests.split_reference(reference)  # TAG_INVALID / DIGEST_INVALID before the body
    body = await read_body(request, manifests.MAX_MANIFEST_BYTES)
    pushed = await run_in_threadpool(
        manifests.put_manifest,
        get_driver(request),
        name,
        reference,
        body,
        request.headers.get("content-type"),
        manifest_cache(request),
        app_state(request).tag_guard,
        app_state(request).gc_guard,
    )
    headers = {
        **API_VERSION_HEADER,
        "Location": f"/v2/{name}/manifests/{pushed.digest}",
        "Docker-Content-Digest": pushed.digest,
    }
    if pushed.subject is not None:
        headers["OCI-Subject"] = pushed.subject
    return Response(b"", 201, headers=headers)


async def delete_manifest(request: Request, params: dict[str, str]) -> Response:
    name, reference = params["name"], params["reference"]
    driver, cache = get_driver(request), manifest_cache(request)
    guard = app_state(request).tag_guard
    await run_in_threadpool(manifests.delete_manifest, driver, name, reference, cache, guard)
    return Response(b"", 202, headers=dict(API_VERSION_HEADER))


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it exceeds `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ManifestTooLarge()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ManifestTooLarge()
    return bytes(body)
