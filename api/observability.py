"""Per-request observability as one ASGI middleware: request id, Prometheus metrics, the access
log line (api/access_log.py)."""

from __future__ import annotations

import time
import uuid

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import access_log
from api.access_log import Exchange
from api.v2.dispatch import route_label

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
        # Where the audit log (api/auth) finds it: both name a request by the same id.
        scope.setdefault("state", {})[access_log.REQUEST_ID_KEY] = request_id
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
        # Visible ASCII only: the id is echoed in a header and written in log lines.
        if name == b"x-request-id" and 0 < len(value) <= 64 and value.isascii():
            text = str(value.decode("ascii"))
            if text.isprintable() and " " not in text:
                return text
    return uuid.uuid4().hex[:16]


def _record(scope: Scope, request_id: str, counts: dict[str, int], elapsed: float) -> None:
    route = label_for(scope["path"])
    REQUESTS.labels(route, scope["method"], str(counts["status"])).inc()
    LATENCY.labels(route, scope["method"]).observe(elapsed)
    BYTES_IN.labels(route).inc(counts["in"])
    BYTES_OUT.labels(route).inc(counts["out"])
    exchange = Exchange(request_id, route, counts["status"], counts["in"], counts["out"], elapsed)
    access_log.write(scope, exchange)
