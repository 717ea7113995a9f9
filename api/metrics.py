"""GET /metrics: Prometheus exposition, summed over the worker processes when there are several."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.concurrency import run_in_threadpool

from api.auth.admin import is_admin
from api.metrics_platform import platform_exposition
from api.metrics_uploads import UploadSessions, uploads_exposition
from api.state import AppState, app_state

router = APIRouter(tags=["health"])


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        collected = CollectorRegistry()
        MultiProcessCollector(collected)  # type: ignore[no-untyped-call]
        return collected
    return REGISTRY


def _upload_sessions(request: Request) -> UploadSessions:
    """This process's cached count, made on its first scrape (processes never scraped
    never list the storage)."""
    sessions: UploadSessions | None = getattr(request.app.state, "upload_sessions", None)
    if sessions is None:
        state: AppState = app_state(request)
        sessions = UploadSessions(lambda: state.driver)  # the driver in use at each count
        request.app.state.upload_sessions = sessions
    return sessions


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this instance, the open upload sessions (counted in storage),
    then the platform's (read from the database). With auth on, the usage series per
    namespace (names of the registry's content) are for an admin's credentials only."""
    settings, per_namespace = app_state(request).settings, await is_admin(request)
    platform = await run_in_threadpool(platform_exposition, settings, per_namespace)
    uploads = await run_in_threadpool(uploads_exposition, _upload_sessions(request))
    body = generate_latest(_registry()) + uploads + platform
    return Response(body, media_type=CONTENT_TYPE_LATEST)
