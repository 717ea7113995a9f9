"""Request ids, Prometheus series and access logs for every request."""

from __future__ import annotations

import httpx


def test_every_response_carries_a_request_id(client: httpx.Client) -> None:
    generated = client.get("/v2/")
    assert len(generated.headers["X-Request-Id"]) == 16
    echoed = client.get("/v2/", headers={"X-Request-Id": "abc123"})
    assert echoed.headers["X-Request-Id"] == "abc123"


def test_metrics_count_requests_by_route_and_status(client: httpx.Client) -> None:
    client.get("/v2/")
    client.get("/v2/Bad/tags/list")
    text = client.get("/metrics").text
    assert 'hth_http_requests_total{method="GET",route="base",status="200"}' in text
    assert 'hth_http_requests_total{method="GET",route="tags",status="400"}' in text
    assert "hth_http_request_duration_seconds_bucket" in text
