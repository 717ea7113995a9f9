"""What every GC phase shares: the options, the thread pool, the result and the clock."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from registry.maintenance.gc.result import GCResult, PhaseStats
from registry.maintenance.gc.workers import Work
from registry.storage import FileInfo, StorageDriver

log = logging.getLogger("hth.gc")


class GCError(Exception):
    """GC refused to sweep (e.g. a manifest it cannot read); nothing was deleted."""


class Fence(Protocol):
    """How the sweep agrees with writers on each key it deletes (online GC: docs/gc.md).
    `claim(keys)` yields `may_delete(key)`; a key it answers False for is kept."""

    def claim(self, keys: Collection[str]) -> AbstractContextManager[Callable[[str], bool]]: ...


class NoFence:
    """Instances refuse writes meanwhile (readonly, stop) or nothing is deleted: no agreement."""

    @contextmanager
    def claim(self, keys: Collection[str]) -> Iterator[Callable[[str], bool]]:
        yield lambda key: True


@dataclass(frozen=True)
class GCOptions:
    dry_run: bool = False
    delete_untagged: bool = False
    # Blobs, manifests, links and uploads written more recently than this are never deleted.
    grace_period: timedelta = timedelta(hours=1)
    purge_uploads: bool = True
    # Also remove the `_layers` links of deleted blobs and dangling links. Distribution 2.8
    # leaves them (harmless: a blob is only served when its data exists); removing them
    # costs as many deletes again as the blobs themselves.
    remove_layer_links: bool = False
    # Threads for deletes, which wait on the backend (more barely help past 16-32 on a
    # disk); reads use at most the driver's read_concurrency of them.
    workers: int = 32
    # While other processes keep the CPU busy, work this share of the time (gc/pacing.py);
    # 1: never pause (the default of a GC that holds writes off: it should end soon).
    share_while_busy: float = 1.0


class RunContext:
    def __init__(
        self,
        driver: StorageDriver,
        options: GCOptions,
        work: Work,
        log_line: Callable[[str], None] | None = None,
        fence: Fence | None = None,
    ) -> None:
        self.driver, self.options, self.work = driver, options, work
        self.fence: Fence = fence or NoFence()
        self.pace: Callable[[], None] = lambda: None  # between units or claims (gc/pacing.py)
        self._log_line = log_line
        self.started = datetime.now(UTC)
        # Anything written after the run started is young too, even with no grace period.
        self.cutoff = self.started - options.grace_period
        self.result = GCResult(
            dry_run=options.dry_run,
            delete_untagged=options.delete_untagged,
            grace_period_seconds=options.grace_period.total_seconds(),
            purge_uploads=options.purge_uploads,
        )

    @property
    def grace(self) -> bool:
        return self.options.grace_period > timedelta(0)

    def young(self, info: FileInfo | None) -> bool:
        return info is not None and info.mod_time > self.cutoff

    def say(self, line: str) -> None:
        log.info("%s", line)
        if self._log_line is not None:
            self._log_line(line)

    @contextmanager
    def phase(self, name: str, total: int | None = None) -> Iterator[PhaseStats]:
        """Time a phase, report its start and end, and log what it did."""
        stats = self.result.phase(name)
        self.work.check()
        self.work.report(name, 0, total, force=True)
        started = time.monotonic()
        try:
            yield stats
        finally:
            stats.seconds = round(time.monotonic() - started, 3)
        done = total if total is not None else stats.items
        self.work.report(name, done, done, force=True)
        self.say(f"{name}: {stats.items} items, {stats.bytes} bytes, {stats.seconds:.2f}s")
