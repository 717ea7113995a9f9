"""/api/v1/tasks against a running API with no worker (tasks stay queued)."""

from __future__ import annotations

import httpx

from testbed.task_platform import TaskPlatform


def test_create_answers_202_with_location_and_the_queued_record(api: httpx.Client) -> None:
    response = api.post("/api/v1/tasks", json={"kind": "noop", "params": {"steps": 2}})
    assert response.status_code == 202
    task = response.json()
    assert response.headers["Location"] == f"/api/v1/tasks/{task['id']}"
    assert task["state"] == "queued"
    assert task["trigger"] == "api"
    assert task["params"] == {"steps": 2}
    assert task["sent_at"] is not None  # the message reached the broker
    assert api.get(response.headers["Location"]).json()["id"] == task["id"]


def test_trigger_cli_is_recorded_and_schedule_is_refused(api: httpx.Client) -> None:
    ok = api.post("/api/v1/tasks", json={"kind": "noop", "trigger": "cli"})
    assert ok.status_code == 202 and ok.json()["trigger"] == "cli"
    refused = api.post("/api/v1/tasks", json={"kind": "noop", "trigger": "schedule"})
    assert refused.status_code == 422


def test_unknown_kind_is_422_naming_the_known_kinds(api: httpx.Client) -> None:
    response = api.post("/api/v1/tasks", json={"kind": "defrag"})
    assert response.status_code == 422
    assert "defrag" in response.json()["detail"]
    assert "purge_uploads" in response.json()["detail"]


def test_invalid_params_are_422_naming_the_key(api: httpx.Client) -> None:
    response = api.post("/api/v1/tasks", json={"kind": "purge_uploads", "params": {"age": "soon"}})
    assert response.status_code == 422
    assert "params.age" in response.json()["detail"]
    unknown = api.post("/api/v1/tasks", json={"kind": "purge_uploads", "params": {"agee": "1h"}})
    assert unknown.status_code == 422
    assert "params.agee" in unknown.json()["detail"]


def test_durations_in_params_take_json_numbers_of_seconds(api: httpx.Client) -> None:
    negative = api.post("/api/v1/tasks", json={"kind": "gc", "params": {"grace_period": -1}})
    assert negative.status_code == 422
    assert negative.json()["detail"] == (
        "params.grace_period: a duration must not be negative, got -1"
    )
    created = api.post("/api/v1/tasks", json={"kind": "gc", "params": {"grace_period": 0}})
    assert created.status_code == 202, created.text
    task = created.json()
    try:
        assert task["params"] == {"grace_period": "0s"}  # stored as text, as "90s" would be
    finally:  # gc is exclusive: a queued one would refuse the other tests' exclusive tasks
        assert api.post(f"/api/v1/tasks/{task['id']}/cancel").status_code == 200


def test_malformed_bodies_are_422_with_detail(api: httpx.Client) -> None:
    for body in (b"{", b"[]", b'{"params": {}}', b'{"kind": "noop", "color": "red"}'):
        response = api.post(
            "/api/v1/tasks", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, body
        assert "detail" in response.json()


def test_unknown_task_is_404_everywhere(api: httpx.Client) -> None:
    missing = "01a21a58-c3b8-7ac8-9cff-562483c3af22"
    for method, path in (
        ("GET", f"/api/v1/tasks/{missing}"),
        ("GET", f"/api/v1/tasks/{missing}/log"),
        ("POST", f"/api/v1/tasks/{missing}/cancel"),
        ("POST", f"/api/v1/tasks/{missing}/retry"),
        ("GET", "/api/v1/tasks/not-an-id"),
    ):
        response = api.request(method, path)
        assert response.status_code == 404, path
        assert "not found" in response.json()["detail"]


def test_list_pages_newest_first_through_the_cursor(api_platform: TaskPlatform) -> None:
    api = api_platform.api()
    created = [api_platform.enqueue("noop", steps=i)["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"kind": "noop", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.get("/api/v1/tasks", params=params).json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True)
    assert seen[:5] == created[::-1]


def test_list_filters_by_kind_and_state(api_platform: TaskPlatform) -> None:
    api = api_platform.api()
    task = api_platform.enqueue("purge_uploads", dry_run=True)
    api.post(f"/api/v1/tasks/{task['id']}/cancel")
    cancelled = api.get("/api/v1/tasks", params={"kind": "purge_uploads", "state": "cancelled"})
    items = cancelled.json()["items"]
    assert task["id"] in [item["id"] for item in items]
    assert {(item["kind"], item["state"]) for item in items} == {("purge_uploads", "cancelled")}


def test_bad_list_parameters_are_rejected(api: httpx.Client) -> None:
    assert api.get("/api/v1/tasks", params={"cursor": "zz"}).status_code == 400
    assert api.get("/api/v1/tasks", params={"limit": 0}).status_code == 422
    assert api.get("/api/v1/tasks", params={"limit": 501}).status_code == 422
    assert api.get("/api/v1/tasks", params={"state": "sleeping"}).status_code == 422


def test_cancel_of_a_queued_task_cancels_it_at_once(api_platform: TaskPlatform) -> None:
    task = api_platform.enqueue("noop")
    response = api_platform.api().post(f"/api/v1/tasks/{task['id']}/cancel")
    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"
    assert response.json()["finished_at"] is not None
    assert (
        "cancelled while queued" in api_platform.api().get(f"/api/v1/tasks/{task['id']}/log").text
    )


def test_cancel_of_a_finished_task_is_409(api_platform: TaskPlatform) -> None:
    task = api_platform.enqueue("noop")
    api_platform.api().post(f"/api/v1/tasks/{task['id']}/cancel")
    again = api_platform.api().post(f"/api/v1/tasks/{task['id']}/cancel")
    assert again.status_code == 409
    assert "already cancelled" in again.json()["detail"]


def test_retry_of_a_cancelled_task_enqueues_a_new_one(api_platform: TaskPlatform) -> None:
    task = api_platform.enqueue("purge_uploads", age="1h")
    api_platform.api().post(f"/api/v1/tasks/{task['id']}/cancel")
    response = api_platform.api().post(f"/api/v1/tasks/{task['id']}/retry")
    assert response.status_code == 202
    retried = response.json()
    assert retried["id"] != task["id"]
    assert retried["retry_of"] == task["id"]
    assert (retried["kind"], retried["params"], retried["state"]) == (
        "purge_uploads",
        {"age": "1h"},
        "queued",
    )
    assert response.headers["Location"] == f"/api/v1/tasks/{retried['id']}"


def test_retry_of_an_unfinished_task_is_409(api_platform: TaskPlatform) -> None:
    task = api_platform.enqueue("noop")
    response = api_platform.api().post(f"/api/v1/tasks/{task['id']}/retry")
    assert response.status_code == 409
    assert "queued" in response.json()["detail"]


def test_log_is_plain_text(api_platform: TaskPlatform) -> None:
    task = api_platform.enqueue("noop")
    api_platform.api().post(f"/api/v1/tasks/{task['id']}/cancel")
    response = api_platform.api().get(f"/api/v1/tasks/{task['id']}/log")
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.endswith("\n")


def test_openapi_documents_the_task_and_schedule_routes(api: httpx.Client) -> None:
    paths = api.get("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/tasks",
        "/api/v1/tasks/{task_id}",
        "/api/v1/tasks/{task_id}/log",
        "/api/v1/tasks/{task_id}/cancel",
        "/api/v1/tasks/{task_id}/retry",
        "/api/v1/schedules",
        "/api/v1/schedules/{schedule_id}",
    ):
        assert path in paths
    assert "409" in paths["/api/v1/tasks/{task_id}/cancel"]["post"]["responses"]
