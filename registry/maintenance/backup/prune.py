"""`backup_prune`: keep the newest `keep` backups; delete the older ones, abandoned partial
ones, and every stored blob that no remaining backup lists.

A backup whose last verification found it corrupt does not push sound ones out: besides the
newest `keep` backups (corrupt or not, kept with their files for inspection), the newest
`keep` sound ones stay too, so a run of failed backups never leaves only broken ones.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field
from typing import Any

from registry.maintenance.backup.store import BackupStore, StoreBusy
from registry.maintenance.progress import Progress


@dataclass
class PruneResult:
    keep: int = 0  # the retention applied: the newest `keep` backups stay
    kept: list[str] = field(default_factory=list)
    # Kept beyond the newest `keep` because corrupt ones among those do not count (oldest first).
    kept_sound: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    incomplete_removed: int = 0
    blobs_deleted: int = 0
    bytes_freed: int = 0
    skipped: str | None = None  # why nothing was done

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def prune_backups(store: BackupStore, keep: int, progress: Progress) -> PruneResult:
    """Skips (and says why) while another task uses the backup directory: the next backup
    prunes again, and a blob a running backup counts on must not go meanwhile."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    try:
        with store.exclusive():
            result = _prune(store, keep, progress)
    except StoreBusy as exc:
        progress.log(f"prune skipped: {exc}")
        return PruneResult(keep=keep, skipped=str(exc))
    progress.log(
        f"pruned {len(result.deleted)} backups, {result.incomplete_removed} partial ones and "
        f"{result.blobs_deleted} blobs ({result.bytes_freed} bytes); {kept_text(result.as_dict())}"
    )
    return result


def kept_text(pruned: dict[str, Any]) -> str:
    """Which backups a prune kept and why, from its JSON form (the task result's)."""
    text = f"kept {len(pruned['kept'])}: the newest {pruned['keep']} (docker_registry.backups.keep)"
    sound = pruned.get("kept_sound") or []
    if sound:
        ones = "one" if len(sound) == 1 else "ones"
        text += f" and {len(sound)} older sound {ones}, as newer ones are corrupt"
    return text


def _retained(store: BackupStore, keep: int) -> tuple[list[str], list[str]]:
    """The newest `keep` backups and the newest `keep` sound ones, oldest first; and which of
    the sound ones are older than the newest `keep`."""
    ids = store.backup_ids()  # they sort by creation time
    sound = [backup_id for backup_id in ids if not _is_corrupt(store, backup_id)]
    newest = set(ids[-keep:])
    return sorted(newest | set(sound[-keep:])), [i for i in sound[-keep:] if i not in newest]


def _is_corrupt(store: BackupStore, backup_id: str) -> bool:
    try:
        verification = store.verification(backup_id)
    except (OSError, ValueError, KeyError, TypeError):
        return False  # unreadable: counted as a backup, as before it was verified
    return verification is not None and verification.state == "corrupt"


def _prune(store: BackupStore, keep: int, progress: Progress) -> PruneResult:
    kept, sound = _retained(store, keep)
    deleted = [i for i in store.backup_ids() if i not in kept]
    result = PruneResult(keep=keep, kept=kept, kept_sound=sound, deleted=deleted)
    for backup_id in progress.iterate("prune backups", result.deleted):
        store.delete(backup_id)
        progress.log(f"deleted backup {backup_id}")
    for folder in store.incomplete():
        shutil.rmtree(folder, ignore_errors=True)  # none runs: we hold the exclusive lock
        result.incomplete_removed += 1
    referenced = {blob.digest for kept in result.kept for blob in store.manifest(kept).blobs}
    for digest, path in store.stored_blobs():
        if digest in referenced:
            continue
        result.bytes_freed += path.stat().st_size
        path.unlink()
        if digest:
            result.blobs_deleted += 1
            if result.blobs_deleted % 1000 == 0:
                progress("prune blobs", result.blobs_deleted, None)
        _remove_if_empty(path.parent)
    progress("prune blobs", result.blobs_deleted, result.blobs_deleted)
    return result


def _remove_if_empty(folder: os.PathLike[str]) -> None:
    try:
        os.rmdir(folder)
    except OSError:
        pass  # not empty
