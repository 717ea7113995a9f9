"""GC in a cluster: two registry instances sharing storage keep serving a busy client safely
while a real worker collects (readonly lease), even when that worker is SIGKILLed mid-sweep.
Online mode has its own test: test_gc_online_cluster.py."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from registry import layout
from testbed.processes import free_port, wait_http
from testbed.pusher import PushedImage, Refused, pull_image, push_image
from testbed.synthetic_tree import plant_garbage
from testbed.task_platform import Component, TaskPlatform, wait_until

CLUSTER_CONFIG = {
    "cluster": {"heartbeat_interval": "200ms", "instance_ttl": "3s", "lease_ttl": "4s"},
    "docker_registry": {"http": {"workers": 1}},
}


@dataclass
class Cluster:
    platform: TaskPlatform
    second_port: int = field(default_factory=free_port)

    @property
    def urls(self) -> list[str]:
        return [self.platform.url, f"http://127.0.0.1:{self.second_port}"]

    def start_second_registry(self) -> None:
        config = self.platform.full_config()
        config["docker_registry"]["http"]["addr"] = f"127.0.0.1:{self.second_port}"
        path = self.platform.workdir / "hth-second.json"
        path.write_text(json.dumps(config))
        component = Component("registry", path, self.platform.workdir / "registry-second.log")
        self.platform.components.append(component.start())
        wait_http(f"{self.urls[1]}/healthz", timeout=90, proc=component.proc)


@pytest.fixture()
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    platform = TaskPlatform(tmp_path, config=CLUSTER_CONFIG)
    built = Cluster(platform)
    try:
        platform.start("registry", "worker", "beat")  # beat's reaper requeues a dead worker's task
        built.start_second_registry()
        yield built
    finally:
        platform.stop()


class BusyClient(threading.Thread):
    """Pushes new images alternately through both instances (a refused push is retried whole)
    and pulls the images pushed before GC; records every failure that is not a 503."""

    def __init__(self, urls: list[str], before: list[PushedImage]) -> None:
        super().__init__(daemon=True)
        self.clients = [httpx.Client(base_url=url, timeout=30) for url in urls]
        self.before, self.pushed, self.errors = before, list[PushedImage](), list[str]()
        self.refusals, self.stopping = 0, threading.Event()

    def run(self) -> None:
        round_ = 0
        while not self.stopping.is_set():
            http = self.clients[round_ % 2]
            round_ += 1
            try:
                self.pushed.append(push_image(http, "busy/app", f"t{round_}"))
            except Refused:
                self.refusals += 1
                time.sleep(0.1)
            except (AssertionError, httpx.HTTPError) as exc:
                self.errors.append(f"push t{round_}: {exc}")
            for image in self.before:
                try:
                    pull_image(http, image)
                except (AssertionError, Refused, httpx.HTTPError) as exc:
                    self.errors.append(f"pull {image.name}:{image.tag}: {exc}")

    def stop(self) -> None:
        self.stopping.set()
        self.join(30)
        for client in self.clients:
            client.close()


def blob_exists(storage: Path, digest: str) -> bool:
    return (storage / layout.blob_data(digest).lstrip("/")).exists()


def test_gc_under_load_keeps_every_referenced_image_and_frees_garbage(cluster: Cluster) -> None:
    platform, storage = cluster.platform, cluster.platform.workdir / "storage"
    with httpx.Client(base_url=cluster.urls[0], timeout=30) as http:
        before = [push_image(http, f"keep/app{i}", "v1") for i in range(3)]
    garbage = plant_garbage(storage, 50)
    client = BusyClient(cluster.urls, before)
    client.start()
    try:
        wait_until(lambda: len(client.pushed) >= 3, 60, "pushes before GC")
        task = platform.enqueue("gc", cluster_mode="readonly")
        done = platform.wait_finished(task["id"], timeout=120)
        wait_until(lambda: len(client.pushed) >= 6, 60, "pushes after GC")
    finally:
        client.stop()
    assert done["state"] == "succeeded", platform.logs()
    assert done["result"]["blobs_deleted"] >= len(garbage)
    assert not any(blob_exists(storage, digest) for digest in garbage)
    assert client.errors == [], client.errors[:5]
    log = platform.api().get(f"/api/v1/tasks/{task['id']}/log").text
    assert "instances readonly" in log, log
    for url in cluster.urls:
        with httpx.Client(base_url=url, timeout=30) as http:
            for image in before + client.pushed:
                pull_image(http, image)


def test_worker_killed_mid_sweep_instances_resume_and_redelivered_gc_finishes(
    cluster: Cluster,
) -> None:
    platform, storage = cluster.platform, cluster.platform.workdir / "storage"
    with httpx.Client(base_url=cluster.urls[1], timeout=30) as http:
        kept = [push_image(http, f"keep/app{i}", "v1") for i in range(3)]
    garbage = plant_garbage(storage, 3000)
    task = platform.enqueue("gc", cluster_mode="stop")
    platform.wait_task(
        task["id"], lambda t: (t.get("progress") or {}).get("phase") == "delete_blobs", 120
    )
    worker = next(c for c in platform.components if c.name == "worker")
    worker.kill()
    # Nobody renews the lease: every instance serves again by itself within its TTL.
    for url in cluster.urls:
        wait_until(lambda u=url: httpx.get(f"{u}/v2/").status_code == 200, 30, "serving again")
    platform.start_worker()
    done = platform.wait_finished(task["id"], timeout=180)
    assert done["state"] == "succeeded", done
    assert done["attempts"] >= 2
    assert not any(blob_exists(storage, digest) for digest in garbage)
    for url in cluster.urls:
        # The released lease is seen on each instance's next heartbeat.
        wait_until(lambda u=url: httpx.get(f"{u}/v2/").status_code == 200, 30, "serving again")
        with httpx.Client(base_url=url, timeout=30) as http:
            for image in kept:
                pull_image(http, image)
