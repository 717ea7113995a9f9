"""Fail closed at start: every /api/v1 route uses V1Route (admins only when auth is on), and
V1UserRoute (any authenticated user) guards /api/v1/me and nothing else. create_app calls
`check_guarded` on its routes, api/lazy_routers.py on each /api/v1 router before adding it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIRouter
from starlette.routing import BaseRoute

from api.v1.errors import V1Route, V1UserRoute

ME_PREFIX = "/api/v1/me"


def flat_routes(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, BaseRoute]]:
    """(full path, route) of every route, including those of included routers (which
    FastAPI keeps as one entry per router)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            yield from flat_routes(included.routes, prefix + getattr(context, "prefix", ""))
        else:
            yield prefix + getattr(route, "path", ""), route


def check_guarded(routes: FastAPI | APIRouter) -> None:
    """RuntimeError naming the first /api/v1 route (of an app, or of a router before it is
    added) that bypasses the admin check, or a route outside /api/v1/me that admits any user."""
    for path, route in flat_routes(routes.routes):
        if not isinstance(route, APIRoute) or not path.startswith("/api/v1/"):
            continue
        if not isinstance(route, V1Route):
            raise RuntimeError(f"{path} must use api.v1.errors.V1Route (admin check)")
        is_me = path == ME_PREFIX or path.startswith(ME_PREFIX + "/")
        if isinstance(route, V1UserRoute) != is_me:
            wanted = "V1UserRoute" if is_me else "V1Route (admins only)"
            raise RuntimeError(f"{path} must use api.v1.errors.{wanted}")
