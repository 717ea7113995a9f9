"""Per-request observability as one ASGI middleware: request id, Prometheus metrics, JSON log."""

from __future__ import annotations

import logging
import time
import uuid

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.v2.dispatch import route_label

log = logging.getLogger("hth.access")

REQUESTS = Counter(
    "hth_http_requests_total", "HTTP requests answered", ["route", "method", "status"]
)
LATENCY = Histogram(
    "hth_http_request_duration_seconds",
    "Time to answer an HTTP request (to the last body byte)",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
BYTES_IN = Counter("hth_http_received_bytes_total", "Request body bytes received", ["route"])
BYTES_OUT = Counter("hth_http_sent_bytes_total", "Response body bytes sent", ["route"])


def label_for(path: str) -> str:
    if path == "/v2" or path.startswith("/v2/"):
        return route_label(path)
    first = path.strip("/").split("/", 1)[0]
    return first if first in {"api", "healthz", "readyz", "metrics", "auth", "ui"} else "other"


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        counts = {"in": 0, "out": 0, "status": 500}

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                counts["in"] += len(message.get("body", b""))
            return message

        async def tagging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                counts["status"] = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            elif message["type"] == "http.response.body":
                counts["out"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, tagging_send)
        finally:
            _record(scope, request_id, counts, time.perf_counter() - started)


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id" and 0 < len(value) <= 64:
            return str(value.decode("latin-1"))
    return uuid.uuid4().hex[:16]


def _record(scope: Scope, request_id: str, counts: dict[str, int], elapsed: float) -> None:
    path, method = scope["path"], scope["method"]
    route = label_for(path)
    REQUESTS.labels(route, method, str(counts["status"])).inc()
    LATENCY.labels(route, method).observe(elapsed)
    BYTES_IN.labels(route).inc(counts["in"])
    BYTES_OUT.labels(route).inc(counts["out"])
    if log.isEnabledFor(logging.INFO):
        client = scope.get("client")
        log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": method,
                "path": path,
                "route": route,
                "status": counts["status"],
                "duration_ms": round(elapsed * 1000, 2),
                "bytes_in": counts["in"],
                "bytes_out": counts["out"],
                "client": client[0] if client else None,
            },
        )
