"""Moving corrupt blob data aside, outside Distribution's layout, where nothing deletes it.

`/hth/v1/quarantine/<alg>/<hex>/<time>` holds the bytes that were stored as blob `<alg>:<hex>`
and `<time>.json` says what they hashed to and when they were moved. With the data gone
from `blobs/`, pulls answer 404 and GC treats the blob as missing; a push of the genuine
content stores it again.

A writer may put a genuine copy in place at any moment (a push of the same digest replaces a
bad copy). So the scrub re-checks before moving, and hashes what it moved: a copy that turns
out to be genuine goes straight back (`healed`), never into quarantine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from registry import layout
from registry.maintenance.throttle import RateLimit
from registry.maintenance.verify_scan import BlobEntry, Hashed, Tick, hash_data
from registry.storage import PathNotFoundError, StorageDriver

# What every message about corrupt stored data tells the operator to run.
REPAIR_COMMAND = "hth-ctl verify-storage --repair"


@dataclass(frozen=True)
class Quarantined:
    state: str  # "quarantined", "healed" (genuine now: left in place) or "vanished"
    path: str | None = None  # where the bad data went
    hashed: Hashed | None = None  # what the moved data hashed to


def quarantine_path(digest: str, when: datetime) -> str:
    return f"{layout.quarantine_dir(digest)}/{when.strftime('%Y%m%dT%H%M%S.%fZ')}"


def quarantine_blob(
    driver: StorageDriver,
    entry: BlobEntry,
    when: datetime,
    limit: RateLimit | None,
    tick: Tick,
) -> Quarantined:
    """Move blob `entry`'s data aside unless a genuine copy is (or comes) in its place."""
    algorithm = entry.digest.partition(":")[0]
    if _changed_since_listed(driver, entry):
        now = hash_data(driver, entry.path, algorithm, limit, tick)
        if now.vanished:
            return Quarantined("vanished")
        if now.actual == entry.digest:
            return Quarantined("healed")
    target = quarantine_path(entry.digest, when)
    try:
        driver.move(entry.path, target)
    except PathNotFoundError:
        return Quarantined("vanished")
    moved = hash_data(driver, target, algorithm, limit, tick)
    if moved.vanished:
        return Quarantined("vanished")
    if moved.actual == entry.digest:
        # A genuine copy landed between the check and the move: it belongs where it was.
        driver.move(target, entry.path)
        return Quarantined("healed")
    _write_note(driver, entry, target, moved, when)
    return Quarantined("quarantined", target, moved)


def _changed_since_listed(driver: StorageDriver, entry: BlobEntry) -> bool:
    try:
        info = driver.stat(entry.path)
    except PathNotFoundError:
        return True  # hash_data then says it vanished
    return (info.size, info.mod_time) != (entry.size, entry.mod_time)


def _write_note(
    driver: StorageDriver, entry: BlobEntry, target: str, moved: Hashed, when: datetime
) -> None:
    note = {
        "digest": entry.digest,
        "from": entry.path,
        "quarantined_at": when.isoformat(),
        "size": moved.size,
        "actual_digest": moved.actual,
        "problem": moved.error or f"content hashes to {moved.actual}",
        "by": "verify_storage",
    }
    driver.put_content(f"{target}.json", json.dumps(note, indent=2).encode())


def list_quarantine(driver: StorageDriver) -> list[dict[str, object]]:
    """The notes of everything in quarantine (oldest first per digest)."""
    try:
        files = [i.path for i in driver.walk(layout.QUARANTINE) if i.path.endswith(".json")]
    except PathNotFoundError:
        return []
    notes: list[dict[str, object]] = []
    for path in files:
        try:
            notes.append({"path": path[: -len(".json")], **json.loads(driver.get_content(path))})
        except (PathNotFoundError, ValueError):
            continue
    return notes
