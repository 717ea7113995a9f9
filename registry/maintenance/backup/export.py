"""`backup_export`: one self-contained `.tar.zst` per backup, for off-site copies, and the
reader restores use on it. Members, in this order:

    manifest.json             the backup's manifest, byte for byte
    metadata.tar.zst          its metadata archive
    blobs/<alg>/<hex>         every blob it lists
"""

from __future__ import annotations

import io
import os
import re
import tarfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import zstandard

from registry.maintenance.backup.copy import BUFFER, temp_beside
from registry.maintenance.backup.manifest import BackupManifest
from registry.maintenance.backup.snapshot import MetaFile, read_archive
from registry.maintenance.backup.store import MANIFEST, METADATA, BackupStore
from registry.maintenance.progress import Progress

ZSTD_LEVEL = 3
_BLOB = re.compile(r"^blobs/(sha256|sha512)/([0-9a-f]{64}|[0-9a-f]{128})$")


@dataclass
class ExportResult:
    backup_id: str
    file: str
    bytes: int  # of the archive
    blobs: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def export_backup(
    store: BackupStore, backup_id: str, target: Path, progress: Progress
) -> ExportResult:
    """Write the archive beside `target`, then rename it into place."""
    with store.shared():
        manifest = store.manifest(backup_id)
        verification = store.verification(backup_id)
        if verification is not None and verification.state == "corrupt":
            progress.log(f"warning: backup {backup_id} failed its last verification")
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = temp_beside(target)
        try:
            _write(store, manifest, temp, progress)
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    size = target.stat().st_size
    progress.log(f"exported backup {backup_id} to {target} ({size} bytes)")
    return ExportResult(backup_id, str(target), size, len(manifest.blobs))


def _write(store: BackupStore, manifest: BackupManifest, temp: Path, progress: Progress) -> None:
    folder = store.backup_dir(manifest.id)
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    with open(temp, "wb") as raw, compressor.stream_writer(raw, closefd=False) as stream:
        with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            tar.copybufsize = BUFFER  # type: ignore[attr-defined]  # missing from typeshed
            tar.add(folder / MANIFEST, arcname=MANIFEST)
            tar.add(folder / METADATA, arcname=METADATA)
            total, done = manifest.blob_bytes, 0
            progress("export", 0, total)
            for blob in manifest.blobs:
                algorithm, _, encoded = blob.digest.partition(":")
                tar.add(store.blob_path(blob.digest), arcname=f"blobs/{algorithm}/{encoded}")
                done += blob.size
                progress("export", done, total)


class ArchiveSource:
    """Reads an exported archive in one pass: its manifest, then metadata, then blobs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stack = ExitStack()
        raw = self._stack.enter_context(open(path, "rb"))
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_size=BUFFER)
        stream = self._stack.enter_context(reader)
        self._tar = self._stack.enter_context(tarfile.open(fileobj=stream, mode="r|"))
        self._members = iter(self._tar)
        self.manifest = BackupManifest.from_json(self._expect(MANIFEST).read())

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> ArchiveSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def metadata(self) -> Iterator[MetaFile]:
        yield from read_archive(self._expect(METADATA))

    def blobs(self) -> Iterator[tuple[str, IO[bytes]]]:
        """(digest, stream) of each blob member; read each stream before the next."""
        for member in self._members:
            match = _BLOB.match(member.name)
            if not member.isfile() or match is None:
                raise ValueError(f"{self.path}: unexpected archive member {member.name!r}")
            yield f"{match.group(1)}:{match.group(2)}", self._open(member)

    def _expect(self, name: str) -> IO[bytes]:
        member = next(self._members, None)
        if member is None or member.name != name or not member.isfile():
            found = member.name if member is not None else "the end of the archive"
            raise ValueError(f"{self.path}: not a backup archive (expected {name}, found {found})")
        return self._open(member)

    def _open(self, member: tarfile.TarInfo) -> IO[bytes]:
        handle = self._tar.extractfile(member)
        return handle if handle is not None else io.BytesIO()
