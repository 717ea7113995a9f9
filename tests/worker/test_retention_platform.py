"""Retention policies on a running platform (registry, worker, beat): the REST contract and
its refusals, the policy's own schedule fired by beat, and a cancel mid-run that leaves
every repository either done or untouched."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from registry import layout
from testbed.task_platform import RedisNamespace, TaskPlatform, wait_until
from tests.maintenance.trees import Tree

pytestmark = pytest.mark.integration

POLICIES = "/api/v1/retention-policies"
CONTRACT = {
    "name": "team",
    "repositories": "team/**",
    "keep_last": 10,
    "keep_within": "14d",
    "keep_tags": "^v\\d+",
    "delete_untagged": False,
    "cron": "0 2 * * *",
    "gc_after": False,
    "enabled": True,
}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaskPlatform]:
    namespace = RedisNamespace()
    platform = TaskPlatform(
        tmp_path_factory.mktemp("retention-platform"),
        config={
            "queue": {"broker_url": namespace.url, "key_prefix": namespace.prefix},
            "docker_registry": {"http": {"workers": 1}},
        },
    )
    try:
        platform.start("registry", "worker", "beat")
        yield platform
    finally:
        platform.stop()
        namespace.cleanup()


def refused(platform: TaskPlatform, status: int, body: dict[str, Any], *words: str) -> None:
    response = platform.api().post(POLICIES, json=body)
    assert response.status_code == status, response.text
    detail = str(response.json()["detail"])
    for word in words:
        assert word in detail, detail


def test_the_policy_contract_and_its_refusals(platform: TaskPlatform) -> None:
    http = platform.api()
    created = http.post(POLICIES, json=CONTRACT)
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == f"{POLICIES}/team"
    policy = created.json()
    assert {key: policy[key] for key in CONTRACT} == CONTRACT
    assert policy["schedule_id"] == "retention-team"
    schedule = http.get("/api/v1/schedules/retention-team").json()
    assert (schedule["kind"], schedule["cron"], schedule["enabled"]) == (
        "retention",
        "0 2 * * *",
        True,
    )
    assert schedule["params"] == {"policy": "team", "dry_run": False}

    base = {"name": "bad", "repositories": "team/**"}
    refused(platform, 400, base, "no keep field", "confirm_delete_all")
    refused(platform, 400, {**base, "repositories": "Team/**", "keep_last": 1}, "repositories")
    refused(platform, 400, {**base, "keep_tags": "(v"}, "keep_tags", "regular expression")
    refused(platform, 400, {**base, "keep_within": "a fortnight"}, "keep_within")
    refused(platform, 400, {**base, "keep_last": 1, "cron": "0 2 * *"}, "cron")
    refused(platform, 422, {**base, "keep_last": 1, "keep_tags_not": "x"}, "keep_tags_not")
    refused(platform, 422, {**base, "name": "Bad Name", "keep_last": 1}, "name")
    refused(platform, 409, CONTRACT, "already exists")
    everything = {**base, "name": "all", "confirm_delete_all": True}
    assert http.post(POLICIES, json=everything).status_code == 201

    assert [p["name"] for p in http.get(POLICIES).json()["items"]] == ["all", "team"]
    missing = http.get(f"{POLICIES}/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    assert http.post(f"{POLICIES}/nope/run", json={}).status_code == 404
    mismatch = http.put(f"{POLICIES}/team", json={**CONTRACT, "name": "other"})
    assert mismatch.status_code == 400, mismatch.text

    patched = http.patch(f"{POLICIES}/team", json={"keep_last": None, "enabled": False})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["keep_last"], patched.json()["keep_tags"]) == (None, "^v\\d+")
    assert http.get("/api/v1/schedules/retention-team").json()["enabled"] is False
    replaced = http.put(f"{POLICIES}/team", json={**CONTRACT, "cron": None})
    assert replaced.status_code == 200 and replaced.json()["schedule_id"] is None
    assert http.get("/api/v1/schedules/retention-team").status_code == 404
    assert http.delete(f"{POLICIES}/team").status_code == 204
    assert http.get(f"{POLICIES}/team").status_code == 404

    audit = http.get("/api/v1/audit", params={"action": "retention_policy.", "limit": 50})
    actions = [(e["action"], e["target"]) for e in audit.json()["items"]]
    for expected in ("create", "update", "delete"):
        assert (f"retention_policy.{expected}", "team") in actions


def test_beat_runs_a_policy_on_its_cron(platform: TaskPlatform) -> None:
    http = platform.api()
    body = {
        "name": "every2s",
        "repositories": "nothing/**",
        "keep_last": 1,
        "cron": "* * * * * */2",
    }
    assert http.post(POLICIES, json=body).status_code == 201

    def fired() -> dict[str, Any] | None:
        items = http.get("/api/v1/tasks", params={"schedule": "retention-every2s"}).json()["items"]
        done = [t for t in items if t["state"] == "succeeded"]
        return done[0] if done else None

    task = wait_until(fired, 30, "a scheduled retention task")
    assert task["kind"] == "retention" and task["trigger"] == "schedule"
    assert task["result"]["repositories"] == 0
    assert http.delete(f"{POLICIES}/every2s").status_code == 204
    assert http.get("/api/v1/schedules/retention-every2s").status_code == 404


def tags(tree: Tree, repository: str) -> list[str]:
    return sorted(p.rpartition("/")[2] for p in tree.driver.list(layout.tags_root(repository)))


def test_cancel_mid_run_leaves_every_repository_done_or_untouched(platform: TaskPlatform) -> None:
    http, tree = platform.api(), Tree(platform.workdir / "storage")
    names = [f"bulk/r{number:04d}" for number in range(600)]
    for name in names:
        tree.image(name, "new", layers=1)
        tree.image(name, "old", layers=1)
        tree.age_path(layout.tag_current_link(name, "old"), timedelta(days=30))
    body = {"name": "bulk", "repositories": "bulk/*", "keep_within": "1d", "delete_untagged": True}
    assert http.post(POLICIES, json=body).status_code == 201

    task = http.post(f"{POLICIES}/bulk/run", json={"dry_run": False}).json()
    platform.wait_task(task["id"], lambda t: (t["progress"] or {}).get("done", 0) >= 2, 60)
    assert http.post(f"/api/v1/tasks/{task['id']}/cancel").status_code == 202
    cancelled = platform.wait_finished(task["id"], timeout=60)
    assert cancelled["state"] == "cancelled", cancelled
    states = [tags(tree, name) for name in names]
    done = sum(1 for found in states if found == ["new"])
    assert done + sum(1 for found in states if found == ["new", "old"]) == len(names)
    assert 0 < done < len(names)
    for name in names:  # every tag left points at a manifest the repository still has
        for tag in tags(tree, name):
            digest = tree.driver.get_content(layout.tag_current_link(name, tag)).decode()
            assert tree.has_revision(name, digest), (name, tag)

    finish = http.post(f"{POLICIES}/bulk/run", json={"dry_run": False}).json()
    result = platform.wait_finished(finish["id"], timeout=180)["result"]
    assert result["tags_deleted"] == len(names) - done
    assert all(tags(tree, name) == ["new"] for name in names)
    again = http.post(f"{POLICIES}/bulk/run", json={"dry_run": False}).json()
    assert platform.wait_finished(again["id"], timeout=180)["result"]["deleted"] == {}
