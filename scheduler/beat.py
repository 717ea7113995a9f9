"""One beat tick: hold the leader lock, fire the schedules that are due, run the reaper.

Only the holder of the "beat" lock fires; each firing is also guarded on the schedule row
as read (see registry/tasks/schedules.py), so an occurrence fires once even if two beats
briefly both believe they lead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from registry.config import Settings
from registry.db.database import Database
from registry.errors import RegistryError
from registry.tasks.locks import acquire, release
from registry.tasks.models import ScheduleRow, utcnow
from registry.tasks.records import unfinished_of_schedule
from registry.tasks.schedules import advance, list_schedules, next_fire, record_task
from registry.tasks.states import Trigger
from scheduler.reaper import reap
from worker.client import enqueue

log = logging.getLogger("hth.beat")

LOCK = "beat"


class Beat:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        holder: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db, self.settings, self.holder, self.clock = db, settings, holder, clock
        self.ttl = settings.scheduler.leader_ttl
        self.token: int | None = None

    def tick(self) -> None:
        token = acquire(self.db, LOCK, self.holder, self.ttl)
        if token != self.token:
            log.info("beat %s: %s", self.holder, "leading" if token else "standing by")
            self.token = token
        if token is None:
            return
        now = self.clock()
        for row in self._enabled_schedules():
            self._consider(row, now)
        reap(self.db, self.settings, now)

    def resign(self) -> None:
        if self.token is not None:
            release(self.db, LOCK, self.holder)
            self.token = None

    def _enabled_schedules(self) -> list[ScheduleRow]:
        rows, cursor = list_schedules(self.db, limit=500, enabled_only=True)
        while cursor:
            more, cursor = list_schedules(self.db, limit=500, cursor=cursor, enabled_only=True)
            rows.extend(more)
        return rows

    def _consider(self, row: ScheduleRow, now: datetime) -> None:
        if row.next_run_at is None:  # new or edited: plan its first run
            advance(self.db, row, next_fire(row.cron, now), fired=False)
            return
        if row.next_run_at > now:
            return
        following = next_fire(row.cron, now)
        busy = unfinished_of_schedule(self.db, row.id)
        if busy is not None:
            if advance(self.db, row, following, fired=False):
                log.info("schedule %s: skipped, task %s still %s", row.id, busy.id, busy.state)
            return
        if advance(self.db, row, following, fired=True):
            self._fire(row)

    def _fire(self, row: ScheduleRow) -> None:
        try:
            task = enqueue(
                self.db,
                self.settings,
                row.kind,
                row.params,
                Trigger.SCHEDULE,
                schedule_id=row.id,
                scheduled_for=row.next_run_at,
            )
        except RegistryError as exc:  # e.g. params a newer version no longer accepts
            log.error("schedule %s: cannot enqueue %s: %s", row.id, row.kind, exc)
            return
        record_task(self.db, row.id, task.id)
        log.info("schedule %s: fired %s task %s", row.id, row.kind, task.id)
