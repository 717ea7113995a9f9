"""The compose topology as plain processes on loopback: two registry instances on two ports
sharing one storage root and one PostgreSQL database, deploy/nginx/nginx.conf in front (TLS,
self-signed), Redis and a real Celery worker; skopeo pushes and pulls through nginx and a
GC runs through the API behind it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from testbed.processes import wait_http
from testbed.task_platform import RedisNamespace, TaskPlatform, postgres_database
from tests.deploy.nginx_conf import Nginx
from tests.support.clients import Skopeo
from tests.support.images import OciLayout


@dataclass
class Cluster:
    instances: list[TaskPlatform]
    nginx: Nginx
    http: httpx.Client

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.nginx.port}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("cluster")
    namespace = RedisNamespace()
    with postgres_database() as database_url:
        shared = {
            "docker_registry": {
                "storage_settings": {"rootdirectory": str(base / "storage")},
                "http": {"workers": 1},
                "backups": {"directory": str(base / "backups")},
            },
            "database": {"url": database_url},
            "queue": {"broker_url": namespace.url, "key_prefix": namespace.prefix},
        }
        instances = [TaskPlatform(base / f"instance{n}", config=shared) for n in (1, 2)]
        nginx = Nginx(base / "nginx", upstreams=[i.port for i in instances])
        try:
            instances[0].start("registry", "worker")
            instances[1].start("registry")
            nginx.start()
            url = f"https://127.0.0.1:{nginx.port}"
            wait_http(f"{url}/healthz", proc=nginx.proc)
            with httpx.Client(base_url=url, verify=str(nginx.cert), timeout=30) as http:
                yield Cluster(instances, nginx, http)
        finally:
            nginx.stop()
            for instance in instances:
                instance.stop()
            namespace.cleanup()


def v2_requests(instance: TaskPlatform) -> float:
    text = instance.api().get("/metrics").text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "hth_http_requests_total"
        and sample.labels["route"] != "healthz"
        and sample.labels["route"] not in ("metrics", "api", "readyz", "other")
    )


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    raise AssertionError(f"{name}{labels} not in /metrics")


@pytest.mark.e2e
def test_push_pull_and_gc_through_nginx_across_two_instances(
    cluster: Cluster, tmp_path: Path
) -> None:
    layout = OciLayout(tmp_path / "layout")
    layout.write_image("old", [5_000, 150_000], seed=1)
    layout.write_image("new", [6_000, 120_000], seed=2)
    cert_dir = tmp_path / "certs.d"
    cert_dir.mkdir()
    (cert_dir / "ca.crt").write_bytes(cluster.nginx.cert.read_bytes())
    skopeo = Skopeo(tmp_path / "skopeo", cert_dir=cert_dir)
    ref = f"docker://{cluster.host}/team/app:v1"

    skopeo.copy(f"oci:{tmp_path / 'layout'}:old", ref)
    skopeo.copy(f"oci:{tmp_path / 'layout'}:new", ref)  # the old image is now untagged
    pulled = tmp_path / "pulled"
    skopeo.copy(ref, f"oci:{pulled}:v1")

    new_digest = next(
        m["digest"]
        for m in _index(tmp_path / "layout")
        if m["annotations"]["org.opencontainers.image.ref.name"] == "new"
    )
    assert _index(pulled)[0]["digest"] == new_digest
    assert all(v2_requests(instance) > 0 for instance in cluster.instances)  # both served
    live = [i for i in cluster.http.get("/api/v1/instances").json()["instances"] if i["live"]]
    assert len(live) == 2

    response = cluster.http.post(
        "/api/v1/tasks",
        json={"kind": "gc", "params": {"delete_untagged": True, "grace_period": "0s"}},
    )
    assert response.status_code == 202, response.text
    task = cluster.instances[0].wait_finished(response.json()["id"], timeout=90)
    assert task["state"] == "succeeded", task
    assert task["result"]["blobs_deleted"] >= 3  # the old image's two layers and config
    assert task["result"]["bytes_freed"] > 150_000

    skopeo.copy(ref, f"oci:{tmp_path / 'again'}:v1")  # what is tagged still pulls
    assert _index(tmp_path / "again")[0]["digest"] == new_digest
    metrics = cluster.http.get("/metrics").text
    assert metric(metrics, "hth_gc_blobs_deleted") == task["result"]["blobs_deleted"]
    assert metric(metrics, "hth_gc_bytes_freed") == task["result"]["bytes_freed"]
    assert metric(metrics, "hth_gc_runs", state="succeeded") == 1
    assert metric(metrics, "hth_last_success_timestamp_seconds", kind="gc") > 0
    # Both live (serving again, or still read-only for a heartbeat after the GC's lease).
    live_count = sum(metric(metrics, "hth_instances", state=s) for s in ("serving", "readonly"))
    assert live_count == 2


@pytest.mark.e2e
def test_status_through_nginx_shows_both_instances_and_the_worker(cluster: Cluster) -> None:
    answer: dict[str, Any] = cluster.http.get("/api/v1/status").json()

    addresses = sorted(i["address"] for i in answer["instances"] if i["live"])
    assert addresses == sorted(f"http://127.0.0.1:{i.port}" for i in cluster.instances)
    assert len(answer["workers"]["names"]) == 1


def _index(layout: Path) -> list[dict[str, Any]]:
    import json

    manifests: list[dict[str, Any]] = json.loads((layout / "index.json").read_text())["manifests"]
    return manifests
