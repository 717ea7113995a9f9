"""Real beat processes (two of them) next to a registry/API and a worker: schedules added
through the REST API fire, once per period, and a second beat takes over a dead one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from testbed.task_platform import Component, TaskPlatform, wait_until

pytestmark = pytest.mark.integration


def fired(beats: TaskPlatform, schedule_id: str) -> list[dict[str, Any]]:
    page = beats.api().get("/api/v1/tasks", params={"schedule": schedule_id, "limit": 500})
    items: list[dict[str, Any]] = page.json()["items"]
    return sorted(items, key=lambda task: task["id"])


def last_role(beat: Component) -> str:
    roles = re.findall(r"beat \S+: (leading|standing by)", beat.log_text())
    return roles[-1] if roles else ""


@pytest.fixture()
def schedules(beats: TaskPlatform) -> Iterator[list[str]]:
    """Ids of schedules a test creates; deleted afterwards so that they stop firing."""
    created: list[str] = []
    yield created
    for schedule_id in created:
        beats.api().delete(f"/api/v1/schedules/{schedule_id}")


def add(beats: TaskPlatform, schedules: list[str], cron: str, **params: Any) -> str:
    body = {"kind": "noop", "params": params, "cron": cron}
    response = beats.api().post("/api/v1/schedules", json=body)
    assert response.status_code == 201, response.text
    schedules.append(response.json()["id"])
    return schedules[-1]


def test_a_schedule_added_through_the_api_fires_once_per_period(
    beats: TaskPlatform, schedules: list[str]
) -> None:
    schedule_id = add(beats, schedules, "* * * * * *")  # every second
    tasks = wait_until(lambda: len(t := fired(beats, schedule_id)) >= 4 and t, 30, "4 firings")
    assert {task["trigger"] for task in tasks} == {"schedule"}
    periods = [task["scheduled_for"] for task in tasks]
    assert len(periods) == len(set(periods)), "a period fired twice (two beats are running)"
    for task in tasks[:-1]:
        assert beats.wait_finished(task["id"])["state"] == "succeeded"


def test_no_firing_while_the_previous_task_is_unfinished(
    beats: TaskPlatform, schedules: list[str]
) -> None:
    schedule_id = add(beats, schedules, "* * * * * *", steps=12, step_seconds=0.1)
    wait_until(lambda: len(fired(beats, schedule_id)) >= 3, 40, "3 firings")
    beats.api().put(
        f"/api/v1/schedules/{schedule_id}",
        json={"kind": "noop", "params": {}, "cron": "* * * * * *", "enabled": False},
    )
    tasks = [beats.wait_finished(task["id"]) for task in fired(beats, schedule_id)]
    for earlier, later in zip(tasks, tasks[1:], strict=False):
        assert later["created_at"] >= earlier["finished_at"], (earlier, later)


def test_an_edit_through_the_api_is_picked_up_without_restart(
    beats: TaskPlatform, schedules: list[str]
) -> None:
    schedule_id = add(beats, schedules, "* * * * * *")
    wait_until(lambda: fired(beats, schedule_id), 30, "a first firing")
    body = {"kind": "noop", "params": {}, "cron": "0 0 1 1 *", "enabled": True}
    assert beats.api().put(f"/api/v1/schedules/{schedule_id}", json=body).status_code == 200
    planned = wait_until(
        lambda: (
            (s := beats.api().get(f"/api/v1/schedules/{schedule_id}").json())["next_run_at"] and s
        ),
        30,
        "beat planning the edited schedule",
    )
    assert planned["next_run_at"].endswith("-01-01T00:00:00Z")


def test_a_second_beat_takes_over_when_the_leader_dies(
    beats: TaskPlatform, schedules: list[str]
) -> None:
    running = [c for c in beats.components if c.name == "beat" and c.proc and c.proc.poll() is None]
    assert len(running) == 2
    schedule_id = add(beats, schedules, "* * * * * *")
    wait_until(lambda: fired(beats, schedule_id), 30, "a first firing")
    leader = next(c for c in running if last_role(c) == "leading")
    leader.kill()
    survivor = next(c for c in running if c is not leader)
    wait_until(lambda: last_role(survivor) == "leading", 30, "the survivor leading")
    before = len(fired(beats, schedule_id))
    wait_until(lambda: len(fired(beats, schedule_id)) >= before + 2, 30, "firings after takeover")
    periods = [task["scheduled_for"] for task in fired(beats, schedule_id)]
    assert len(periods) == len(set(periods))
