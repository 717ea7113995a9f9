"""GET /api/v1/audit: maintenance tasks with who enqueued them, their parameters and their
outcome; repository deletes; filters and pages."""

from __future__ import annotations

import uuid

from tests.support.auth import ADMIN, AuthRegistry


def test_task_enqueue_is_audited_with_actor_params_and_outcome(
    auth_registry: AuthRegistry,
) -> None:
    with auth_registry.admin() as http:
        task = http.post(
            "/api/v1/tasks", json={"kind": "purge_uploads", "params": {"dry_run": True}}
        )
        assert task.status_code == 202, task.text
        task_id = task.json()["id"]
        http.post(f"/api/v1/tasks/{task_id}/cancel")
        events = http.get("/api/v1/audit", params={"action": "task."}).json()["items"]

    event = next(e for e in events if e["task_id"] == task_id)
    assert event["action"] == "task.enqueue"
    assert event["actor"] == ADMIN[0]
    assert event["source"] == "127.0.0.1"
    assert event["params"]["params"] == {"dry_run": True}
    assert event["outcome"]["state"] == "cancelled"


def test_repository_delete_is_audited(auth_registry: AuthRegistry) -> None:
    name = f"gone/{uuid.uuid4().hex[:8]}"
    with auth_registry.admin() as http:
        assert http.delete(f"/api/v1/repositories/{name}").status_code in (202, 404)
        events = http.get("/api/v1/audit", params={"target": name}).json()["items"]

    assert [(e["action"], e["actor"]) for e in events] == [("repositories.delete", ADMIN[0])]


def test_audit_pages_newest_first_and_filters_by_actor(auth_registry: AuthRegistry) -> None:
    names = [f"page/{uuid.uuid4().hex[:8]}" for _ in range(3)]
    with auth_registry.admin() as http:
        for name in names:
            http.delete(f"/api/v1/repositories/{name}")
        first = http.get("/api/v1/audit", params={"target": "page/", "limit": 2}).json()
        second = http.get(
            "/api/v1/audit", params={"target": "page/", "limit": 2, "cursor": first["next_cursor"]}
        ).json()
        nobody = http.get("/api/v1/audit", params={"actor": "nobody-at-all"}).json()

    targets = [e["target"] for e in first["items"] + second["items"]]
    assert targets[:3] == list(reversed(names))
    assert nobody["items"] == []


def test_audit_refuses_non_admins(auth_registry: AuthRegistry) -> None:
    user = auth_registry.create_user(f"q{uuid.uuid4().hex[:6]}")
    with auth_registry.client(user) as http:
        assert http.get("/api/v1/audit").status_code == 403
