"""The /api/v1 routers, each imported and added with the first request under its prefix.

An HTTP worker that serves pulls and pushes never builds the API's routes and their models
(3.3 MiB of it, docs/benchmarks.md "Footprint"). The table is an alias table in the
manner of Celery's backends: prefix -> module whose `router` serves it, imported when first
asked for. Each router passes the guard check (api/v1/guard_check.py) before its routes are
added, so a route that bypasses the admin check is never served; the OpenAPI document loads
every router first, and lists them in the table's order.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from api.v1.guard_check import check_guarded

# Tried in this order once added (after /v2 and the eager routers); prefixes never overlap.
V1_ROUTERS: dict[str, str] = {
    "/api/v1/tasks": "api.v1.tasks",
    "/api/v1/schedules": "api.v1.schedules",
    "/api/v1/repositories": "api.v1.repositories",
    "/api/v1/backups": "api.v1.backups",
    "/api/v1/instances": "api.v1.instances",
    "/api/v1/status": "api.v1.status",
    "/api/v1/users": "api.v1.users",
    "/api/v1/tokens": "api.v1.tokens",
    "/api/v1/me": "api.v1.me",
    "/api/v1/audit": "api.v1.audit",
    "/api/v1/usage": "api.v1.usage",
    "/api/v1/tag-protections": "api.v1.tag_protections",
    "/api/v1/retention-policies": "api.v1.retention",
}


ROUTED_AGAIN = "hth.lazy_routers.routed_again"  # set in the scope of a request routed twice


def prefix_of(path: str) -> str | None:
    """The table's prefix that `path` is under, if any."""
    for prefix in V1_ROUTERS:
        if path == prefix or path.startswith(prefix + "/"):
            return prefix
    return None


def router_of(prefix: str) -> APIRouter:
    """The router serving `prefix` (its module imported now if it was not)."""
    router = importlib.import_module(V1_ROUTERS[prefix]).router
    if not isinstance(router, APIRouter) or router.prefix != prefix:
        raise RuntimeError(f"{V1_ROUTERS[prefix]}.router must be an APIRouter for {prefix}")
    return router


class LazyRouters(BaseRoute):
    """Stands where the routers would, after them: it takes a request under a prefix of the
    table that no route took, adds that prefix's router if it is not in yet and routes the
    request again."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.added: dict[str, list[BaseRoute]] = {}
        self._lock = threading.Lock()

    def pending(self, path: str) -> str | None:
        prefix = prefix_of(path)
        return prefix if prefix is not None and prefix not in self.added else None

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Every request under a prefix of the table that no route before took, once: a
        request routed on a list read before its router came in lands here too."""
        wanted = scope["type"] == "http" and ROUTED_AGAIN not in scope
        return (Match.FULL if wanted and prefix_of(scope["path"]) else Match.NONE), {}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)  # names are the added routes'

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        prefix = self.pending(scope["path"])
        if prefix is not None:
            await run_in_threadpool(self.add, prefix)  # imports: off the event loop
        scope[ROUTED_AGAIN] = True  # then a path no router serves is the router's 404 or 405
        await self.app.router(scope, receive, send)

    def add_all(self) -> None:
        for prefix in V1_ROUTERS:
            self.add(prefix)

    def add(self, prefix: str) -> None:
        """Import and check the router of `prefix` and include it where this route stands,
        routers in the table's order. One router at a time: pydantic builds a module's
        models as it imports them, and FastAPI the routes' own as they are included, neither
        safe to overlap on two threads. The app's route list is replaced, never changed in
        place: a request may be routed on another thread meanwhile."""
        with self._lock:
            if prefix in self.added:
                return
            router = router_of(prefix)
            check_guarded(router)
            before = self.app.router.routes
            self.app.router.routes = list(before)
            self.app.include_router(router)
            self.added[prefix] = self.app.router.routes[len(before) :]
            added = {id(r) for routes in self.added.values() for r in routes}
            rest = [r for r in before if id(r) not in added]
            at = rest.index(self)
            ordered = [r for p in V1_ROUTERS for r in self.added.get(p, [])]
            self.app.router.routes = [*rest[:at], *ordered, *rest[at:]]


def install_lazy_routers(app: FastAPI) -> LazyRouters:
    """Add the lazy route at the end of `app`'s routes so far; its OpenAPI document adds every
    router first."""
    lazy = LazyRouters(app)
    app.router.routes.append(lazy)
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        lazy.add_all()
        return build()

    app.openapi = openapi  # type: ignore[method-assign]
    return lazy
