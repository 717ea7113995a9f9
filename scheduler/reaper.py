"""Recovers tasks that nobody will finish otherwise: those whose worker died (no heartbeat)
and those whose message never reached the broker (or whose retry message was lost)."""

from __future__ import annotations

import logging
from datetime import datetime

from registry.config import Settings
from registry.durations import parse_duration
from registry.tasks.db import Database
from registry.tasks.records import silent_since, unsent_since
from registry.tasks.transitions import reassign_message, recover_dead
from worker.client import send_message

log = logging.getLogger("hth.beat")


def reap(db: Database, settings: Settings, now: datetime) -> None:
    recover_silent(db, settings, now)
    resend_unsent(db, settings, now)


def recover_silent(db: Database, settings: Settings, now: datetime) -> None:
    dead_after = parse_duration(settings.queue.dead_after)
    for row in silent_since(db, now - dead_after):
        last = row.heartbeat_at.isoformat(timespec="seconds") if row.heartbeat_at else "never"
        reason = f"worker lost: {row.worker} sent no heartbeat since {last}"
        celery_id = recover_dead(db, row, reason)
        log.warning("task %s: %s", row.id, reason)
        if celery_id:
            send_message(db, settings, row, celery_id)


def resend_unsent(db: Database, settings: Settings, now: datetime) -> None:
    for row in unsent_since(db, now - parse_duration(settings.queue.resend_after)):
        what = "its message never reached the broker" if row.sent_at is None else "retry overdue"
        # A fresh message id: should the first message still arrive, it is dropped as stale.
        celery_id = reassign_message(db, row, f"{what}; sending it again")
        if celery_id is None:
            continue
        log.warning("task %s: %s; sending it again", row.id, what)
        send_message(db, settings, row, celery_id)
