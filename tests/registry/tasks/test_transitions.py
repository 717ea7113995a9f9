"""Guarded transitions of task records, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from registry.db.database import Database
from registry.tasks.errors import IllegalTransition, TaskNotFound
from registry.tasks.models import TaskRow, utcnow
from registry.tasks.records import NewTask, append_log, create_task, get_task
from registry.tasks.states import State, Trigger
from registry.tasks.transitions import (
    claim,
    fail,
    finish_cancelled,
    mark_sent,
    reassign_message,
    recover_dead,
    request_cancel,
    succeed,
    to_retrying,
    touch,
)


def new_task(db: Database, max_attempts: int = 3) -> TaskRow:
    return create_task(db, NewTask("noop", {}, Trigger.API, max_attempts=max_attempts))


def test_claim_starts_a_queued_task_as_attempt_one(db: Database) -> None:
    row = new_task(db)
    assert claim(db, row.id, row.celery_id, "w1").attempt == 1
    task = get_task(db, row.id)
    assert (task.state, task.attempts, task.worker) == (State.RUNNING, 1, "w1")
    assert task.started_at is not None and task.heartbeat_at is not None
    assert "attempt 1 of 3 started on w1" in task.log


def test_a_stale_message_is_refused(db: Database) -> None:
    row = new_task(db)
    outcome = claim(db, row.id, "some-other-message", "w1")
    assert outcome.attempt == 0 and "stale message" in outcome.refused
    assert get_task(db, row.id).state == State.QUEUED


def test_a_finished_task_is_not_run_again(db: Database) -> None:
    row = new_task(db)
    claim(db, row.id, row.celery_id, "w1")
    assert succeed(db, row.id, 1, {"ok": True})
    outcome = claim(db, row.id, row.celery_id, "w2")
    assert outcome.refused == "already succeeded"
    assert get_task(db, row.id).result == {"ok": True}


def test_a_redelivered_running_task_restarts_as_the_next_attempt(db: Database) -> None:
    row = new_task(db)
    claim(db, row.id, row.celery_id, "w1")
    assert claim(db, row.id, row.celery_id, "w2").attempt == 2
    task = get_task(db, row.id)
    assert (task.state, task.attempts, task.worker) == (State.RUNNING, 2, "w2")
    assert "worker lost during attempt 1" in task.log


def test_redelivery_after_the_last_attempt_fails_with_the_reason(db: Database) -> None:
    row = new_task(db, max_attempts=1)
    claim(db, row.id, row.celery_id, "w1")
    outcome = claim(db, row.id, row.celery_id, "w2")
    assert outcome.attempt == 0
    task = get_task(db, row.id)
    assert task.state == State.FAILED
    assert task.error == "gave up after 1 attempts: worker lost during attempt 1"


def test_writes_of_a_superseded_attempt_match_nothing(db: Database) -> None:
    row = new_task(db)
    claim(db, row.id, row.celery_id, "w1")
    claim(db, row.id, row.celery_id, "w2")  # attempt 2 took over
    assert touch(db, row.id, 1) is None
    assert not succeed(db, row.id, 1, {})
    assert not fail(db, row.id, 1, "late")
    append_log(db, row.id, "from the old attempt", attempt=1)
    assert "from the old attempt" not in get_task(db, row.id).log
    assert touch(db, row.id, 2) == State.RUNNING


def test_cancel_of_a_waiting_task_is_immediate(db: Database) -> None:
    row = new_task(db)
    assert request_cancel(db, row.id).state == State.CANCELLED
    assert claim(db, row.id, row.celery_id, "w1").refused == "already cancelled"


def test_cancel_of_a_running_task_asks_it_to_stop(db: Database) -> None:
    row = new_task(db)
    claim(db, row.id, row.celery_id, "w1")
    assert request_cancel(db, row.id).state == State.CANCELLING
    assert request_cancel(db, row.id).state == State.CANCELLING  # asking again is harmless
    assert touch(db, row.id, 1) == State.CANCELLING
    assert finish_cancelled(db, row.id, 1)
    assert get_task(db, row.id).state == State.CANCELLED


def test_cancel_of_a_finished_task_is_illegal(db: Database) -> None:
    row = new_task(db)
    claim(db, row.id, row.celery_id, "w1")
    fail(db, row.id, 1, "boom")
    with pytest.raises(IllegalTransition, match="already failed"):
        request_cancel(db, row.id)
    with pytest.raises(TaskNotFound):
        request_cancel(db, "01a21a58-c3b8-7ac8-9cff-562483c3af22")


def test_a_retry_gets_a_new_message_and_the_old_one_goes_stale(db: Database) -> None:
    row = new_task(db)
    claim(db, row.id, row.celery_id, "w1")
    new_message = to_retrying(db, row.id, 1, "timeout", utcnow() + timedelta(seconds=1), "retry")
    assert new_message is not None
    task = get_task(db, row.id)
    assert (task.state, task.error, task.sent_at) == (State.RETRYING, "timeout", None)
    assert claim(db, row.id, row.celery_id, "w1").attempt == 0
    assert mark_sent(db, row.id, new_message)
    assert claim(db, row.id, new_message, "w2").attempt == 2


def test_mark_sent_only_for_the_current_message(db: Database) -> None:
    row = new_task(db)
    fresh = reassign_message(db, row, "lost")
    assert fresh is not None
    assert not mark_sent(db, row.id, row.celery_id)
    assert mark_sent(db, row.id, fresh)
    assert not mark_sent(db, row.id, fresh)  # once


def test_a_dead_workers_task_is_queued_again_until_the_budget_is_spent(db: Database) -> None:
    row = new_task(db, max_attempts=2)
    claim(db, row.id, row.celery_id, "w1")
    message = recover_dead(db, get_task(db, row.id), "worker lost: silent")
    assert message is not None
    task = get_task(db, row.id)
    assert (task.state, task.error, task.sent_at) == (State.QUEUED, "worker lost: silent", None)
    assert claim(db, row.id, message, "w2").attempt == 2
    assert recover_dead(db, get_task(db, row.id), "worker lost again") is None
    task = get_task(db, row.id)
    assert (task.state, task.error) == (State.FAILED, "gave up after 2 attempts: worker lost again")


def test_recovery_yields_to_a_heartbeat_that_came_after_the_read(db: Database) -> None:
    row = new_task(db)
    claim(db, row.id, row.celery_id, "w1")
    seen = get_task(db, row.id)
    touch(db, row.id, 1)  # the worker is alive after all
    assert recover_dead(db, seen, "worker lost") is None
    assert get_task(db, row.id).state == State.RUNNING


def test_a_dead_cancelling_task_ends_cancelled(db: Database) -> None:
    row = new_task(db)
    claim(db, row.id, row.celery_id, "w1")
    request_cancel(db, row.id)
    assert recover_dead(db, get_task(db, row.id), "worker lost") is None
    assert get_task(db, row.id).state == State.CANCELLED


def test_a_cancel_after_the_last_unit_of_work_does_not_undo_success(db: Database) -> None:
    row = new_task(db)
    claim(db, row.id, row.celery_id, "w1")
    request_cancel(db, row.id)
    assert succeed(db, row.id, 1, {"done": 1})
    assert get_task(db, row.id).state == State.SUCCEEDED
