"""What `GET /api/v1/backups` and `hth-ctl backup list` show: each backup's manifest with
its verification state, newest first."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from registry.maintenance.backup.manifest import BackupManifest, Verification, VerificationState
from registry.maintenance.backup.store import BackupStore

log = logging.getLogger("hth.backups")


@dataclass(frozen=True)
class BackupSummary:
    manifest: BackupManifest
    verification: Verification | None

    @property
    def state(self) -> VerificationState:
        return "unverified" if self.verification is None else self.verification.state


def describe(store: BackupStore, backup_id: str) -> BackupSummary:
    """BackupNotFound (404) unless it exists."""
    return BackupSummary(store.manifest(backup_id), store.verification(backup_id))


def catalog(store: BackupStore) -> list[BackupSummary]:
    """Every complete backup, newest first; one whose files cannot be read is skipped."""
    found = []
    for backup_id in reversed(store.backup_ids()):
        try:
            found.append(describe(store, backup_id))
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
            log.warning("backup %s in %s is unreadable: %s", backup_id, store.directory, exc)
    return found
