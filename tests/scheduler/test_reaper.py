"""The reaper, in-process, against a real Redis and SQLite: lost messages are sent again,
tasks of dead workers are queued again or failed."""

from __future__ import annotations

from datetime import timedelta

import redis

from registry.config import Settings
from registry.tasks.db import Database
from registry.tasks.models import utcnow
from registry.tasks.records import NewTask, create_task, get_task
from registry.tasks.states import State, Trigger
from registry.tasks.transitions import claim, to_retrying
from scheduler.reaper import reap
from tests.support.task_platform import RedisNamespace
from worker.client import enqueue

LATER = timedelta(minutes=5)


def queued_messages(namespace: RedisNamespace) -> int:
    client = redis.Redis.from_url(namespace.url)
    try:
        return int(client.llen(f"{namespace.prefix}hth"))
    finally:
        client.close()


def test_a_task_enqueued_while_the_broker_is_down_is_sent_later(
    db: Database, settings: Settings, namespace: RedisNamespace
) -> None:
    down = settings.model_copy(deep=True)
    down.queue.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there
    task = enqueue(db, down, "noop", {}, Trigger.API)
    assert (task.state, task.sent_at) == (State.QUEUED, None)
    assert queued_messages(namespace) == 0
    reap(db, settings, utcnow() + LATER)
    resent = get_task(db, task.id)
    assert resent.sent_at is not None
    assert resent.celery_id != task.celery_id  # should the first one turn up, it is stale
    assert queued_messages(namespace) == 1
    assert "never reached the broker; sending it again" in resent.log


def test_a_recently_created_unsent_task_is_left_alone(db: Database, settings: Settings) -> None:
    task = create_task(db, NewTask("noop", {}, Trigger.API, max_attempts=2))
    reap(db, settings, utcnow())
    assert get_task(db, task.id).celery_id == task.celery_id


def test_an_overdue_retry_is_sent_again(
    db: Database, settings: Settings, namespace: RedisNamespace
) -> None:
    task = create_task(db, NewTask("noop", {}, Trigger.API, max_attempts=2))
    claim(db, task.id, task.celery_id, "w1")
    message = to_retrying(db, task.id, 1, "timeout", utcnow(), "retry")
    reap(db, settings, utcnow() + LATER)
    row = get_task(db, task.id)
    assert row.state == State.RETRYING and row.celery_id != message
    assert row.sent_at is not None and queued_messages(namespace) == 1


def test_the_task_of_a_silent_worker_is_queued_again(
    db: Database, settings: Settings, namespace: RedisNamespace
) -> None:
    task = create_task(db, NewTask("noop", {}, Trigger.API, max_attempts=2))
    claim(db, task.id, task.celery_id, "w1")
    reap(db, settings, utcnow() + LATER)
    row = get_task(db, task.id)
    assert (row.state, row.attempts) == (State.QUEUED, 1)
    assert row.error is not None and row.error.startswith("worker lost: w1 sent no heartbeat")
    assert row.sent_at is not None and queued_messages(namespace) == 1


def test_a_silent_task_without_attempts_left_fails(db: Database, settings: Settings) -> None:
    task = create_task(db, NewTask("noop", {}, Trigger.API, max_attempts=1))
    claim(db, task.id, task.celery_id, "w1")
    reap(db, settings, utcnow() + LATER)
    row = get_task(db, task.id)
    assert row.state == State.FAILED
    assert row.error is not None and row.error.startswith("gave up after 1 attempts: worker lost")


def test_a_live_worker_is_left_alone(db: Database, settings: Settings) -> None:
    task = create_task(db, NewTask("noop", {}, Trigger.API, max_attempts=2))
    claim(db, task.id, task.celery_id, "w1")
    reap(db, settings, utcnow())
    assert get_task(db, task.id).state == State.RUNNING
