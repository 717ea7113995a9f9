"""Free-space checks made before a backup or a restore writes anything."""

from __future__ import annotations

import shutil
from pathlib import Path

BLOCK = 4096  # a file's last block is allocated whole
SLACK = 64 * 1024 * 1024  # metadata archive, manifest and directories


class NotEnoughSpace(Exception):
    """The data would not fit; the message carries the numbers."""


def human(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def space_needed(data_bytes: int, files: int) -> int:
    return data_bytes + files * BLOCK + SLACK


def free_space(directory: Path) -> int:
    """Bytes available to us on the filesystem of `directory` (or of its nearest existing
    parent: nothing is created before the check)."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return shutil.disk_usage(existing).free


def check_free_space(
    directory: Path, data_bytes: int, files: int, what: str = "backup", noun: str = "new blobs"
) -> None:
    needed = space_needed(data_bytes, files)
    free = free_space(directory)
    if needed > free:
        overhead = human(needed - data_bytes)
        raise NotEnoughSpace(
            f"not enough free space for the {what} in {directory}: it needs {needed} bytes "
            f"({human(needed)}: {files} {noun} of {human(data_bytes)} plus {overhead} of "
            f"overhead), {free} bytes ({human(free)}) are free"
        )
