"""The backup kinds run by a real worker through the REST API: backup, backup_verify,
backup_export, restore; GET /api/v1/backups; the refusal of any driver but filesystem."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from registry import layout
from registry.maintenance.backup.store import BackupStore
from testbed.task_platform import RedisNamespace, TaskPlatform
from tests.maintenance.backup_support import metadata_and_blobs, torn_references
from tests.maintenance.trees import Tree

pytestmark = pytest.mark.integration

REFUSAL = (
    "BackupUnsupported: backups need the filesystem storage driver; "
    "docker_registry.storage_driver is 's3': nothing was done"
)


@pytest.fixture(scope="module")
def backups(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaskPlatform]:
    namespace = RedisNamespace()
    platform = TaskPlatform(
        tmp_path_factory.mktemp("backups"),
        config={"queue": {"broker_url": namespace.url, "key_prefix": namespace.prefix}},
    )
    try:
        platform.start("registry", "worker")
        yield platform
    finally:
        platform.stop()
        namespace.cleanup()


def tree_of(platform: TaskPlatform) -> Tree:
    return Tree(platform.workdir / "storage")


def store_of(platform: TaskPlatform) -> BackupStore:
    return BackupStore(platform.workdir / "backups")


def run(platform: TaskPlatform, kind: str, **params: Any) -> dict[str, Any]:
    return platform.wait_finished(platform.enqueue(kind, **params)["id"], timeout=120)


def succeeded(platform: TaskPlatform, kind: str, **params: Any) -> dict[str, Any]:
    task = run(platform, kind, **params)
    assert task["state"] == "succeeded", (task, platform.logs())
    result: dict[str, Any] = task["result"]
    return result


def test_a_backup_task_names_the_backup_and_what_it_added(backups: TaskPlatform) -> None:
    tree = tree_of(backups)
    image = tree.image("team/app", "v1", layers=2)
    task = run(backups, "backup")
    result = task["result"]
    assert task["state"] == "succeeded", backups.logs()
    assert result["blobs_copied"] >= len(image.blobs) and result["bytes_copied"] > 0
    assert result["verification"] == "verified"
    log = backups.api().get(f"/api/v1/tasks/{task['id']}/log").text
    assert "read under the readonly lease" in log and "verified" in log
    # The registry instance acknowledged the freeze; blobs were copied under `shared`.
    assert re.search(r"storage lease \(readonly, token \d+\): instances readonly: \S+", log)
    assert log.index("storage lease (readonly) released") < log.index("copied ")
    assert "storage lease (shared) released" in log

    listed = backups.api().get("/api/v1/backups").json()
    assert listed["directory"] == str(store_of(backups).directory)
    [item] = [i for i in listed["items"] if i["id"] == result["backup_id"]]
    assert (item["new_blobs"], item["new_bytes"]) == (
        result["blobs_copied"],
        result["bytes_copied"],
    )
    assert item["size"] == result["bytes"] and item["verification"]["state"] == "verified"
    detail = backups.api().get(f"/api/v1/backups/{result['backup_id']}").json()
    assert detail["source"] == str(tree.root) and detail["problems"] == []
    missing = backups.api().get("/api/v1/backups/20000101T000000.000Z-000000")
    assert missing.status_code == 404 and "not found" in missing.json()["detail"]


def test_a_second_backup_of_an_unchanged_registry_copies_zero_blobs(
    backups: TaskPlatform,
) -> None:
    tree_of(backups).image("team/again", "v1")
    succeeded(backups, "backup")
    again = succeeded(backups, "backup")
    assert (again["blobs_copied"], again["bytes_copied"]) == (0, 0)
    assert again["blobs_already_backed_up"] == again["blobs"] > 0  # and said so


def damage(path: Path) -> bytes:
    """Flip the first byte of a file in place (same size); its old content."""
    content = path.read_bytes()
    path.write_bytes(bytes([content[0] ^ 1]) + content[1:])
    return content


def test_a_backup_of_a_blob_corrupt_in_the_registry_fails_names_it_and_is_kept(
    backups: TaskPlatform,
) -> None:
    tree = tree_of(backups)
    image = tree.image("team/rotten", "v1")
    bad = image.layers[0]
    live = tree.local(layout.blob_data(bad))
    content = damage(live)
    try:
        task = run(backups, "backup")
    finally:
        live.write_bytes(content)
    assert (task["state"], task["attempts"]) == ("failed", 1), backups.logs()
    result = task["result"]  # kept with the failure: what it found, and where
    backup_id, store = result["backup_id"], store_of(backups)
    assert task["error"].startswith(f"BackupCorrupt: backup {backup_id} is corrupt: 1 of ")
    assert (
        f" blobs bad: {bad} (team/rotten) at {store.blob_path(bad)}: content hashes to "
        in (task["error"])
    )
    assert "the registry's own copy is corrupt too" in task["error"]
    assert result["problems"][0]["repositories"] == ["team/rotten"]
    folder = store.backups / backup_id  # the record and the files, for inspection
    assert {p.name for p in folder.iterdir()} >= {"manifest.json", "verification.json"}
    assert store.blob_path(bad).read_bytes() != content
    shown = backups.api().get(f"/api/v1/backups/{backup_id}").json()
    assert shown["verification"]["state"] == "corrupt"
    assert shown["problems"][0]["digest"] == bad
    # The registry was repaired meanwhile: the next backup copies the blob again, sound.
    healed = succeeded(backups, "backup")
    assert healed["recopied"] == [bad] and healed["verification"] == "verified"
    assert store.blob_path(bad).read_bytes() == content


def test_verify_of_a_blob_corrupt_in_the_store_fails_and_the_next_backup_copies_it_again(
    backups: TaskPlatform,
) -> None:
    image = tree_of(backups).image("team/verify", "v1")
    backup_id = succeeded(backups, "backup", verify=False)["backup_id"]
    damaged = store_of(backups).blob_path(image.layers[0])
    content = damage(damaged)
    task = run(backups, "backup_verify", backup_id=backup_id)
    assert (task["state"], task["attempts"]) == ("failed", 1)
    assert re.match(rf"BackupCorrupt: backup {backup_id} is corrupt: 1 of \d+ ", task["error"])
    assert f"{image.layers[0]} (team/verify) at {damaged}: content hashes to " in task["error"]
    result = task["result"]
    assert (result["state"], result["problem_count"]) == ("corrupt", 1)
    assert (result["problems"][0]["path"], result["problems"][0]["digest"]) == (
        str(damaged),
        image.layers[0],
    )
    shown = backups.api().get(f"/api/v1/backups/{backup_id}").json()
    assert shown["verification"]["state"] == "corrupt"

    again = succeeded(backups, "backup", verify=False)  # no verify of its own to catch it
    assert again["recopied"] == [image.layers[0]] and damaged.read_bytes() == content
    assert succeeded(backups, "backup_verify", backup_id=backup_id)["state"] == "verified"


def test_restore_by_id_and_from_an_exported_file(backups: TaskPlatform, tmp_path: Path) -> None:
    tree = tree_of(backups)
    tree.image("team/restore", "v1")
    backup_id = succeeded(backups, "backup")["backup_id"]
    expected = metadata_and_blobs(tree.root)
    archive = tmp_path / "export.tar.zst"
    exported = succeeded(backups, "backup_export", backup_id=backup_id, file=str(archive))
    assert exported["file"] == str(archive) and archive.stat().st_size == exported["bytes"]

    tree.untag("team/restore", "v1")
    tree.image("team/restore", "v2")
    task = run(backups, "restore", backup_id=backup_id)
    assert task["state"] == "succeeded" and task["result"]["backup_id"] == backup_id
    log = backups.api().get(f"/api/v1/tasks/{task['id']}/log").text
    assert re.search(r"storage lease \(stop, token \d+\): instances stopped: \S+", log)
    assert metadata_and_blobs(tree.root) == expected

    tree.image("team/restore", "v3")
    succeeded(backups, "restore", file=str(archive))
    assert metadata_and_blobs(tree.root) == expected and torn_references(tree.root) == []


def test_a_restore_of_a_damaged_backup_fails_and_keeps_the_live_data(
    backups: TaskPlatform,
) -> None:
    tree = tree_of(backups)
    image = tree.image("team/damaged", "v1")
    backup_id = succeeded(backups, "backup")["backup_id"]
    tree.image("team/damaged", "v2")
    live = metadata_and_blobs(tree.root)
    damaged = store_of(backups).blob_path(image.config)
    content = damaged.read_bytes()
    damaged.write_bytes(b"X" + content[1:])
    try:
        task = run(backups, "restore", backup_id=backup_id)
        assert (task["state"], task["attempts"]) == ("failed", 1)
        assert task["error"].startswith(f"RestoreError: backup {backup_id} is damaged")
        assert metadata_and_blobs(tree.root) == live
    finally:
        damaged.write_bytes(content)


@pytest.mark.parametrize(
    ("kind", "params", "needle"),
    [
        ("restore", {}, "exactly one of backup_id and file"),
        ("restore", {"backup_id": "x", "file": "/x"}, "exactly one of backup_id and file"),
        ("backup_export", {"file": "relative.tar.zst"}, "must be an absolute path"),
        ("backup", {"verify": "maybe"}, "params.verify"),
    ],
)
def test_bad_params_are_refused_when_enqueued(
    backups: TaskPlatform, kind: str, params: dict[str, Any], needle: str
) -> None:
    response = backups.api().post("/api/v1/tasks", json={"kind": kind, "params": params})
    assert response.status_code == 422 and needle in response.json()["detail"]


def test_a_backup_on_s3_is_refused_at_once_and_changes_nothing(tmp_path: Path) -> None:
    namespace = RedisNamespace()
    s3 = {
        "storage_driver": "s3",
        "storage_settings": {
            "accesskey": "AK",
            "secretkey": "SK",
            "bucket": "registry",
            "region": "us-east-1",
            "regionendpoint": "http://127.0.0.1:9",  # nothing listens: touching it would fail
        },
    }
    platform = TaskPlatform(
        tmp_path / "s3",
        config={
            "docker_registry": s3,
            "queue": {"broker_url": namespace.url, "key_prefix": namespace.prefix},
        },
    )
    try:
        platform.start("registry", "worker")
        for kind, params in (("backup", {}), ("restore", {"backup_id": "x"})):
            task = run(platform, kind, **params)
            assert (task["state"], task["attempts"], task["error"]) == ("failed", 1, REFUSAL)
        assert not (platform.workdir / "backups").exists()
    finally:
        platform.stop()
        namespace.cleanup()
