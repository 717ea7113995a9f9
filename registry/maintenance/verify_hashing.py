"""Re-hashing many blobs at once: a bounded pool, byte progress, and a stop between pieces."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from registry.maintenance.progress import Progress, TaskCancelled
from registry.maintenance.throttle import RateLimit
from registry.maintenance.verify_scan import BlobEntry, Hashed, Listing, hash_blob
from registry.storage import StorageDriver

REPORT_EVERY = 0.5  # seconds: the progress bar moves while a big blob is being read


class ByteCounter:
    """Bytes read by every thread of the task; each piece also checks for a cancel, so a
    thread stops within one piece of a huge blob."""

    def __init__(self, progress: Progress) -> None:
        self.bytes = 0
        self.progress = progress
        self._lock = threading.Lock()

    def add(self, count: int) -> None:
        with self._lock:
            self.bytes += count
        self.progress.check()


def hash_all(
    driver: StorageDriver,
    listing: Listing,
    workers: int,
    limit: RateLimit | None,
    counter: ByteCounter,
) -> Iterator[tuple[BlobEntry, Hashed]]:
    """(entry, what its data hashes to) in completion order, `workers` blobs at a time;
    progress("verify", bytes, total) at least every REPORT_EVERY seconds. An error (or a
    cancel) stops every thread at its next piece and is raised."""
    stopped = threading.Event()

    def tick(count: int) -> None:
        counter.add(count)
        if stopped.is_set():
            raise TaskCancelled("stopped: the scrub is ending")

    source = iter(listing.entries)
    pending: dict[Future[Hashed], BlobEntry] = {}
    with ThreadPoolExecutor(workers, thread_name_prefix="hth-verify") as pool:
        try:
            while True:
                while len(pending) < 2 * workers and (entry := next(source, None)) is not None:
                    pending[pool.submit(hash_blob, driver, entry, limit, tick)] = entry
                if not pending:
                    return
                done, _ = wait(pending, timeout=REPORT_EVERY, return_when=FIRST_COMPLETED)
                counter.progress("verify", counter.bytes, listing.bytes)
                for future in done:
                    yield pending.pop(future), future.result()
        finally:
            stopped.set()
            for future in pending:
                future.cancel()
