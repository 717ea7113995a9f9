"""GET /v2/<name>/tags/list: lexically sorted tags, paginated with `n` and `last`."""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api.state import get_driver
from api.v2.pagination import next_link_headers
from api.v2.responses import API_VERSION_HEADER
from registry.content import tags
from registry.content.pagination import parse_limit


async def list_tags(request: Request, params: dict[str, str]) -> Response:
    name = params["name"]
    limit = parse_limit(request.query_params.get("n"))
    last = request.query_params.get("last") or None
    page = await run_in_threadpool(tags.list_tags, get_driver(request), name, limit, last)
    body = json.dumps({"name": name, "tags": page.items}).encode()
    headers = {**API_VERSION_HEADER, **next_link_headers(f"/v2/{name}/tags/list", limit, page)}
    return Response(body, 200, headers=headers, media_type="application/json")
