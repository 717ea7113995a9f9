"""What one running API process holds: its settings, its storage driver and that driver's
readiness probe."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from api.cluster import WriteGate
from registry.cluster.gc_writer import OnlineGuard
from registry.cluster.generations import Generation
from registry.cluster.tag_guard import DatabaseTagGuard
from registry.cluster.upload_locks import DatabaseUploadSessions
from registry.config import Settings, same_storage, with_shared
from registry.content.upload_sessions import UploadSessions
from registry.db.database import open_database
from registry.logs import apply_levels
from registry.storage import StorageDriver, StorageError, create_driver

# A readiness probe answers within this, whatever the backend does.
STORAGE_PROBE_TIMEOUT = 10.0
# After a storage switch the old driver stays open this long, for requests still using it.
OLD_DRIVER_GRACE = 60.0


class StorageProbe:
    """Is the storage backend usable? Lists its root, with a deadline.

    One probe runs at a time and callers arriving meanwhile share its answer, so a hung backend
    never piles up threads however often /readyz is asked.
    """

    def __init__(self, driver: StorageDriver, timeout: float = STORAGE_PROBE_TIMEOUT) -> None:
        self.driver = driver
        self.timeout = timeout
        self._running: asyncio.Future[str] | None = None

    async def check(self) -> str:
        """ "ok", or "failed: <driver>: <why>"."""
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(run_in_threadpool(self._probe))
        try:
            return await asyncio.wait_for(asyncio.shield(self._running), self.timeout)
        except TimeoutError:
            return f"failed: {self.driver.name}: no answer within {self.timeout:g}s"

    def _probe(self) -> str:
        try:
            self.driver.list("/")
        except StorageError as exc:
            return f"failed: {exc}"
        except Exception as exc:  # noqa: BLE001 - a probe reports, it does not raise
            return f"failed: {self.driver.name}: {type(exc).__name__}: {exc}"
        return "ok"


@dataclass
class AppState:
    settings: Settings
    driver: StorageDriver
    gate: WriteGate = field(default_factory=WriteGate)
    storage_probe: StorageProbe = field(init=False)
    upload_sessions: UploadSessions = field(init=False)
    tag_guard: DatabaseTagGuard = field(init=False)
    gc_guard: OnlineGuard = field(init=False)
    config_generation: int = 0

    def __post_init__(self) -> None:
        self.storage_probe = StorageProbe(self.driver)
        settings = self.settings
        ttl = settings.docker_registry.uploads.lock_ttl
        self.upload_sessions = DatabaseUploadSessions(lambda: open_database(settings), ttl)
        self.tag_guard = DatabaseTagGuard(lambda: open_database(settings))
        cluster = settings.cluster
        self.gc_guard = OnlineGuard(
            lambda: open_database(settings),
            # A view older than half an instance TTL is re-read: by then the GC may take this
            # process for dead and start without its acknowledgement.
            stale_after=cluster.instance_ttl.total_seconds() / 2,
            # Deleting marks expire after the lease TTL: a writer never waits longer.
            max_wait=cluster.lease_ttl.total_seconds() + 5,
        )

    @property
    def upload_idle_timeout(self) -> float:
        return self.settings.docker_registry.uploads.idle_timeout.total_seconds()

    @classmethod
    def from_settings(cls, settings: Settings) -> AppState:
        registry_settings = settings.docker_registry
        driver = create_driver(registry_settings.storage_driver, settings.driver_settings())
        return cls(settings=settings, driver=driver)

    def apply_generation(self, generation: Generation) -> None:
        """Switch to a configuration generation (blocking). New requests get the new driver;
        those that already hold the old one finish on it, closed after a grace delay."""
        settings = with_shared(self.settings, generation.document)
        old = self.driver
        driver = old
        if not same_storage(self.settings, settings):
            registry_settings = settings.docker_registry
            driver = create_driver(registry_settings.storage_driver, settings.driver_settings())
        # One assignment each: a request reads either the old pair or the new one's driver.
        self.settings, self.driver = settings, driver
        self.storage_probe = StorageProbe(driver)
        self.config_generation = generation.number
        apply_levels(settings.logging)
        if driver is not old:
            closer = threading.Timer(OLD_DRIVER_GRACE, old.close)
            closer.daemon = True
            closer.start()


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.hth
    return state


def get_driver(request: Request) -> StorageDriver:
    """The storage driver to use for this request."""
    return app_state(request).driver
