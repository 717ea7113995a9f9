"""GET /v2/_catalog: repository names, 100 a page by default, at most 1000 (Distribution);
with auth on, only those the caller may pull (every page full while more are visible)."""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api.auth.catalog_access import catalog_filter
from api.state import get_driver
from api.v2.pagination import next_link_headers
from api.v2.responses import API_VERSION_HEADER
from registry.content import catalog
from registry.content.pagination import parse_limit


async def list_repositories(request: Request, params: dict[str, str]) -> Response:
    raw_limit = request.query_params.get("n")
    limit = parse_limit(raw_limit, catalog.DEFAULT_PAGE, catalog.MAX_PAGE)
    assert limit is not None  # a default is given
    last = request.query_params.get("last") or None
    shown = await catalog_filter(request)
    driver = get_driver(request)
    page = await run_in_threadpool(catalog.list_repositories, driver, limit, last, shown)
    body = json.dumps({"repositories": page.items}).encode()
    headers = {**API_VERSION_HEADER, **next_link_headers("/v2/_catalog", limit, page)}
    return Response(body, 200, headers=headers, media_type="application/json")
