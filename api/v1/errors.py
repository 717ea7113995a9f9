"""Errors of /api/v1/ as `{"detail": message}` with the right status, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response

from registry.content.errors import RegistryError

log = logging.getLogger("hth.api")


class ErrorBody(BaseModel):
    detail: str


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI documentation of the error answers of a route."""
    return {status: {"model": ErrorBody} for status in statuses}


class V1Route(APIRoute):
    """Maps the core's typed errors to their status, and a database outage to 503."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except RegistryError as exc:
                return JSONResponse({"detail": exc.message}, exc.status, headers=exc.headers)
            except SQLAlchemyError as exc:
                log.warning("database error on %s %s: %s", request.method, request.url.path, exc)
                detail = "the task database is unavailable; try again shortly"
                return JSONResponse({"detail": detail}, 503, headers={"Retry-After": "5"})

        return guarded
