"""`verify_storage`: the storage scrub. Re-hash blob data, report every blob whose bytes do not
match its digest and, with `repair`, move the bad data into quarantine (docs/tasks.md).

Phases: list the blob store, re-hash (in parallel, within `rate_limit`), find the
repositories using what is corrupt, then quarantine it under the storage lease in `shared`
mode: registry instances go on serving, only other maintenance (GC, backup, restore,
migration) is kept out while blobs move.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from datetime import UTC, datetime

from registry.cluster.leases import LeaseBusy, TakeLease, no_lease
from registry.maintenance.outcome import FailedWithResult
from registry.maintenance.progress import Progress
from registry.maintenance.quarantine import REPAIR_COMMAND, quarantine_blob
from registry.maintenance.throttle import RateLimit
from registry.maintenance.verify_hashing import ByteCounter, hash_all
from registry.maintenance.verify_report import Mismatch, find_users
from registry.maintenance.verify_result import VerifyResult
from registry.maintenance.verify_scan import BlobEntry, Hashed, Listing, list_blobs
from registry.storage import StorageDriver, StorageError, StorageUnavailableError
from registry.tasks.params import VerifyStorageParams

LEASE_POLL = 2.0  # seconds between attempts at the storage lease while another task holds it


class CorruptionFound(FailedWithResult):
    """The scrub finished and corrupt data is still in place: the task fails, with its report."""


def verify_storage(
    driver: StorageDriver,
    params: VerifyStorageParams,
    progress: Progress,
    take_lease: TakeLease = no_lease,
) -> VerifyResult:
    started = time.monotonic()
    since = params.cutoff(datetime.now(UTC))
    result = VerifyResult(params.repair, since, params.rate_limit)
    limit = RateLimit.of(params.rate_limit)
    workers = max(1, driver.read_concurrency)
    listing = _list(driver, since, progress, result)
    counter = ByteCounter(progress)
    found = _verify(driver, listing, workers, limit, counter, progress, result)
    if found:
        progress("find_users", 0, len(found))
        find_users(driver, [m for _, m in found], workers)
        progress("find_users", len(found), len(found))
        for _, mismatch in found:
            progress.log(mismatch.line())
    if found and params.repair:
        _quarantine(driver, found, limit, counter, progress, take_lease)
    result.bytes_read = counter.bytes
    result.seconds = round(time.monotonic() - started, 3)
    progress.log(result.summary())
    return result


def _list(
    driver: StorageDriver, since: datetime | None, progress: Progress, result: VerifyResult
) -> Listing:
    progress("list", 0, None)
    listing = list_blobs(driver, since, lambda seen: progress("list", seen, None))
    result.blobs_older = listing.older
    result.not_checked = listing.odd
    written = f" written since {since.isoformat()}" if since else ""
    progress.log(f"{len(listing.entries)} blobs ({listing.bytes} bytes){written} to re-hash")
    for path in listing.odd[:20]:
        progress.log(f"not checked (names no sha256/sha512 blob): {path}")
    return listing


def _verify(
    driver: StorageDriver,
    listing: Listing,
    workers: int,
    limit: RateLimit | None,
    counter: ByteCounter,
    progress: Progress,
    result: VerifyResult,
) -> list[tuple[BlobEntry, Mismatch]]:
    found: list[tuple[BlobEntry, Mismatch]] = []
    progress("verify", 0, listing.bytes)
    for entry, hashed in hash_all(driver, listing, workers, limit, counter):
        if hashed.vanished:
            result.blobs_vanished += 1
            continue
        result.blobs_checked += 1
        if hashed.actual != entry.digest:
            found.append((entry, _mismatch(entry, hashed)))
    found.sort(key=lambda pair: pair[0].digest)
    result.mismatches = [m for _, m in found]
    return found


def _mismatch(entry: BlobEntry, hashed: Hashed) -> Mismatch:
    problem = hashed.error or f"content hashes to {hashed.actual} ({hashed.size} bytes)"
    return Mismatch(entry.digest, entry.path, entry.size, hashed.actual, hashed.size, problem)


def _quarantine(
    driver: StorageDriver,
    found: list[tuple[BlobEntry, Mismatch]],
    limit: RateLimit | None,
    counter: ByteCounter,
    progress: Progress,
    take_lease: TakeLease,
) -> None:
    with ExitStack() as held:
        _wait_and_hold(held, take_lease, progress)
        when = datetime.now(UTC)
        for done, (entry, mismatch) in enumerate(found):
            progress("quarantine", done, len(found))
            _quarantine_one(driver, entry, mismatch, when, limit, counter, progress)
        progress("quarantine", len(found), len(found))


def _quarantine_one(
    driver: StorageDriver,
    entry: BlobEntry,
    mismatch: Mismatch,
    when: datetime,
    limit: RateLimit | None,
    counter: ByteCounter,
    progress: Progress,
) -> None:
    """Quarantine one blob; a refusal of the storage leaves it `corrupt` (the task fails
    with the report), a transient error retries the task."""
    try:
        moved = quarantine_blob(driver, entry, when, limit, counter.add)
    except (StorageUnavailableError, TimeoutError, ConnectionError):
        raise
    except (StorageError, OSError) as exc:
        mismatch.repair_error = str(exc)
        progress.log(f"could not quarantine {entry.digest}: {exc}")
        return
    mismatch.state, mismatch.quarantined_to = moved.state, moved.path
    where = f" -> {moved.path}" if moved.path else ""
    progress.log(f"{moved.state}: {entry.digest}{where}")


def _wait_and_hold(held: ExitStack, take_lease: TakeLease, progress: Progress) -> None:
    """Hold the storage lease (shared) in `held`, waiting while another task has it; a
    cancel stops the wait."""
    waiting = False
    while True:
        try:
            held.enter_context(take_lease("shared"))
            return
        except LeaseBusy as exc:
            if not waiting:
                progress.log(f"waiting to quarantine: {exc}")
                waiting = True
            progress("waiting for the storage lease", 0, None)
            time.sleep(LEASE_POLL)


def raise_if_corrupt(result: VerifyResult) -> None:
    """Fail the task (keeping its report) when corrupt data was left in place."""
    left = [m for m in result.mismatches if m.state == "corrupt"]
    if not left:
        return
    first = left[0]
    more = f" and {len(left) - 1} more" if len(left) > 1 else ""
    raise CorruptionFound(
        f"{len(left)} corrupt blobs left in place: {first.digest} at {first.path}{more}; "
        f"`{REPAIR_COMMAND}` quarantines them",
        result.as_dict(),
    )
