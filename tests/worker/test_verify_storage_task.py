"""The storage scrub run by a real worker next to a real registry (filesystem storage): a
corrupt layer or manifest is reported and fails the task, repair quarantines it, pulls
answer 404, GC succeeds, and a push of the genuine content heals the registry."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from registry import layout
from registry.cluster import leases
from registry.config import read_settings_file
from registry.db.database import open_database
from testbed.pusher import PushedImage, Refused, pull_image, push_image
from testbed.task_platform import RedisNamespace, TaskPlatform, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaskPlatform]:
    namespace = RedisNamespace()
    platform = TaskPlatform(
        tmp_path_factory.mktemp("scrub"),
        config={"queue": {"broker_url": namespace.url, "key_prefix": namespace.prefix}},
    )
    try:
        platform.start("registry", "worker")
        yield platform
    finally:
        platform.stop()
        namespace.cleanup()


def run(platform: TaskPlatform, kind: str, **params: Any) -> dict[str, Any]:
    return platform.wait_finished(platform.enqueue(kind, **params)["id"], timeout=180)


def log_of(platform: TaskPlatform, task: dict[str, Any]) -> str:
    return platform.api().get(f"/api/v1/tasks/{task['id']}/log").text


def local(platform: TaskPlatform, path: str) -> Path:
    return platform.workdir / "storage" / path.lstrip("/")


def files_of(platform: TaskPlatform) -> dict[str, str]:
    root = platform.workdir / "storage"
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def flip_a_bit(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(bytes([data[0] ^ 1]) + data[1:])


def oci_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["errors"][0]["code"] == code


def push_again(platform: TaskPlatform, name: str, layer: bytes) -> PushedImage:
    """Push once the instance serves writes again (it leaves GC's readonly mode on its next
    heartbeat after the lease ends)."""

    def attempt() -> PushedImage | None:
        try:
            return push_image(platform.api(), name, "v1", layer=layer)
        except Refused:
            return None

    pushed: PushedImage = wait_until(attempt, 30, "a push accepted")
    return pushed


def layer_of(image: PushedImage) -> str:
    return next(d for d, data in image.blobs.items() if not data.startswith(b"{"))


def test_a_corrupt_layer_fails_the_scrub_and_repair_quarantines_it_until_a_push_heals_it(
    platform: TaskPlatform,
) -> None:
    http, layer = platform.api(), b"layer bytes " * 1000
    image = push_image(http, "scrub/app", "v1", layer=layer)
    digest = layer_of(image)
    flip_a_bit(local(platform, layout.blob_data(digest)))

    found = run(platform, "verify_storage")

    assert found["state"] == "failed", platform.logs()
    assert f"1 corrupt blobs left in place: {digest}" in found["error"]
    assert "`hth-ctl verify-storage --repair` quarantines them" in found["error"]
    [bad] = [m for m in found["result"]["mismatches"] if m["digest"] == digest]
    assert bad["repositories"] == ["scrub/app"] and bad["expected_size"] == len(layer)
    assert bad["actual_size"] == len(layer) and bad["actual_digest"] not in (None, digest)
    assert f"corrupt: {digest} at {layout.blob_data(digest)}" in log_of(platform, found)

    repaired = run(platform, "verify_storage", repair=True)

    assert repaired["state"] == "succeeded", repaired
    assert repaired["result"]["outcome"] == "repaired"
    assert repaired["result"]["quarantined"] == 1
    assert "storage lease (shared) released" in log_of(platform, repaired)
    [moved] = [m["quarantined_to"] for m in repaired["result"]["mismatches"]]
    assert local(platform, moved).read_bytes() != layer
    oci_error(http.get(f"/v2/scrub/app/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    assert http.head(f"/v2/scrub/app/blobs/{digest}").status_code == 404

    gc = run(platform, "gc", grace_period="0s")
    assert gc["state"] == "succeeded", gc
    assert local(platform, moved).is_file()  # nothing deletes the quarantine

    pull_image(http, push_again(platform, "scrub/app", layer))  # a re-push heals
    assert run(platform, "verify_storage")["result"]["outcome"] == "clean"


def test_a_corrupt_manifest_is_404_after_a_restart_stops_gc_and_is_quarantined(
    platform: TaskPlatform,
) -> None:
    http, layer = platform.api(), b"manifest test layer " * 100
    image = push_image(http, "scrub/man", "v1", layer=layer)
    flip_a_bit(local(platform, layout.blob_data(image.manifest_digest)))
    [registry] = [c for c in platform.components if c.name == "registry"]
    registry.stop()  # the new process has nothing cached: it reads the damaged bytes
    platform.components.remove(registry)
    restarted = platform.start_registry()

    for _ in range(3):
        oci_error(http.get("/v2/scrub/man/manifests/v1"), 404, "MANIFEST_UNKNOWN")
        oci_error(
            http.get(f"/v2/scrub/man/manifests/{image.manifest_digest}"), 404, "MANIFEST_UNKNOWN"
        )
    assert http.head("/v2/scrub/man/manifests/v1").status_code == 404
    logged = [line for line in restarted.log_text().splitlines() if "cannot be served" in line]
    assert len(logged) == 1 and image.manifest_digest in logged[0]
    assert "hth-ctl verify-storage --repair" in logged[0]

    before = files_of(platform)
    gc = run(platform, "gc", grace_period="0s")
    assert gc["state"] == "failed"
    assert f"manifest {image.manifest_digest} (repository scrub/man, " in gc["error"]
    assert "`hth-ctl verify-storage --repair`" in gc["error"]
    assert files_of(platform) == before  # nothing deleted

    repaired = run(platform, "verify_storage", repair=True)
    assert repaired["state"] == "succeeded", repaired
    [bad] = [m for m in repaired["result"]["mismatches"] if m["digest"] == image.manifest_digest]
    assert bad["manifest_in"] == ["scrub/man"] and bad["state"] == "quarantined"
    assert run(platform, "gc", grace_period="0s")["state"] == "succeeded"

    pull_image(http, push_again(platform, "scrub/man", layer))  # the same manifest again


def test_repair_waits_for_the_storage_lease_and_moves_nothing_meanwhile(
    platform: TaskPlatform,
) -> None:
    http = platform.api()
    image = push_image(http, "scrub/lease", "v1")
    digest = layer_of(image)
    data = local(platform, layout.blob_data(digest))
    flip_a_bit(data)
    db = open_database(read_settings_file(platform.config_file))
    held = leases.acquire(db, "gc task (test)", "readonly", timedelta(minutes=5))
    try:
        task = platform.enqueue("verify_storage", repair=True)
        waiting = platform.wait_task(
            task["id"],
            lambda t: (t["progress"] or {}).get("phase") == "waiting for the storage lease",
            timeout=120,
        )
        assert waiting["state"] == "running" and data.is_file()
    finally:
        leases.release(db, held)

    done = platform.wait_finished(task["id"], timeout=120)
    assert done["state"] == "succeeded" and not data.exists()
    assert "waiting to quarantine: the storage lease is held by gc task (test)" in log_of(
        platform, done
    )


def test_a_scrub_schedule_keeps_since_relative_and_refuses_a_bad_one(
    platform: TaskPlatform,
) -> None:
    api = platform.api()
    body = {"kind": "verify_storage", "cron": "0 3 * * *", "params": {"since": "2d"}}
    created = api.post("/api/v1/schedules", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["params"] == {"since": "48h"}
    api.delete(f"/api/v1/schedules/{created.json()['id']}")

    body["params"] = {"since": "last week", "rate_limit": 0}
    refused = api.post("/api/v1/schedules", json=body)
    assert refused.status_code == 422
    assert "params.since" in refused.text and "params.rate_limit" in refused.text
