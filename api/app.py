"""The ASGI application: create_app(settings) builds it; nothing is built at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI
from starlette.concurrency import run_in_threadpool

from api import health, metrics
from api.auth.install import install_auth
from api.cluster import InstanceAgent
from api.forwarded import ForwardedMiddleware
from api.lazy_routers import install_lazy_routers
from api.logs import configure_logging
from api.observability import ObservabilityMiddleware
from api.state import AppState
from api.ui import router as ui_router
from api.v1.guard_check import check_guarded
from api.v2.dispatch import dispatch
from registry.config import Settings, load_settings

V2_METHODS = ["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"]
# Included after /v2 in this order: routes are tried, and the OpenAPI paths listed, so.
ROUTERS: list[APIRouter] = [
    health.router,
    metrics.router,
    ui_router,
]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    app = FastAPI(
        title="hth-registry",
        version="0.1.0",
        description="Docker/OCI registry and its maintenance platform.",
        docs_url="/api/docs",
        openapi_url="/api/v1/openapi.json",
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.state.hth = AppState.from_settings(settings)
    # First: pulls and pushes are most of the traffic, and routes are tried in order.
    app.router.add_route("/v2", dispatch, methods=V2_METHODS, include_in_schema=False)
    app.router.add_route("/v2/{path:path}", dispatch, methods=V2_METHODS, include_in_schema=False)
    for router in ROUTERS:
        app.include_router(router)
    install_lazy_routers(app)  # /api/v1, each router with its first request
    install_auth(app, settings)  # after the routers: it documents their errors
    check_guarded(app)  # fail closed: every /api/v1 route is admin-guarded
    # Around auth's body limits: a request they refuse (413, 408) has its log line too.
    app.add_middleware(ObservabilityMiddleware)
    # Outermost: every middleware and route sees the client behind trusted proxies.
    app.add_middleware(ForwardedMiddleware, networks=settings.docker_registry.http.trusted_proxies)
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Join the cluster before serving: the first heartbeat applies any live storage lease."""
    state: AppState = app.state.hth
    agent = InstanceAgent(
        state.settings, state.gate, apply_config=state.apply_generation, gc_guard=state.gc_guard
    )
    try:
        await run_in_threadpool(agent.tick)
    except Exception:  # noqa: BLE001 - serve anyway; the loop keeps trying
        logging.getLogger("hth.cluster").exception("first heartbeat failed")
    await health.report_storage_at_startup(state)
    heartbeat = asyncio.create_task(agent.run())
    try:
        yield
    finally:
        heartbeat.cancel()
        state.driver.close()


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` (several worker processes read $HTH_CONFIG)."""
    settings = load_settings()
    configure_logging(settings.logging)
    return create_app(settings)
