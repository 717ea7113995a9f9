"""The RFC 5988 `Link: <...>; rel="next"` header of paginated /v2/ listings."""

from __future__ import annotations

from urllib.parse import urlencode

from registry.content.pagination import Page


def next_link_headers(path: str, limit: int | None, page: Page) -> dict[str, str]:
    """`{"Link": ...}` pointing at the page after `page`, or nothing when it is the last."""
    if not page.more or limit is None or not page.items:
        return {}
    query = urlencode({"n": limit, "last": page.items[-1]})
    return {"Link": f'<{path}?{query}>; rel="next"'}
