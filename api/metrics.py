"""GET /metrics: Prometheus exposition, summed over the worker processes when there are several."""

from __future__ import annotations

import os

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

router = APIRouter(tags=["health"])


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        collected = CollectorRegistry()
        MultiProcessCollector(collected)  # type: ignore[no-untyped-call]
        return collected
    return REGISTRY


@router.get("/metrics", response_class=Response)
def metrics() -> Response:
    """Prometheus metrics of this instance."""
    return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)
