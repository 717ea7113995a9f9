"""The reaper, in-process, against a real Redis (or the filesystem transport) and SQLite:
lost messages are sent again, once, tasks of dead workers are queued again or failed."""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import update

from registry.config import Settings, parse_settings
from registry.db.database import Database, open_database
from registry.tasks.models import TaskRow, utcnow
from registry.tasks.records import NewTask, create_task, get_task, unstarted_since
from registry.tasks.states import State, Trigger
from registry.tasks.transitions import claim, reassign_message, to_retrying
from scheduler.reaper import reap
from testbed.task_platform import RedisNamespace
from worker.broker_queue import waiting_ids
from worker.celery_app import queue_folder
from worker.client import enqueue

LATER = timedelta(minutes=5)


def backdate(db: Database, task_id: str, by: timedelta) -> None:
    """The task as if it had been created, sent and last changed `by` earlier."""
    tasks = TaskRow.__table__
    row = get_task(db, task_id)
    assert row.sent_at is not None
    with db.engine.begin() as connection:
        connection.execute(
            update(tasks)
            .where(tasks.c.id == task_id)
            .values(sent_at=row.sent_at - by, updated_at=row.updated_at - by)
        )


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


# --- messages that reached the broker but whose task no worker started -------------------


@pytest.fixture(params=["filesystem", "redis"])
def transport(request: pytest.FixtureRequest, tmp_path: Path, settings: Settings) -> Settings:
    """The reaper's settings on either transport (the filesystem one under tmp_path)."""
    if request.param == "redis":
        return settings
    return parse_settings({"data_dir": str(tmp_path / "fs"), "queue": {"start_deadline": "60s"}})


def take_from_broker(settings: Settings, message_id: str) -> None:
    """Remove the message from the broker's queue, as a worker that took it and died did."""
    if settings.queue.broker_url is None:
        folder = queue_folder(settings) / "messages"
        [name] = [n for n in os.listdir(folder) if message_id in n]
        (folder / name).unlink()
        return
    client = redis.Redis.from_url(settings.queue.broker_url)
    try:
        key = f"{settings.queue.key_prefix}hth"
        [raw] = [m for m in client.lrange(key, 0, -1) if message_id.encode() in m]
        assert client.lrem(key, 1, raw) == 1
    finally:
        client.close()


RESENT = "of being sent, and its message left the broker's queue; sending it again"


def test_a_message_still_waiting_in_the_broker_is_left_there(transport: Settings) -> None:
    db = open_database(transport)
    task = enqueue(db, transport, "noop", {}, Trigger.API)
    reap(db, transport, utcnow() + LATER)
    row = get_task(db, task.id)
    assert (row.celery_id, row.sent_at) == (task.celery_id, task.sent_at)
    assert waiting_ids(transport) == {task.celery_id}


def test_a_message_taken_but_never_started_is_sent_again_once_per_deadline(
    transport: Settings,
) -> None:
    db = open_database(transport)
    task = enqueue(db, transport, "noop", {}, Trigger.API)
    take_from_broker(transport, task.celery_id)
    reap(db, transport, utcnow() + timedelta(seconds=30))  # within the deadline: waits
    assert get_task(db, task.id).celery_id == task.celery_id
    reap(db, transport, utcnow() + LATER)
    resent = get_task(db, task.id)
    assert resent.celery_id != task.celery_id and resent.sent_at is not None
    assert waiting_ids(transport) == {resent.celery_id}
    assert resent.log.count(RESENT) == 1
    reap(db, transport, utcnow() + LATER)  # its new message waits in the queue: left alone
    assert get_task(db, task.id).celery_id == resent.celery_id
    take_from_broker(transport, resent.celery_id)  # lost again: the next expiry re-sends
    reap(db, transport, utcnow() + 2 * LATER)
    assert get_task(db, task.id).log.count(RESENT) == 2


def test_reapers_running_at_once_send_a_lost_message_once(
    db: Database, settings: Settings, namespace: RedisNamespace
) -> None:
    task = enqueue(db, settings, "noop", {}, Trigger.API)
    take_from_broker(settings, task.celery_id)
    # Sent long ago, and the reapers run now: a clock set ahead instead would make the
    # message one reaper has just re-sent, and not yet marked sent, look lost as well.
    backdate(db, task.id, LATER)
    start = threading.Barrier(4)

    def reaper() -> None:
        start.wait()
        reap(db, settings, utcnow())

    threads = [threading.Thread(target=reaper) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert get_task(db, task.id).log.count(RESENT) == 1
    assert queued_messages(namespace) == 1


def test_a_task_claimed_while_a_reaper_resends_it_runs_once(
    db: Database, settings: Settings
) -> None:
    later = utcnow() + LATER
    first = enqueue(db, settings, "noop", {}, Trigger.API)
    [seen] = unstarted_since(db, later, later)  # what a reaper read
    assert claim(db, first.id, first.celery_id, "w1").attempt == 1  # the worker was first
    assert reassign_message(db, seen, "lost; sending it again") is None
    assert get_task(db, first.id).state == State.RUNNING

    second = enqueue(db, settings, "noop", {}, Trigger.API)
    [seen] = [row for row in unstarted_since(db, later, later) if row.id == second.id]
    fresh = reassign_message(db, seen, "lost; sending it again")  # the reaper was first
    assert fresh is not None
    refused = claim(db, second.id, second.celery_id, "w1")  # the old message turns up
    assert refused.attempt == 0 and refused.refused.startswith("stale message")
    assert claim(db, second.id, fresh, "w2").attempt == 1


def test_an_overdue_retry_is_sent_again_once_not_at_every_tick(
    db: Database, settings: Settings, namespace: RedisNamespace
) -> None:
    task = create_task(db, NewTask("noop", {}, Trigger.API, max_attempts=2))
    claim(db, task.id, task.celery_id, "w1")
    to_retrying(db, task.id, 1, "timeout", utcnow(), "retry")
    reap(db, settings, utcnow() + LATER)
    resent = get_task(db, task.id)
    take_from_broker(settings, resent.celery_id)  # its worker took it and died
    reap(db, settings, utcnow() + timedelta(seconds=10))  # within resend_after of the resend
    assert get_task(db, task.id).celery_id == resent.celery_id
    reap(db, settings, utcnow() + LATER)
    assert get_task(db, task.id).celery_id != resent.celery_id
