"""GET /v2/<name>/referrers/<digest>: an OCI index of the manifests whose subject it is."""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api.state import get_driver
from api.v2.responses import API_VERSION_HEADER
from registry.content import referrers
from registry.content.mediatypes import OCI_INDEX
from registry.content.names import validate_digest


async def list_referrers(request: Request, params: dict[str, str]) -> Response:
    """Always 200 for a valid digest (the spec forbids 404 here), even for an unknown subject
    or repository: the index is then empty."""
    name, subject = params["name"], validate_digest(params["digest"])
    artifact_type = request.query_params.get("artifactType") or None
    found = await run_in_threadpool(
        referrers.list_referrers, get_driver(request), name, subject, artifact_type
    )
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": found}).encode()
    headers = dict(API_VERSION_HEADER)
    if artifact_type is not None:
        headers["OCI-Filters-Applied"] = "artifactType"
    return Response(body, 200, headers=headers, media_type=OCI_INDEX)
