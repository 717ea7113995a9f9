"""Response helpers shared by the /v2/ handlers."""

from __future__ import annotations

import json

from starlette.responses import Response

from registry.errors import RegistryError

API_VERSION_HEADER = {"Docker-Distribution-API-Version": "registry/2.0"}


def error_response(error: RegistryError, head: bool = False) -> Response:
    """The OCI error envelope (no body on HEAD, as HTTP requires)."""
    body = b"" if head else json.dumps(error.body()).encode()
    headers = {**API_VERSION_HEADER, **error.headers}
    return Response(body, error.status, headers=headers, media_type="application/json")


def empty(status: int, headers: dict[str, str] | None = None) -> Response:
    response = Response(b"", status, headers={**API_VERSION_HEADER, **(headers or {})})
    return response
