"""Placeholder handler used until a route is implemented."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from registry.content.errors import Unsupported


async def not_implemented(request: Request, params: dict[str, str]) -> Response:
    raise Unsupported("not implemented yet")
