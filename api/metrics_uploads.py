"""`hth_upload_sessions_open` for /metrics: the `_uploads/<uuid>` folders in storage.

An upload may start on one instance and end on another, so no process can count them; the
storage is counted instead. A scrape never waits on it: it answers the last count and, when
that is older than the refresh interval, starts a new count in a background thread. The
interval grows with the count's own cost, so a large or slow storage is listed rarely.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from registry import layout
from registry.content.repositories import UPLOADS, iter_repository_dirs
from registry.storage import PathNotFoundError, StorageDriver

log = logging.getLogger("hth.metrics")

MIN_INTERVAL = 15.0  # seconds between two counts, at least
COST_FACTOR = 20.0  # ... and at least this many times as long as the last count took
FIRST_WAIT = 1.0  # the first scrape waits this long for the first count


def count_upload_sessions(driver: StorageDriver) -> int:
    """The `_uploads/<uuid>` folders of every repository (one listing per folder level)."""
    total = 0
    for repository in iter_repository_dirs(driver):
        if UPLOADS in repository.parts:
            try:
                total += len(driver.list(layout.uploads_root(repository.name)))
            except PathNotFoundError:
                continue  # its last upload ended meanwhile
    return total


class UploadSessions:
    """The cached count; refresh() starts at most one background count at a time."""

    def __init__(self, driver: Callable[[], StorageDriver]) -> None:
        self.driver = driver
        self.count: int | None = None
        self.counted_at = 0.0  # time.time() of the count's start
        self.ok = True
        self._next = 0.0  # time.monotonic() after which a scrape starts a new count
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._running = False

    def refresh(self) -> None:
        with self._lock:
            if self._running or time.monotonic() < self._next:
                return
            self._running = True
            self._done.clear()
        threading.Thread(target=self._count, name="upload-sessions", daemon=True).start()
        if self.count is None:
            self._done.wait(FIRST_WAIT)

    def _count(self) -> None:
        started, wall = time.monotonic(), time.time()
        try:
            count: int | None = count_upload_sessions(self.driver())
        except Exception as exc:  # noqa: BLE001 - a scrape reports, it does not fail
            log.warning("upload sessions not counted: %s", exc)
            count = None
        elapsed = time.monotonic() - started
        with self._lock:
            self.ok = count is not None
            if count is not None:
                self.count, self.counted_at = count, wall
            self._next = time.monotonic() + max(MIN_INTERVAL, COST_FACTOR * elapsed)
            self._running = False
            self._done.set()


class UploadSessionsCollector(Collector):
    def __init__(self, sessions: UploadSessions) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        sessions = self.sessions
        yield GaugeMetricFamily(
            "hth_upload_sessions_count_ok",
            "1 when the last count of upload sessions worked",
            1 if sessions.ok else 0,
        )
        if sessions.count is None:
            return
        yield GaugeMetricFamily(
            "hth_upload_sessions_open",
            "Upload sessions in storage (started, not yet finished, cancelled or purged)",
            sessions.count,
        )
        yield GaugeMetricFamily(
            "hth_upload_sessions_counted_timestamp_seconds",
            "When hth_upload_sessions_open was counted (Unix time)",
            sessions.counted_at,
        )


def uploads_exposition(sessions: UploadSessions) -> bytes:
    """The upload series as Prometheus text (blocks only on the very first count, briefly)."""
    sessions.refresh()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(UploadSessionsCollector(sessions))
    return generate_latest(registry)
