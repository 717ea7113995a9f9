"""The body of every Celery task: claim the record, run the kind's executor
(worker/executors.py) under a heartbeat, then record how it ended (or schedule a retry)."""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import OperationalError

from registry.db.database import Database, open_database
from registry.maintenance.outcome import FailedWithResult
from registry.maintenance.progress import TaskCancelled
from registry.tasks.limits import TIME_LIMITS
from registry.tasks.models import TaskRow, utcnow
from registry.tasks.records import get_task
from registry.tasks.transitions import claim, fail, finish_cancelled, succeed, to_retrying
from worker.celery_app import HthCelery
from worker.client import send_message
from worker.context import Heartbeat, RecordSink, Superseded, TaskContext
from worker.executors import EXECUTORS
from worker.metrics import attempt as metered_attempt
from worker.retries import backoff, describe, is_transient

log = logging.getLogger("hth.tasks")


def run_task(task: Task, task_id: str) -> None:
    app: HthCelery = task.app
    try:
        db = open_database(app.settings, migrate=False)  # run_worker migrated
        worker = f"{task.request.hostname} (pid {os.getpid()})"
        attempt = claim(db, task_id, task.request.id, worker)
    except OperationalError as exc:  # the database is down: try this message again later
        raise task.retry(exc=exc, countdown=5, max_retries=60) from exc
    if not attempt.attempt:
        log.info("task %s: message %s dropped: %s", task_id, task.request.id, attempt.refused)
        return
    _execute(app, db, get_task(db, task_id), attempt.attempt)


def _execute(app: HthCelery, db: Database, row: TaskRow, attempt: int) -> None:
    with metered_attempt(row.kind) as metered:
        metered.outcome = _run(app, db, row, attempt)


def _run(app: HthCelery, db: Database, row: TaskRow, attempt: int) -> str:
    """Runs one attempt; how it ended (worker.metrics.OUTCOMES)."""
    settings = app.settings
    execute = EXECUTORS[row.kind]
    sink = RecordSink(db, row.id, attempt)
    interval = settings.queue.heartbeat.total_seconds()
    try:
        # Inside: applying the newest configuration generation may fail (a key that cannot
        # decrypt its secrets), and that must end the task, not leave it running.
        ctx = TaskContext(row.id, row.kind, row.params, attempt, settings, db, sink)
        with Heartbeat(sink, interval):
            result = execute(ctx)
            ctx.progress.flush()
    except TaskCancelled:
        finish_cancelled(db, row.id, attempt)
        return "cancelled"
    except Superseded:
        log.warning("task %s: attempt %d was superseded; stopping", row.id, attempt)
        return "superseded"
    except FailedWithResult as exc:  # it did its work and found it wanting: no retry
        log.error("task %s (%s) failed: %s", row.id, row.kind, describe(exc))
        fail(db, row.id, attempt, describe(exc), exc.result)
        return "failed"
    except SoftTimeLimitExceeded:
        limit = TIME_LIMITS[row.kind].soft_time_limit
        error = f"stopped: exceeded its time limit of {limit:.0f}s"
        fail(db, row.id, attempt, error)
        return "failed"
    except Exception as exc:  # noqa: BLE001 - every failure ends in the record
        return _after_error(app, db, row, attempt, exc)
    succeed(db, row.id, attempt, result)
    return "succeeded"


def _after_error(app: HthCelery, db: Database, row: TaskRow, attempt: int, exc: Exception) -> str:
    error = describe(exc)
    if not is_transient(exc):
        log.exception("task %s (%s) failed", row.id, row.kind)
        fail(db, row.id, attempt, error)
        return "failed"
    if attempt >= row.max_attempts:
        fail(db, row.id, attempt, f"gave up after {attempt} attempts: {error}")
        return "failed"
    queue = app.settings.queue
    base = queue.retry_backoff.total_seconds()
    cap = queue.retry_backoff_max.total_seconds()
    delay = backoff(attempt, base, cap)
    retry_at = utcnow() + timedelta(seconds=delay)
    line = f"transient error: {error}; retry {attempt + 1} in {delay:.1f}s"
    celery_id = to_retrying(db, row.id, attempt, error, retry_at, line)
    if celery_id is None:  # a cancel was asked meanwhile (or another attempt took over)
        finish_cancelled(db, row.id, attempt)
        return "cancelled"
    log.warning("task %s: %s; retrying in %.1fs", row.id, error, delay)
    send_message(db, app.settings, row, celery_id, countdown=delay)
    return "retried"
