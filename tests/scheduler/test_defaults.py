"""The schedules beat creates by itself: purge_uploads every upload_purging.interval."""

from __future__ import annotations

from datetime import timedelta

import pytest

from registry.config import Settings, parse_settings
from registry.db.database import Database
from registry.tasks.schedules import find_schedule, list_schedules
from scheduler.defaults import (
    BACKUP_SCHEDULE,
    PURGE_UPLOADS_SCHEDULE,
    ensure_default_schedules,
    interval_cron,
)


@pytest.mark.parametrize(
    ("interval", "cron"),
    [
        (timedelta(hours=24), "0 0 * * *"),
        (timedelta(hours=6), "0 */6 * * *"),
        (timedelta(hours=1), "0 */1 * * *"),
        (timedelta(minutes=15), "*/15 * * * *"),
        (timedelta(minutes=1), "* * * * *"),
        (timedelta(days=7), "0 0 * * 0"),
    ],
)
def test_intervals_become_cron_expressions(interval: timedelta, cron: str) -> None:
    assert interval_cron(interval) == cron


@pytest.mark.parametrize("interval", [timedelta(hours=5), timedelta(seconds=90), timedelta(0)])
def test_intervals_that_cron_cannot_express_are_refused(interval: timedelta) -> None:
    with pytest.raises(ValueError):
        interval_cron(interval)


def test_the_purge_schedule_is_created_once_every_24h(db: Database, settings: Settings) -> None:
    ensure_default_schedules(db, settings)
    ensure_default_schedules(db, settings)
    schedule = find_schedule(db, PURGE_UPLOADS_SCHEDULE)
    assert schedule is not None
    assert (schedule.kind, schedule.cron, schedule.params, schedule.enabled) == (
        "purge_uploads",
        "0 0 * * *",
        {},
        True,
    )
    assert [row.kind for row in list_schedules(db)[0]].count("purge_uploads") == 1


def test_no_purge_schedule_when_purging_is_disabled(db: Database, settings: Settings) -> None:
    off = settings.model_copy(deep=True)
    off.docker_registry.upload_purging.enabled = False
    ensure_default_schedules(db, off)
    assert find_schedule(db, PURGE_UPLOADS_SCHEDULE) is None


def test_the_backup_schedule_is_created_once_daily_at_4(db: Database, settings: Settings) -> None:
    ensure_default_schedules(db, settings)
    ensure_default_schedules(db, settings)
    schedule = find_schedule(db, BACKUP_SCHEDULE)
    assert schedule is not None
    assert (schedule.kind, schedule.cron, schedule.params, schedule.enabled) == (
        "backup",
        "0 4 * * *",
        {},
        True,
    )
    assert [row.kind for row in list_schedules(db)[0]].count("backup") == 1


def test_no_backup_schedule_when_disabled_or_not_on_filesystem(
    db: Database, settings: Settings
) -> None:
    off = settings.model_copy(deep=True)
    off.docker_registry.backups.enabled = False
    ensure_default_schedules(db, off)
    s3 = parse_settings(
        {
            "data_dir": settings.data_dir,
            "docker_registry": {
                "storage_driver": "s3",
                "storage_settings": {
                    "accesskey": "a", "secretkey": "s", "bucket": "b", "region": "r",
                },
            },
        }
    )  # fmt: skip
    ensure_default_schedules(db, s3)
    assert find_schedule(db, BACKUP_SCHEDULE) is None
