"""Figures for hth-ctl reconfigure: the time a reconfigure takes on two instances, and the
migration throughput (MiB/s) filesystem -> s3 (moto) for a registry of --mib MiB.

    .venv/bin/python bench/reconfigure_bench.py --mib 1024
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry import layout  # noqa: E402
from registry.maintenance.migrate import migrate_bulk  # noqa: E402
from registry.maintenance.progress import Progress  # noqa: E402
from registry.storage import create_driver  # noqa: E402
from testbed.cluster import Cluster  # noqa: E402
from testbed.emulators import MotoS3  # noqa: E402

BLOB = 16 * 1024 * 1024


def reconfigure_seconds(workdir: Path, moto: MotoS3) -> tuple[float, float]:
    """(end-to-end seconds of a settings-only reconfigure, of a switch to s3)."""
    cluster = Cluster(workdir)
    try:
        fs = ("filesystem", {"rootdirectory": str(cluster.storage_root)})
        started = time.monotonic()
        task = cluster.reconfigure(fs)
        plain = time.monotonic() - started
        assert task["state"] == "succeeded", task["error"]
        started = time.monotonic()
        task = cluster.reconfigure(("s3", moto.settings(moto.new_bucket())))
        switch = time.monotonic() - started
        assert task["state"] == "succeeded", task["error"]
        return plain, switch
    finally:
        cluster.stop()


def migration_mib_s(workdir: Path, moto: MotoS3, mib: int) -> float:
    source = create_driver("filesystem", {"rootdirectory": str(workdir / "src")})
    for _ in range(max(1, mib * 1024 * 1024 // BLOB)):
        data = os.urandom(BLOB)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        source.put_content(layout.blob_data(digest), data)
        source.put_content(layout.layer_link("bench/repo", digest), digest.encode())
    target = create_driver("s3", moto.settings(moto.new_bucket()))
    stats = migrate_bulk(source, target, Progress())
    return float(stats.as_dict()["mib_per_second"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=512)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        moto = MotoS3(Path(tmp) / "moto")
        moto.start()
        try:
            plain, switch = reconfigure_seconds(Path(tmp) / "cluster", moto)
            print(f"reconfigure, two instances: settings only {plain:.2f}s, to s3 {switch:.2f}s")
            speed = migration_mib_s(Path(tmp) / "migrate", moto, args.mib)
            print(f"migration filesystem -> s3 (moto), {args.mib} MiB: {speed} MiB/s")
        finally:
            moto.stop()


if __name__ == "__main__":
    main()
