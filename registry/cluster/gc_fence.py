"""The sweeper's half of online GC: claim keys before deleting them (docs/gc.md).

`claim(keys)` commits a deleting mark on every key, then reads which keys writes touched in
this run: those are kept, the others may be deleted, each only while both the storage lease
and the marks are safely live (at least `margin` from expiring), so no write can take a mark
or the run for void while its delete may still happen. The marks are removed once the
deletes are done; a worker that dies leaves them to expire.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from registry.cluster import gc_online
from registry.db.database import Database
from registry.tasks.models import utcnow

Step = Callable[[str], None]


class FenceExpired(Exception):
    """The storage lease or a deleting mark is too close to expiring: deleting now could race
    with writes that already take the run as over. The run stops; the next one finishes."""


def _no_step(_: str) -> None:
    return None


class SweepFence:
    """registry.maintenance.gc.run.Fence for one online run (`run`: its lease token)."""

    def __init__(
        self,
        db: Database,
        run: int,
        lease_expiry: Callable[[], datetime],
        ttl: timedelta,
        window: timedelta = timedelta(0),
        step: Step = _no_step,
    ) -> None:
        """`window`: keys requests used this long before the run started are kept too (the
        grace period, at most registry.cluster.gc_writer.RECENT_WINDOW)."""
        self.db, self.run, self.ttl = db, run, ttl
        self.since = utcnow() - window
        self._lease_expiry = lease_expiry
        self.margin = ttl / 3
        self._step = step
        self._lock = threading.Lock()
        self.kept: set[str] = set()  # keys writes touched, that the sweep left in place

    @property
    def kept_by_writes(self) -> int:
        with self._lock:
            return len(self.kept)

    @contextmanager
    def claim(self, keys: Collection[str]) -> Iterator[Callable[[str], bool]]:
        """Yield `may_delete(key)`: False for a key a write touched (keep it), True when the
        caller may delete it now; it raises FenceExpired when deleting is no longer safe."""
        wanted = set(keys)
        if not wanted:
            yield lambda key: False
            return
        claimed_at = time.monotonic()
        self._step("mark")
        gc_online.mark_deleting(self.db, self.run, wanted, self.ttl)
        self._step("read touches")
        used = gc_online.touched(self.db, self.run, wanted, self.since)
        if used:
            with self._lock:
                self.kept.update(used)

        def may_delete(key: str) -> bool:
            if key in used or key not in wanted:
                return False
            self._check(claimed_at)
            self._step("delete")
            return True

        try:
            yield may_delete
        finally:
            self._step("unmark")
            gc_online.unmark_deleting(self.db, self.run, wanted)

    def _check(self, claimed_at: float) -> None:
        margin = self.margin.total_seconds()
        if time.monotonic() - claimed_at > self.ttl.total_seconds() - margin:
            raise FenceExpired("deleting marks about to expire: the sweep stops here")
        if (self._lease_expiry() - utcnow()).total_seconds() < margin:
            raise FenceExpired("the storage lease is about to expire: the sweep stops here")
