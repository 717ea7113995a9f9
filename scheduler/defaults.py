"""Schedules the platform creates by itself: purge_uploads every upload_purging.interval,
and backup on docker_registry.backups.schedule (filesystem storage only).

Created once when missing; afterwards they are edited (or disabled) through the REST API.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from registry.config import Settings
from registry.db.database import Database
from registry.storage.filesystem.driver import local_root
from registry.tasks.errors import IllegalTransition, InvalidCron
from registry.tasks.schedules import ScheduleSpec, create_schedule, find_schedule

log = logging.getLogger("hth.beat")

PURGE_UPLOADS_SCHEDULE = "purge_uploads"
BACKUP_SCHEDULE = "backup"


def interval_cron(interval: timedelta) -> str:
    """A cron expression firing every `interval`; it must divide an hour or a day evenly."""
    minutes = int(interval.total_seconds() // 60)
    if minutes * 60 != interval.total_seconds() or minutes < 1:
        raise ValueError(f"{interval} is not a whole number of minutes")
    if minutes < 60 and 60 % minutes == 0:
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    hours, rest = divmod(minutes, 60)
    if rest == 0 and 24 % hours == 0:
        return "0 0 * * *" if hours == 24 else f"0 */{hours} * * *"
    if minutes == 7 * 24 * 60:
        return "0 0 * * 0"
    raise ValueError(f"{interval} does not divide an hour or a day evenly")


def ensure_default_schedules(db: Database, settings: Settings) -> None:
    _ensure_purge_schedule(db, settings)
    _ensure_backup_schedule(db, settings)


def _ensure_purge_schedule(db: Database, settings: Settings) -> None:
    purging = settings.docker_registry.upload_purging
    if not purging.enabled or find_schedule(db, PURGE_UPLOADS_SCHEDULE) is not None:
        return
    try:
        cron = interval_cron(purging.interval)
    except ValueError as exc:
        log.error("docker_registry.upload_purging.interval: %s; no purge schedule created", exc)
        return
    spec = ScheduleSpec("purge_uploads", {}, cron)
    try:
        create_schedule(db, spec, schedule_id=PURGE_UPLOADS_SCHEDULE)
        log.info("created the default schedule %s (%s)", PURGE_UPLOADS_SCHEDULE, cron)
    except IllegalTransition:
        pass  # another beat created it meanwhile


def _ensure_backup_schedule(db: Database, settings: Settings) -> None:
    backups = settings.docker_registry.backups
    # Backups need the filesystem driver: no schedule that could only ever fail.
    local = local_root(settings.driver_settings()) is not None
    if not backups.enabled or not local or find_schedule(db, BACKUP_SCHEDULE) is not None:
        return
    try:
        spec = ScheduleSpec("backup", {}, backups.schedule)
        create_schedule(db, spec, schedule_id=BACKUP_SCHEDULE)
        log.info("created the default schedule %s (%s)", BACKUP_SCHEDULE, backups.schedule)
    except InvalidCron as exc:
        log.error("docker_registry.backups.schedule: %s; no backup schedule created", exc)
    except IllegalTransition:
        pass  # another beat created it meanwhile
