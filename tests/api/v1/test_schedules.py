"""/api/v1/schedules against a running API (beat is not needed to edit schedules)."""

from __future__ import annotations

import httpx
import pytest

SCHEDULE = {"kind": "purge_uploads", "params": {"dry_run": True}, "cron": "0 3 * * *"}


def test_create_answers_201_with_location_and_the_schedule(api: httpx.Client) -> None:
    response = api.post("/api/v1/schedules", json=SCHEDULE)
    assert response.status_code == 201
    schedule = response.json()
    assert response.headers["Location"] == f"/api/v1/schedules/{schedule['id']}"
    assert {k: schedule[k] for k in SCHEDULE} == SCHEDULE
    assert schedule["enabled"] is True
    assert api.get(response.headers["Location"]).json() == schedule


def test_put_replaces_the_schedule_and_resets_its_next_run(api: httpx.Client) -> None:
    created = api.post("/api/v1/schedules", json=SCHEDULE).json()
    changed = {**SCHEDULE, "cron": "*/5  * * * *", "enabled": False, "params": {}}
    response = api.put(f"/api/v1/schedules/{created['id']}", json=changed)
    assert response.status_code == 200
    updated = response.json()
    assert (updated["cron"], updated["enabled"], updated["params"]) == ("*/5 * * * *", False, {})
    assert updated["next_run_at"] is None
    assert updated["updated_at"] > created["updated_at"]


def test_delete_removes_the_schedule(api: httpx.Client) -> None:
    created = api.post("/api/v1/schedules", json=SCHEDULE).json()
    assert api.delete(f"/api/v1/schedules/{created['id']}").status_code == 204
    assert api.get(f"/api/v1/schedules/{created['id']}").status_code == 404
    assert api.delete(f"/api/v1/schedules/{created['id']}").status_code == 404


def test_list_pages_through_the_cursor(api: httpx.Client) -> None:
    ids = {api.post("/api/v1/schedules", json=SCHEDULE).json()["id"] for _ in range(3)}
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.get("/api/v1/schedules", params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert ids <= set(seen)
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"cron": "0 3 * *"}, "5 fields"),
        ({"cron": "0 3 * * * * *"}, "5 fields"),
        ({"cron": "61 3 * * *"}, "not a valid cron"),
        ({"kind": "defrag"}, "unknown task kind"),
        ({"params": {"dry_run": "maybe"}}, "params.dry_run"),
    ],
)
def test_invalid_schedules_are_422(
    api: httpx.Client, change: dict[str, object], needle: str
) -> None:
    response = api.post("/api/v1/schedules", json={**SCHEDULE, **change})
    assert response.status_code == 422
    assert needle in response.json()["detail"]


def test_missing_fields_are_422_and_unknown_ids_404(api: httpx.Client) -> None:
    assert api.post("/api/v1/schedules", json={"kind": "noop"}).status_code == 422
    assert api.get("/api/v1/schedules/nope").status_code == 404
    assert api.put("/api/v1/schedules/nope", json=SCHEDULE).status_code == 404
