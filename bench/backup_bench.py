"""Backups: full-backup throughput of a ~2 GiB filesystem registry against `cp -a` and `tar`
of the same tree, in one run, and the time of an incremental backup after one more image.

Every timed copy starts after a `sync` and ends after its data is flushed to disk (`sync -f`
on the target; our backup flushes by itself before writing its manifest), so page-cache
writes do not count as done. Rounds alternate the order of the three methods; the best time
of each is reported (other processes share the machine).

    .venv/bin/python bench/backup_bench.py [--size-gib 2 --rounds 3 --workers 4]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry import layout  # noqa: E402
from registry.cluster.leases import no_lease  # noqa: E402
from registry.content.links import write_link  # noqa: E402
from registry.maintenance.backup.copy import sync_filesystem  # noqa: E402
from registry.maintenance.backup.store import BackupStore  # noqa: E402
from registry.maintenance.backup.take import BackupOptions, create_backup  # noqa: E402
from registry.maintenance.backup.verify import verify_backup  # noqa: E402
from registry.maintenance.progress import Progress  # noqa: E402
from registry.storage import StorageDriver, create_driver  # noqa: E402

MiB = 1024 * 1024
# Layer sizes of typical images: a big base, a few mid-sized, some small ones.
LAYER_SIZES = [20 * MiB, 6 * MiB, 1 * MiB, 200 * 1024, 16 * 1024, 4 * 1024]


class Registry:
    """Writes images (random, incompressible layers like gzip'd ones) in Distribution's layout."""

    def __init__(self, root: Path, seed: int = 1) -> None:
        self.root = root
        self.driver: StorageDriver = create_driver("filesystem", {"rootdirectory": str(root)})
        self.rng = random.Random(seed)
        self.images = 0

    def blob(self, name: str, data: bytes) -> dict[str, object]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = self.root / layout.blob_data(digest).lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        write_link(self.driver, layout.layer_link(name, digest), digest)
        return {"mediaType": "application/octet-stream", "digest": digest, "size": len(data)}

    def image(self, sizes: list[int]) -> int:
        """One image in its own repository, tagged; its bytes."""
        self.images += 1
        name = f"bench/app{self.images:04d}"
        layers = [self.blob(name, self.rng.randbytes(int(s * self.rng.uniform(0.5, 1.5))))
                  for s in sizes]  # fmt: skip
        config = self.blob(name, json.dumps({"image": self.images}).encode())
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config,
            "layers": layers,
        }
        body = json.dumps(manifest).encode()
        descriptor = self.blob(name, body)
        digest = str(descriptor["digest"])
        write_link(self.driver, layout.revision_link(name, digest), digest)
        write_link(self.driver, layout.tag_index_link(name, "v1", digest), digest)
        write_link(self.driver, layout.tag_current_link(name, "v1"), digest)
        return sum(int(str(layer["size"])) for layer in layers) + len(body)

    def fill(self, size: int) -> None:
        total = 0
        while total < size:
            total += self.image(LAYER_SIZES)


def tree_bytes(root: Path) -> tuple[int, int]:
    files = size = 0
    for directory, _, names in os.walk(root):
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(directory, name))
    return files, size


def timed(run: Callable[[], None], target: Path) -> float:
    subprocess.run(["sync"], check=True)
    started = time.monotonic()
    run()
    sync_filesystem(target)
    return time.monotonic() - started


def backup_once(source: Path, store: Path, workers: int, verify: bool) -> dict[str, object]:
    options = BackupOptions(
        source, BackupStore(store), keep=99, verify=verify, prune=False, workers=workers
    )
    driver = create_driver("filesystem", {"rootdirectory": str(source)})
    return create_backup(driver, options, no_lease, Progress()).as_dict()


def full_rounds(work: Path, source: Path, rounds: int, workers: int) -> dict[str, list[float]]:
    methods: dict[str, tuple[Callable[[Path], None], Path]] = {
        "cp -a": (lambda out: _run("cp", "-a", str(source), str(out)), work / "cp"),
        "tar": (lambda out: _run("tar", "-cf", str(out), "-C", str(source), "."), work / "t.tar"),
        "ours": (lambda out: backup_once(source, out, workers, verify=False), work / "ours"),
    }
    times: dict[str, list[float]] = {name: [] for name in methods}
    order = list(methods)
    for number in range(rounds):
        for name in order if number % 2 == 0 else reversed(order):
            run, out = methods[name]
            _remove(out)
            times[name].append(timed(lambda run=run, out=out: run(out), work))
            print(f"  round {number + 1} {name:6} {times[name][-1]:7.2f}s", flush=True)
            if not (name == "ours" and number == rounds - 1):
                _remove(out)  # keep the last backup: the incremental one builds on it
    return times


def _run(*args: str) -> None:
    subprocess.run(args, check=True)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


@dataclass
class Figures:
    images: int
    files: int
    bytes: int
    workers: int
    rounds: dict[str, list[float]]
    verify_seconds: float = 0.0
    incremental_image_bytes: int = 0
    incremental_seconds: float = 0.0
    incremental: dict[str, Any] = field(default_factory=dict)
    unchanged_seconds: float = 0.0
    unchanged: dict[str, Any] = field(default_factory=dict)

    def best(self, name: str) -> float:
        return min(self.rounds[name])

    def rate(self, name: str) -> float:
        return self.bytes / self.best(name) / 1e6

    def ratios(self, other: str) -> list[float]:
        """Our speed over `other`'s, round by round (runs next to each other in time)."""
        pairs = zip(self.rounds["ours"], self.rounds[other], strict=True)
        return [theirs / ours for ours, theirs in pairs]


def bench(work: Path, size: int, rounds: int, workers: int) -> Figures:
    source = work / "registry"
    registry = Registry(source)
    started = time.monotonic()
    registry.fill(size)
    files, data = tree_bytes(source)
    elapsed = time.monotonic() - started
    print(f"built {registry.images} images: {files} files, {data / MiB:.0f} MiB in {elapsed:.1f}s")
    figures = Figures(registry.images, files, data, workers, {})
    figures.rounds = full_rounds(work, source, rounds, workers)
    store = BackupStore(work / "ours")
    backup_id = store.latest()
    figures.verify_seconds = timed(lambda: verify_backup(store, backup_id, Progress()), work)
    figures.incremental_image_bytes = registry.image([16 * MiB, 8 * MiB, 2 * MiB])
    figures.incremental_seconds = timed(
        lambda: figures.incremental.update(backup_once(source, store.directory, workers, False)),
        work,
    )
    figures.unchanged_seconds = timed(
        lambda: figures.unchanged.update(backup_once(source, store.directory, workers, True)),
        work,
    )
    return figures


def report(figures: Figures) -> None:
    rounds = len(figures.rounds["ours"])
    size = f"{figures.bytes / MiB:.0f} MiB in {figures.files} files"
    print(f"\nfull copy of {size}, {rounds} rounds (MB/s of the median and the best time):")
    for name in ("cp -a", "tar", "ours"):
        median = statistics.median(figures.rounds[name])
        print(f"  {name:6} median {median:6.2f}s {figures.bytes / median / 1e6:6.0f} MB/s   "
              f"best {figures.best(name):6.2f}s {figures.rate(name):6.0f} MB/s")  # fmt: skip
    for other in ("cp -a", "tar"):
        ratios = figures.ratios(other)
        print(f"  ours / {other}: median of the per-round ratios {statistics.median(ratios):.2f}x "
              f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})")  # fmt: skip
    print(f"verify of the full backup (every blob re-hashed): {figures.verify_seconds:.2f}s")
    inc = figures.incremental
    print(f"incremental backup after one {figures.incremental_image_bytes / MiB:.0f} MiB image: "
          f"{figures.incremental_seconds:.2f}s, copied {inc['blobs_copied']} blobs "
          f"({inc['bytes_copied'] / MiB:.1f} MiB)")  # fmt: skip
    again = figures.unchanged
    print(f"backup of the unchanged registry, verification included: "
          f"{figures.unchanged_seconds:.2f}s (copied {again['blobs_copied']} blobs; "
          f"{again['verification']})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gib", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4, help="our parallel copies")
    parser.add_argument("--workdir", type=Path, help="where to build (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="backup-bench-", dir=args.workdir))
    try:
        result = bench(work, int(args.size_gib * 1024 * MiB), args.rounds, args.workers)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(result)
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2, default=str))


if __name__ == "__main__":
    main()
