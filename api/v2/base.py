"""GET /v2/: the API version check every client makes first."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.v2.responses import API_VERSION_HEADER


async def version_check(request: Request, params: dict[str, str]) -> Response:
    body = b"" if request.method == "HEAD" else b"{}"
    return Response(body, 200, headers=API_VERSION_HEADER, media_type="application/json")
