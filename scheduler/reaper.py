"""Recovers tasks that nobody will finish otherwise: those whose worker died (no heartbeat),
those whose message never reached the broker, and those whose message a worker took from
the broker but never started (it died holding it, or a retry's message was lost).

Several reapers may run at once (two beats that both believe they lead): every recovery is
a guarded update of the record as it was read, so only one of them re-sends a task, and a
worker that claimed the task meanwhile wins over all of them.
"""

from __future__ import annotations

import logging
from datetime import datetime

from registry.config import Settings
from registry.db.database import Database
from registry.durations import duration_text
from registry.tasks.models import TaskRow
from registry.tasks.records import silent_since, unsent_since, unstarted_since
from registry.tasks.states import State
from registry.tasks.transitions import reassign_message, recover_dead
from worker.client import send_message

log = logging.getLogger("hth.beat")


def reap(db: Database, settings: Settings, now: datetime) -> None:
    recover_silent(db, settings, now)
    resend_unsent(db, settings, now)
    resend_unstarted(db, settings, now)


def recover_silent(db: Database, settings: Settings, now: datetime) -> None:
    dead_after = settings.queue.dead_after
    for row in silent_since(db, now - dead_after):
        last = row.heartbeat_at.isoformat(timespec="seconds") if row.heartbeat_at else "never"
        reason = f"worker lost: {row.worker} sent no heartbeat since {last}"
        celery_id = recover_dead(db, row, reason)
        log.warning("task %s: %s", row.id, reason)
        if celery_id:
            send_message(db, settings, row, celery_id)


def resend_unsent(db: Database, settings: Settings, now: datetime) -> None:
    for row in unsent_since(db, now - settings.queue.resend_after):
        _resend(db, settings, row, "its message never reached the broker")


def resend_unstarted(db: Database, settings: Settings, now: datetime) -> None:
    """Queued tasks sent more than `queue.start_deadline` ago, and retries overdue by
    `queue.resend_after`, whose message is no longer in the broker's queue: a worker took it
    and stopped before starting the task. One still in the queue is left there."""
    queue = settings.queue
    deadline = queue.start_deadline
    rows = unstarted_since(db, now - deadline, now - queue.resend_after)
    if not rows:
        return
    # Imported here: it loads Redis, Kombu and Celery, which an idle beat does without.
    from worker.broker_queue import BrokerUnreadable, waiting_ids

    try:
        waiting = waiting_ids(settings)
    except BrokerUnreadable as exc:  # sending would fail as well: try again next time
        log.warning("cannot list the broker's queue (%s); lost messages wait", exc)
        return
    for row in rows:
        if row.celery_id in waiting:
            continue
        if row.state == State.RETRYING:
            what = "retry overdue"
        else:
            what = f"not started within {duration_text(queue.start_deadline)} of being sent"
        _resend(db, settings, row, f"{what}, and its message left the broker's queue")


def _resend(db: Database, settings: Settings, row: TaskRow, what: str) -> None:
    # A fresh message id: should the old message still turn up, it is dropped as stale.
    celery_id = reassign_message(db, row, f"{what}; sending it again")
    if celery_id is None:  # started, cancelled or re-sent by another reaper meanwhile
        return
    log.warning("task %s: %s; sending it again", row.id, what)
    send_message(db, settings, row, celery_id)
