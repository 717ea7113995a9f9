"""The one enqueue path, used by the REST API, the CLI and beat: write the record, then
send the message. A record whose message did not reach the broker keeps `sent_at` empty;
beat's reaper re-sends it, so no task waits in `queued` forever."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from registry.audit import task_enqueued
from registry.config import Settings
from registry.db.database import Database
from registry.tasks.errors import TaskConflict
from registry.tasks.kinds import exclusive_kinds, task_kind, validate_params
from registry.tasks.models import TaskRow
from registry.tasks.records import NewTask, create_task, unfinished_of_kinds
from registry.tasks.states import Trigger
from registry.tasks.transitions import mark_sent

log = logging.getLogger("hth.tasks")


def enqueue(
    db: Database,
    settings: Settings,
    kind: str,
    params: dict[str, Any],
    trigger: Trigger,
    *,
    schedule_id: str | None = None,
    scheduled_for: datetime | None = None,
    retry_of: str | None = None,
) -> TaskRow:
    """Validate, record (state queued), then send. Raises UnknownTaskKind / InvalidParams, and
    TaskConflict when an exclusive kind is asked for while another exclusive task is unfinished
    (a schedule's firing is not refused: the storage lease makes it wait its turn)."""
    if trigger != "schedule" and task_kind(kind).exclusive:
        running = unfinished_of_kinds(db, exclusive_kinds())
        if running is not None:
            raise TaskConflict(
                f"{running.kind} task {running.id} is {running.state}; only one task that "
                "changes storage runs at a time: wait for it, or cancel it",
                detail={"task_id": running.id, "kind": running.kind},
            )
    new = NewTask(
        kind=kind,
        params=validate_params(kind, params),
        trigger=trigger,
        max_attempts=settings.queue.max_retries + 1,
        schedule_id=schedule_id,
        scheduled_for=scheduled_for,
        retry_of=retry_of,
    )
    row = create_task(db, new)
    task_enqueued(db, row)  # the audit log: who (the API caller, else the scheduler), what
    row.sent_at = send_message(db, settings, row, row.celery_id)
    return row


def send_message(
    db: Database,
    settings: Settings,
    row: TaskRow,
    celery_id: str,
    countdown: float | None = None,
) -> datetime | None:
    """Send the message `celery_id` for the task; when it was sent, or None (logged) when the
    broker is down or the task has a newer message meanwhile."""
    from worker.broker import task_name
    from worker.publish import publish_task  # Kombu: imported with the first message

    try:
        publish_task(
            settings,
            task_name(row.kind),
            [row.id],
            celery_id,
            countdown=countdown,
            kwargsrepr=json.dumps(row.params, sort_keys=True),  # what Flower shows
        )
    except Exception as exc:  # noqa: BLE001 - any broker failure: the reaper re-sends later
        log.warning("task %s: message not sent (%s); it will be re-sent", row.id, exc)
        return None
    return mark_sent(db, row.id, celery_id)


def broker_problem(settings: Settings) -> str | None:
    """None when the broker answers, else what is wrong (for /readyz)."""
    from worker.publish import broker_problem as problem

    return problem(settings)


def ping(settings: Settings, timeout: float) -> list[dict[str, Any]]:
    """The Celery workers' answers to a ping, as Celery's `control.ping` returns them
    (worker/control.py: Kombu, imported with the first ping)."""
    from worker.control import ping as ping_with_kombu

    return ping_with_kombu(settings, timeout)
