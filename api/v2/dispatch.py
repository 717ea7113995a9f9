"""One regex table routes every /v2/ request (repository names contain slashes).

Handlers are thin: parse the request, call the content model, return a response. Typed
registry errors become OCI error bodies here, once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api.auth.v2_access import audit_v2, authorize_v2
from api.cluster import READ_METHODS
from api.state import app_state, get_driver
from api.v2 import base, blobs, catalog, manifests, referrers, tags, uploads
from api.v2.responses import error_response
from registry.content.names import validate_name
from registry.content.repositories import deleted_repositories
from registry.errors import NameUnknown, RegistryError, Unavailable, Unsupported
from registry.storage import StorageError, StorageUnavailableError

log = logging.getLogger("hth.api")

Handler = Callable[[Request, dict[str, str]], Awaitable[Response]]


@dataclass(frozen=True)
class V2Route:
    label: str  # low-cardinality name for metrics and logs
    pattern: re.Pattern[str]
    methods: dict[str, Handler]


def _route(label: str, pattern: str, **methods: Handler) -> V2Route:
    return V2Route(label, re.compile(pattern), {m.upper(): h for m, h in methods.items()})


_NAME = r"(?P<name>.+?)"
ROUTES: list[V2Route] = [
    _route("base", r"/v2/?", get=base.version_check, head=base.version_check),
    _route("catalog", r"/v2/_catalog", get=catalog.list_repositories),
    _route("tags", rf"/v2/{_NAME}/tags/list", get=tags.list_tags),
    _route(
        "manifest",
        rf"/v2/{_NAME}/manifests/(?P<reference>[^/]+)",
        get=manifests.get_manifest,
        head=manifests.head_manifest,
        put=manifests.put_manifest,
        delete=manifests.delete_manifest,
    ),
    _route("upload_start", rf"/v2/{_NAME}/blobs/uploads/?", post=uploads.start_upload),
    _route(
        "upload",
        rf"/v2/{_NAME}/blobs/uploads/(?P<upload_id>[^/]+)",
        get=uploads.upload_status,
        patch=uploads.patch_upload,
        put=uploads.finish_upload,
        delete=uploads.cancel_upload,
    ),
    _route(
        "blob",
        rf"/v2/{_NAME}/blobs/(?P<digest>[^/]+)",
        get=blobs.get_blob,
        head=blobs.head_blob,
        delete=blobs.delete_blob,
    ),
    _route("referrers", rf"/v2/{_NAME}/referrers/(?P<digest>[^/]+)", get=referrers.list_referrers),
]


def route_label(path: str) -> str:
    found = match(path)
    return found[0].label if found else "unknown"


def match(path: str) -> tuple[V2Route, dict[str, str]] | None:
    for route in ROUTES:
        found = route.pattern.fullmatch(path)
        if found:
            return route, found.groupdict()
    return None


async def dispatch(request: Request) -> Response:
    """The single Starlette endpoint behind every /v2/ path."""
    try:
        done = app_state(request).gate.admit(request.method)
    except RegistryError as exc:
        return error_response(exc)
    try:
        # Keys an online GC must keep while this request is in flight (docs/gc.md).
        with app_state(request).gc_guard.request_scope():
            response = await _answer(request)
    finally:
        done()
    after_answer = getattr(request.state, "after_answer", None)
    if after_answer is not None:  # a read's refresh of the soft-deleted view, put off till now
        response.background = after_answer
    return response


async def _answer(request: Request) -> Response:
    try:
        return await _dispatch(request)
    except RegistryError as exc:
        return error_response(exc)
    except StorageUnavailableError as exc:
        log.warning("storage unavailable on %s %s: %s", request.method, request.url.path, exc)
        return error_response(Unavailable("storage backend unavailable"))
    except StorageError:
        # Not worth a retry by itself (e.g. refused credentials), but still the backend's
        # fault, not the request's: clients get 503 UNAVAILABLE, operators the traceback.
        log.exception("storage failure on %s %s", request.method, request.url.path)
        return error_response(Unavailable("storage backend failed"))


async def _dispatch(request: Request) -> Response:
    found = match(request.url.path)
    if found is None:
        raise NameUnknown("unknown registry endpoint")
    route, params = found
    handler = route.methods.get(request.method)
    if handler is None:
        raise Unsupported(f"method {request.method} not allowed on this endpoint")
    await authorize_v2(request, route.label, params)  # 401/403 before anything is read
    if "name" in params:
        validate_name(params["name"])
        await _refuse_deleted(request, params["name"])
    response = await handler(request, params)
    await audit_v2(request, route.label, params, response)
    return response


async def _refuse_deleted(request: Request, name: str) -> None:
    """A soft-deleted repository is unknown to every request, pushes included, until GC
    has removed it: nothing new can land in what GC is about to delete (docs/gc.md).

    A write waits for a fresh view. A read answers from the view it has, unless that is too
    old, and re-reads it once its answer is sent: a pull neither waits for a listing of the
    storage nor shares the CPU with one.
    """
    deleted = deleted_repositories(get_driver(request))
    if deleted.stale():
        if request.method in READ_METHODS and not deleted.too_old_to_read():
            request.state.after_answer = BackgroundTask(deleted.refresh_in_background)
        else:
            await run_in_threadpool(deleted.refresh)
    if deleted.contains(name):
        raise NameUnknown(f"repository {name} was deleted", detail={"name": name})
