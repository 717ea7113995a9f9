"""Guarded state changes of a task record: each is `UPDATE … WHERE state=<expected>`.

A worker's writes are also guarded by its attempt number (a fencing token): once the task
was handed to another attempt, the old one's updates match nothing and it stops. Log lines
go into the same statement as the change they describe: one write per transition.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, update

from registry.db.database import Database
from registry.db.rows import col
from registry.tasks.errors import IllegalTransition
from registry.tasks.ids import new_id
from registry.tasks.models import TaskRow, utcnow
from registry.tasks.records import find_task, get_task, with_line
from registry.tasks.states import ACTIVE, TERMINAL, WAITING, State


def _update(
    db: Database,
    task_id: str,
    expect: Iterable[State],
    *guards: ColumnElement[bool],
    **values: Any,
) -> bool:
    stmt = (
        update(TaskRow)
        .where(col(TaskRow.id) == task_id, col(TaskRow.state).in_(list(expect)), *guards)
        .values(updated_at=utcnow(), **values)
    )
    with db.engine.begin() as connection:
        return connection.execute(stmt).rowcount == 1


def _attempt_is(attempt: int) -> ColumnElement[bool]:
    return col(TaskRow.attempts) == attempt


@dataclass(frozen=True)
class Claim:
    """The outcome of a worker asking to run a task: an attempt number, or why not."""

    attempt: int = 0
    refused: str = ""


def claim(db: Database, task_id: str, celery_id: str, worker: str) -> Claim:
    """Start (or, after a lost worker, restart) the task for the message `celery_id`."""
    row = find_task(db, task_id)
    if row is None:
        return Claim(refused="no such task record")
    if row.celery_id != celery_id:
        return Claim(refused=f"stale message; the task was re-sent as {row.celery_id}")
    state = State(row.state)
    if state in TERMINAL:
        return Claim(refused=f"already {state}")
    owned = (_attempt_is(row.attempts), col(TaskRow.celery_id) == celery_id)
    now = utcnow()
    if state == State.CANCELLING:  # its worker died while stopping: nothing is left to stop
        done = {"state": State.CANCELLED, "finished_at": now, "log": with_line("cancelled")}
        _update(db, task_id, [state], *owned, **done)
        return Claim(refused="cancelled")
    lost = f"worker lost during attempt {row.attempts}" if state == State.RUNNING else None
    if row.attempts >= row.max_attempts:
        error = f"gave up after {row.attempts} attempts: {lost or row.error or 'no attempts'}"
        ended = {"state": State.FAILED, "error": error, "finished_at": now}
        _update(db, task_id, [state], *owned, **ended, log=with_line(f"failed: {error}"))
        return Claim(refused=error)
    attempt = row.attempts + 1
    started = f"attempt {attempt} of {row.max_attempts} started on {worker}"
    claimed = _update(
        db,
        task_id,
        [state],
        *owned,
        state=State.RUNNING,
        attempts=attempt,
        worker=worker,
        started_at=func.coalesce(col(TaskRow.started_at), now),
        heartbeat_at=now,
        retry_at=None,
        error=lost or row.error,
        log=with_line(f"{lost}; restarting", started) if lost else with_line(started),
    )
    return Claim(attempt=attempt) if claimed else Claim(refused="claimed by someone else")


def touch(db: Database, task_id: str, attempt: int, **values: Any) -> State | None:
    """Refresh the heartbeat (and `values`); the current state, or None if no longer ours."""
    stmt = (
        update(TaskRow)
        .where(col(TaskRow.id) == task_id, col(TaskRow.state).in_(ACTIVE), _attempt_is(attempt))
        .values(heartbeat_at=utcnow(), **values)
        .returning(col(TaskRow.state))
    )
    with db.engine.begin() as connection:
        state = connection.execute(stmt).scalar()
    return State(state) if state is not None else None


def report_progress(
    db: Database, task_id: str, attempt: int, progress: dict[str, Any]
) -> State | None:
    return touch(db, task_id, attempt, progress=progress, updated_at=utcnow())


def _finish(
    db: Database, task_id: str, attempt: int, state: State, line: str, **values: Any
) -> bool:
    done = {"state": state, "finished_at": utcnow(), "log": with_line(line)}
    return _update(db, task_id, ACTIVE, _attempt_is(attempt), **done, **values)


def succeed(db: Database, task_id: str, attempt: int, result: dict[str, Any]) -> bool:
    # A cancel that arrives after the last unit of work does not undo a finished job.
    return _finish(db, task_id, attempt, State.SUCCEEDED, "succeeded", result=result, error=None)


def fail(
    db: Database, task_id: str, attempt: int, error: str, result: dict[str, Any] | None = None
) -> bool:
    """End the attempt as failed; `result` keeps what a task that ran to its end found."""
    line = f"failed: {error}"
    return _finish(db, task_id, attempt, State.FAILED, line, error=error, result=result)


def finish_cancelled(db: Database, task_id: str, attempt: int) -> bool:
    line = "cancelled; stopped between units of work"
    return _finish(db, task_id, attempt, State.CANCELLED, line)


def to_retrying(
    db: Database, task_id: str, attempt: int, error: str, retry_at: datetime, line: str
) -> str | None:
    """Wait for an automatic retry; the new message id to send, or None if no longer ours."""
    celery_id = new_id()
    moved = _update(
        db,
        task_id,
        [State.RUNNING],
        _attempt_is(attempt),
        state=State.RETRYING,
        error=error,
        retry_at=retry_at,
        celery_id=celery_id,
        sent_at=None,
        log=with_line(line),
    )
    return celery_id if moved else None


def mark_sent(db: Database, task_id: str, celery_id: str) -> datetime | None:
    """Record that the message reached the broker (once, for the current message)."""
    now = utcnow()
    stmt = (
        update(TaskRow)
        .where(col(TaskRow.id) == task_id, col(TaskRow.celery_id) == celery_id)
        .where(col(TaskRow.sent_at).is_(None))
        .values(sent_at=now)
    )
    with db.engine.begin() as connection:
        return now if connection.execute(stmt).rowcount == 1 else None


def request_cancel(db: Database, task_id: str) -> TaskRow:
    """Cancel a waiting task at once, ask a running one to stop; 409 once it has finished."""
    for _ in range(5):  # the state may change under us; the guards tell
        row = get_task(db, task_id)
        state = State(row.state)
        if state in TERMINAL:
            raise IllegalTransition(f"task {task_id} is already {state}; it cannot be cancelled")
        if state == State.CANCELLING:
            return row
        if state in WAITING:
            line = with_line(f"cancelled while {state}")
            if _update(db, task_id, [state], state=State.CANCELLED, finished_at=utcnow(), log=line):
                return get_task(db, task_id)
        else:
            line = with_line("cancel requested; stopping at the next checkpoint")
            if _update(db, task_id, [State.RUNNING], state=State.CANCELLING, log=line):
                return get_task(db, task_id)
    raise IllegalTransition(f"task {task_id} keeps changing state; try again")


def reassign_message(db: Database, row: TaskRow, line: str) -> str | None:
    """Give a waiting task a fresh message id (its old message is lost); None if it moved on
    meanwhile (a worker claimed it, or another reaper re-sent it first). Should the old
    message still turn up, its claim is refused as stale: the task never runs twice."""
    celery_id = new_id()
    # A re-sent retry runs now: the next overdue check counts from here, not from the past.
    due = {"retry_at": utcnow()} if row.state == State.RETRYING else {}
    moved = _update(
        db,
        row.id,
        [State(row.state)],
        col(TaskRow.celery_id) == row.celery_id,
        celery_id=celery_id,
        sent_at=None,
        log=with_line(line),
        **due,
    )
    return celery_id if moved else None


def recover_dead(db: Database, row: TaskRow, reason: str) -> str | None:
    """A task whose worker died: queue it again (the new message id) or end it."""
    guards = (_attempt_is(row.attempts), col(TaskRow.heartbeat_at) == row.heartbeat_at)
    now = utcnow()
    if row.state == State.CANCELLING:
        ended = {"state": State.CANCELLED, "finished_at": now, "log": with_line(reason)}
        _update(db, row.id, [State.CANCELLING], *guards, **ended)
        return None
    if row.attempts >= row.max_attempts:
        error = f"gave up after {row.attempts} attempts: {reason}"
        ended = {"state": State.FAILED, "error": error, "finished_at": now}
        _update(db, row.id, [State.RUNNING], *guards, **ended, log=with_line(f"failed: {error}"))
        return None
    celery_id = new_id()
    requeued = _update(
        db,
        row.id,
        [State.RUNNING],
        *guards,
        state=State.QUEUED,
        error=reason,
        celery_id=celery_id,
        sent_at=None,
        log=with_line(f"{reason}; queued again"),
    )
    return celery_id if requeued else None
