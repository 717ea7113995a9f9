"""The backup directory: one content-addressed blob store shared by every backup, and a
folder per backup. Blobs are real copies, never links: backups must outlive the registry disk.

    <directory>/
        .lock                               flock: shared while backups, verifies, exports and
                                            restores read or add; exclusive while pruning
        blobs/<alg>/<hex[0:2]>/<hex>        a blob's content, named by its digest
        backups/<id>/manifest.json          what the backup holds (backup/manifest.py)
        backups/<id>/metadata.tar.zst       repository metadata: links, tags, /hth/v1
        backups/<id>/verification.json      what the last verify found
        backups/.incomplete-<id>/           a backup being written, or abandoned by a crash
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from registry.errors import RegistryError
from registry.maintenance.backup.copy import temp_beside
from registry.maintenance.backup.manifest import BackupManifest, Verification

MANIFEST = "manifest.json"
METADATA = "metadata.tar.zst"
VERIFICATION = "verification.json"
INCOMPLETE = ".incomplete-"
_ID = re.compile(r"^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{6}$")


class BackupNotFound(RegistryError):
    code, status, default_message = "NOT_FOUND", 404, "backup not found"


class StoreUnreadable(RegistryError):
    code, status, default_message = "UNAVAILABLE", 503, "the backup directory cannot be read"


class StoreBusy(Exception):
    """Another process holds the backup directory's lock in a conflicting mode."""


def new_backup_id(now: datetime) -> str:
    """Sortable by creation time (to the millisecond): 20240601T040000.123Z-a1b2c3."""
    return f"{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


def is_backup_id(text: str) -> bool:
    return bool(_ID.match(text))


class BackupStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.blobs = directory / "blobs"
        self.backups = directory / "backups"

    def create(self) -> None:
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.backups.mkdir(parents=True, exist_ok=True)

    # --- locking ---------------------------------------------------------------------------

    @contextmanager
    def shared(self) -> Iterator[None]:
        """Readers and adders: they never delete, so any number may run together."""
        with self._flock(fcntl.LOCK_SH):
            yield

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """For pruning, which deletes blobs a running backup may be about to reference.
        Raises StoreBusy at once rather than wait behind a long backup."""
        with self._flock(fcntl.LOCK_EX | fcntl.LOCK_NB):
            yield

    @contextmanager
    def _flock(self, operation: int) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a+b") as handle:
            try:
                fcntl.flock(handle.fileno(), operation)
            except BlockingIOError:
                raise StoreBusy(f"{self.directory} is in use by another backup task") from None
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    # --- blobs -----------------------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        algorithm, _, encoded = digest.partition(":")
        return self.blobs / algorithm / encoded[:2] / encoded

    def has_blob(self, digest: str, size: int) -> bool:
        """Stored with the expected size (its content is re-hashed by verify, not here)."""
        try:
            return self.blob_path(digest).stat().st_size == size
        except FileNotFoundError:
            return False

    def stored_blobs(self) -> Iterator[tuple[str, Path]]:
        """(digest, path) of every stored blob; temporary files are yielded as ("", path)."""
        for alg_dir in _subdirs(self.blobs):
            for prefix in _subdirs(alg_dir):
                for entry in os.scandir(prefix):
                    valid = entry.is_file() and TEMP_NAME.match(entry.name) is None
                    yield (f"{alg_dir.name}:{entry.name}" if valid else ""), Path(entry.path)

    # --- backups ---------------------------------------------------------------------------

    def incomplete_dir(self, backup_id: str) -> Path:
        return self.backups / f"{INCOMPLETE}{backup_id}"

    def start(self, backup_id: str) -> Path:
        self.create()
        folder = self.incomplete_dir(backup_id)
        folder.mkdir()
        return folder

    def publish(self, manifest: BackupManifest) -> None:
        """Write the manifest and make the backup visible, durably, in one rename."""
        folder = self.incomplete_dir(manifest.id)
        write_durably(folder / MANIFEST, manifest.to_json())
        os.replace(folder, self.backups / manifest.id)
        _fsync_dir(self.backups)

    def backup_dir(self, backup_id: str) -> Path:
        folder = self.backups / backup_id
        if not is_backup_id(backup_id) or not (folder / MANIFEST).is_file():
            raise BackupNotFound(f"backup {backup_id!r} not found in {self.directory}")
        return folder

    def backup_ids(self) -> list[str]:
        """Complete backups, oldest first."""
        try:
            entries = list(os.scandir(self.backups))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreUnreadable(f"cannot read {self.backups}: {exc.strerror}") from None
        return sorted(
            entry.name
            for entry in entries
            if is_backup_id(entry.name) and os.path.isfile(os.path.join(entry.path, MANIFEST))
        )

    def latest(self) -> str:
        ids = self.backup_ids()
        if not ids:
            raise BackupNotFound(f"no backup in {self.directory}")
        return ids[-1]

    def manifest(self, backup_id: str) -> BackupManifest:
        return BackupManifest.from_json((self.backup_dir(backup_id) / MANIFEST).read_bytes())

    def metadata_path(self, backup_id: str) -> Path:
        return self.backup_dir(backup_id) / METADATA

    def verification(self, backup_id: str) -> Verification | None:
        path = self.backup_dir(backup_id) / VERIFICATION
        try:
            return Verification.from_dict(json.loads(path.read_bytes()))
        except FileNotFoundError:
            return None

    def save_verification(self, backup_id: str, verification: Verification) -> None:
        data = json.dumps(verification.as_dict(), indent=1).encode()
        write_durably(self.backup_dir(backup_id) / VERIFICATION, data)

    def delete(self, backup_id: str) -> None:
        """Hide it first (one rename), then remove its files."""
        folder = self.backup_dir(backup_id)
        doomed = self.backups / f"{INCOMPLETE}deleted-{backup_id}"
        os.replace(folder, doomed)
        shutil.rmtree(doomed)

    def incomplete(self) -> list[Path]:
        if not self.backups.is_dir():
            return []
        return [Path(e.path) for e in os.scandir(self.backups) if e.name.startswith(INCOMPLETE)]


TEMP_NAME = re.compile(r".*\.tmp-[0-9a-f]{12}$")


def write_durably(path: Path, data: bytes) -> None:
    """Write beside, fsync, rename over: the old or the new content survives a crash."""
    temp = temp_beside(path)
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _subdirs(path: Path) -> list[Path]:
    try:
        return sorted(Path(e.path) for e in os.scandir(path) if e.is_dir(follow_symlinks=False))
    except FileNotFoundError:
        return []
