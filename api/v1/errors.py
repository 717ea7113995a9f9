"""Errors of /api/v1/ as `{"detail": message}` with the right status, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Security
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response

from api.auth.admin import CREDENTIALS, admit_admin, admit_user, audit_call
from registry.errors import RegistryError

log = logging.getLogger("hth.api")


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    # A message, or (422 from request validation) the list of what is wrong where.
    detail: str | list[ValidationIssue]


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI documentation of the error answers of a route."""
    return {status: {"model": ErrorBody} for status in statuses}


class V1Route(APIRoute):
    """Maps the core's typed errors to their status, and a database outage to 503.
    Admits only admins when auth is on, and audits changing calls (api/auth/admin.py)."""

    admit = staticmethod(admit_admin)

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        kwargs["dependencies"] = [*(kwargs.get("dependencies") or []), Security(CREDENTIALS)]
        kwargs["responses"] = {**error_responses(401, 403), **(kwargs.get("responses") or {})}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                await self.admit(request)
                response = await handler(request)
            except RegistryError as exc:
                response = JSONResponse({"detail": exc.message}, exc.status, headers=exc.headers)
            except SQLAlchemyError as exc:
                log.warning("database error on %s %s: %s", request.method, request.url.path, exc)
                detail = "the task database is unavailable; try again shortly"
                response = JSONResponse({"detail": detail}, 503, headers={"Retry-After": "5"})
            await audit_call(request, self, response)
            return response

        return guarded


class V1UserRoute(V1Route):
    """The routes of /api/v1/me: any authenticated user, about themselves (the app refuses
    to start if this class guards a route outside /api/v1/me)."""

    admit = staticmethod(admit_user)
