"""`usage` run by a real worker next to a real registry (filesystem storage, pushes over
HTTP): the stored run served at /api/v1/usage (404 before the first, largest first, pages,
namespaces, counts, push times) and /api/v1/usage/namespaces, the gauges on /metrics, and
"would free" after a delete; a schedule of kind `usage` fires and its run is served."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from testbed.pusher import PushedImage, push_image
from testbed.task_platform import RedisNamespace, TaskPlatform, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaskPlatform]:
    namespace = RedisNamespace()
    platform = TaskPlatform(
        tmp_path_factory.mktemp("usage"),
        config={
            "queue": {"broker_url": namespace.url, "key_prefix": namespace.prefix},
            "docker_registry": {"http": {"workers": 1}},  # one process: cheap to start
        },
    )
    try:
        platform.start("registry", "worker")
        yield platform
    finally:
        platform.stop()
        namespace.cleanup()


def measure(platform: TaskPlatform, **params: Any) -> dict[str, Any]:
    task = platform.wait_finished(platform.enqueue("usage", **params)["id"], timeout=120)
    assert task["state"] == "succeeded", task
    result: dict[str, Any] = task["result"]
    return result


def usage(platform: TaskPlatform, path: str = "", **query: Any) -> dict[str, Any]:
    response = platform.api().get(f"/api/v1/usage{path}", params=query)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def size_of(image: PushedImage, manifest_bytes: int) -> int:
    return manifest_bytes + sum(len(data) for data in image.blobs.values())


def manifest_length(platform: TaskPlatform, image: PushedImage) -> int:
    response = platform.api().head(f"/v2/{image.name}/manifests/{image.manifest_digest}")
    return int(response.headers["Content-Length"])


def gauge(text: str, name: str, namespace: str | None = None) -> float:
    labels = f'{{namespace="{namespace}"}}' if namespace is not None else ""
    found = re.search(rf"^{name}{re.escape(labels)} (\S+)$", text, re.M)
    assert found, f"{name}{labels} not in /metrics"
    return float(found.group(1))


def test_usage_through_the_platform(platform: TaskPlatform) -> None:
    http = platform.api()
    before = http.get("/api/v1/usage")
    assert before.status_code == 404
    assert "hth-ctl usage --refresh" in before.json()["detail"]
    assert gauge(http.get("/metrics").text, "hth_usage_computed_timestamp_seconds") == 0

    shared = os.urandom(30_000)
    big = push_image(http, "team/big", "v1", layer=shared)
    big_extra = push_image(http, "team/big", "v2", layer_size=20_000)
    twin = push_image(http, "team/twin", "v3", layer=shared)  # another config: tag differs
    small = push_image(http, "solo/small", "v4", layer_size=1_000)  # configs: one per tag
    sizes = {
        i.manifest_digest: size_of(i, manifest_length(platform, i))
        for i in (big, big_extra, twin, small)
    }

    result = measure(platform)

    page = usage(platform)
    items = {item["repository"]: item for item in page["items"]}
    assert [item["repository"] for item in page["items"]] == ["team/big", "team/twin", "solo/small"]
    assert page["next_cursor"] is None
    assert (
        items["team/big"]["size_bytes"]
        == sizes[big.manifest_digest] + sizes[big_extra.manifest_digest]
    )
    assert items["team/big"]["unique_bytes"] == items["team/big"]["size_bytes"] - len(shared)
    assert items["team/twin"]["size_bytes"] == sizes[twin.manifest_digest]
    assert items["team/twin"]["unique_bytes"] == sizes[twin.manifest_digest] - len(shared)
    assert (items["team/big"]["manifests"], items["team/big"]["tags"]) == (2, 2)
    assert (items["solo/small"]["manifests"], items["solo/small"]["tags"]) == (1, 1)
    pushed = {name: datetime.fromisoformat(item["last_push_at"]) for name, item in items.items()}
    assert pushed["team/big"] < pushed["team/twin"] < pushed["solo/small"]
    total = sum(sizes.values()) - len(shared)
    assert page["total_bytes"] == result["total_bytes"] == total
    assert page["gc_would_free_bytes"] == 0
    computed = datetime.fromisoformat(page["computed_at"])
    assert computed == datetime.fromisoformat(result["computed_at"])

    first = usage(platform, limit=2)
    assert [i["repository"] for i in first["items"]] == ["team/big", "team/twin"]
    rest = usage(platform, limit=2, cursor=first["next_cursor"])
    assert [i["repository"] for i in rest["items"]] == ["solo/small"]
    assert rest["next_cursor"] is None
    team = usage(platform, namespace="team")
    assert [i["repository"] for i in team["items"]] == ["team/big", "team/twin"]
    bad = http.get("/api/v1/usage", params={"cursor": "not-one-of-ours"})
    assert bad.status_code == 400 and "cursor" in bad.json()["detail"]
    assert http.get("/api/v1/usage", params={"namespace": "Team/"}).status_code == 422

    by_namespace = usage(platform, "/namespaces")
    assert by_namespace["items"] == [
        {
            "namespace": "team",  # the shared layer once: in both of its repositories
            "size_bytes": total - sizes[small.manifest_digest],
            "unique_bytes": total - sizes[small.manifest_digest],
            "repositories": 2,
        },
        {
            "namespace": "solo",
            "size_bytes": sizes[small.manifest_digest],
            "unique_bytes": sizes[small.manifest_digest],
            "repositories": 1,
        },
    ]
    assert (by_namespace["total_bytes"], by_namespace["next_cursor"]) == (total, None)
    first_namespace = usage(platform, "/namespaces", limit=1)
    assert [i["namespace"] for i in first_namespace["items"]] == ["team"]
    rest = usage(platform, "/namespaces", limit=1, cursor=first_namespace["next_cursor"])
    assert [i["namespace"] for i in rest["items"]] == ["solo"]

    metrics = http.get("/metrics").text
    team_bytes = total - sizes[small.manifest_digest]
    assert gauge(metrics, "hth_usage_bytes", "team") == team_bytes
    assert gauge(metrics, "hth_usage_unique_bytes", "solo") == sizes[small.manifest_digest]
    assert gauge(metrics, "hth_usage_total_bytes") == total
    assert gauge(metrics, "hth_usage_gc_would_free_bytes") == 0
    assert gauge(metrics, "hth_usage_computed_timestamp_seconds") > 0

    deleted = http.delete(f"/v2/team/twin/manifests/{twin.manifest_digest}")
    assert deleted.status_code == 202, deleted.text
    measure(platform, grace_period="0")
    after = usage(platform)
    assert after["gc_would_free_bytes"] == sizes[twin.manifest_digest] - len(shared)
    assert after["total_bytes"] == total - after["gc_would_free_bytes"]
    assert {i["repository"]: i["size_bytes"] for i in after["items"]}["team/twin"] == 0
    metrics = http.get("/metrics").text
    assert gauge(metrics, "hth_usage_gc_would_free_bytes") == after["gc_would_free_bytes"]


def test_a_usage_schedule_fires_and_its_run_is_served(platform: TaskPlatform) -> None:
    http = platform.api()
    bad = {"kind": "usage", "params": {"grace_period": "soon"}, "cron": "* * * * * *"}
    refused = http.post("/api/v1/schedules", json=bad)
    assert refused.status_code == 422 and "grace_period" in refused.text
    platform.start_beat()
    body = {**bad, "params": {"grace_period": "0"}}
    created = http.post("/api/v1/schedules", json=body)
    assert created.status_code == 201, created.text
    schedule_id = created.json()["id"]
    try:

        def succeeded() -> dict[str, Any] | None:
            page = http.get("/api/v1/tasks", params={"schedule": schedule_id}).json()
            done = [t for t in page["items"] if t["state"] == "succeeded"]
            return done[0] if done else None

        task = wait_until(succeeded, timeout=90, what="a scheduled usage task succeeds")
    finally:
        assert http.delete(f"/api/v1/schedules/{schedule_id}").status_code == 204
    assert (task["kind"], task["params"]) == ("usage", {"grace_period": "0s"})  # as parsed
    served = usage(platform)
    assert served["total_bytes"] == task["result"]["total_bytes"]
    assert datetime.fromisoformat(served["computed_at"]) >= datetime.fromisoformat(
        task["result"]["computed_at"]
    )
