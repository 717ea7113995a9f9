"""Beat ticks in-process with a controlled clock (real SQLite and Redis, no beat process)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from registry.config import Settings
from registry.db.database import Database
from registry.tasks.records import get_task, list_tasks
from registry.tasks.schedules import ScheduleSpec, create_schedule, get_schedule, update_schedule
from registry.tasks.states import State
from registry.tasks.transitions import claim, succeed
from scheduler.beat import Beat

START = datetime(2025, 3, 1, 12, 0, 30, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def beat(db: Database, settings: Settings, clock: Clock, holder: str = "b1") -> Beat:
    return Beat(db, settings, holder, clock=clock)


def fired(db: Database, schedule_id: str) -> list[str]:
    return [row.id for row in list_tasks(db, schedule_id=schedule_id, limit=500)[0]]


def test_a_schedule_fires_at_its_cron_times_through_enqueue(
    db: Database, settings: Settings
) -> None:
    clock = Clock()
    schedule = create_schedule(db, ScheduleSpec("noop", {"steps": 2}, "* * * * *"))
    one = beat(db, settings, clock)
    one.tick()  # plans the first run: 12:01:00
    assert get_schedule(db, schedule.id).next_run_at == START.replace(minute=1, second=0)
    assert fired(db, schedule.id) == []
    clock.now = START.replace(minute=1, second=0)
    one.tick()
    [task_id] = fired(db, schedule.id)
    task = get_task(db, task_id)
    assert (task.trigger, task.params, task.scheduled_for) == ("schedule", {"steps": 2}, clock.now)
    assert task.sent_at is not None
    after = get_schedule(db, schedule.id)
    assert after.last_task_id == task_id and after.last_run_at == clock.now
    assert after.next_run_at == START.replace(minute=2, second=0)


def test_no_firing_while_the_previous_task_is_unfinished(db: Database, settings: Settings) -> None:
    clock = Clock()
    schedule = create_schedule(db, ScheduleSpec("noop", {}, "* * * * *"))
    one = beat(db, settings, clock)
    one.tick()
    clock.now += timedelta(minutes=1)
    one.tick()
    [first] = fired(db, schedule.id)
    clock.now += timedelta(minutes=1)
    one.tick()  # the first one is still queued: skipped
    assert fired(db, schedule.id) == [first]
    row = get_task(db, first)
    claim(db, first, row.celery_id, "w1")
    succeed(db, first, 1, {})
    clock.now += timedelta(minutes=1)
    one.tick()
    assert len(fired(db, schedule.id)) == 2


def test_only_the_beat_holding_the_lock_fires(db: Database, settings: Settings) -> None:
    clock = Clock()
    schedule = create_schedule(db, ScheduleSpec("noop", {}, "* * * * *"))
    leader, follower = beat(db, settings, clock, "a"), beat(db, settings, clock, "b")
    leader.tick()
    follower.tick()
    assert (leader.token, follower.token) == (1, None)
    for _ in range(3):
        clock.now += timedelta(minutes=1)
        follower.tick()
        leader.tick()
        follower.tick()
        done = get_task(db, fired(db, schedule.id)[0])
        claim(db, done.id, done.celery_id, "w")
        succeed(db, done.id, 1, {})
    assert len(fired(db, schedule.id)) == 3


def test_a_second_beat_takes_over_when_the_first_resigns(db: Database, settings: Settings) -> None:
    clock = Clock()
    schedule = create_schedule(db, ScheduleSpec("noop", {}, "* * * * *"))
    first, second = beat(db, settings, clock, "a"), beat(db, settings, clock, "b")
    first.tick()
    first.resign()
    clock.now += timedelta(minutes=1)
    second.tick()
    second.tick()
    assert second.token is not None and second.token > 1
    assert len(fired(db, schedule.id)) == 1


def test_an_edit_is_picked_up_on_the_next_tick(db: Database, settings: Settings) -> None:
    clock = Clock()
    schedule = create_schedule(db, ScheduleSpec("noop", {}, "* * * * *"))
    one = beat(db, settings, clock)
    one.tick()
    update_schedule(db, schedule.id, ScheduleSpec("noop", {}, "0 0 1 1 *"))
    one.tick()
    assert get_schedule(db, schedule.id).next_run_at == datetime(2026, 1, 1, tzinfo=UTC)
    update_schedule(db, schedule.id, ScheduleSpec("noop", {}, "* * * * *", enabled=False))
    clock.now += timedelta(minutes=5)
    one.tick()
    assert fired(db, schedule.id) == []
    assert get_schedule(db, schedule.id).next_run_at is None


def test_tasks_fired_by_a_schedule_are_queued_tasks(db: Database, settings: Settings) -> None:
    clock = Clock()
    schedule = create_schedule(db, ScheduleSpec("purge_uploads", {"dry_run": True}, "* * * * *"))
    one = beat(db, settings, clock)
    one.tick()
    clock.now += timedelta(minutes=1)
    one.tick()
    [task_id] = fired(db, schedule.id)
    assert get_task(db, task_id).state == State.QUEUED
