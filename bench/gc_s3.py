"""The S3 row of bench/gc_bench.py: ours and Distribution's GC on the same tree in moto.

The synthetic tree is built on disk, uploaded into two buckets of one moto server (keys as
both registries lay them out: `docker/registry/v2/...`, no root directory), then Distribution
2.8's `garbage-collect --delete-untagged` runs on one bucket and ours (in a process, as the
filesystem row) on the other; what each kept is compared by listing the buckets.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from testbed.emulators import MotoS3

UPLOAD_THREADS = 16


def upload_tree(moto: MotoS3, root: Path, bucket: str) -> int:
    """Every file under `root` into `bucket`, keyed by its path below `root`."""
    client = moto.client()
    files = [Path(d) / f for d, _, names in os.walk(root) for f in names]

    def put(path: Path) -> None:
        client.put_object(Bucket=bucket, Key=str(path.relative_to(root)), Body=path.read_bytes())

    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        list(pool.map(put, files))
    return len(files)


def distribution_config(moto: MotoS3, bucket: str, workdir: Path) -> Path:
    """Distribution's configuration with its s3 driver on moto's `bucket`."""
    s3 = moto.distribution_settings(bucket)
    config = {"version": 0.1, "log": {"level": "error"}, "storage": {"s3": s3}}
    path = workdir / "distribution-s3.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def kept(moto: MotoS3, bucket: str) -> set[str]:
    """Blobs and manifest revisions/tags left in `bucket` (layer links excluded)."""
    client = moto.client()
    found: set[str] = set()
    for prefix in ("docker/registry/v2/blobs/", "docker/registry/v2/repositories/"):
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            found.update(o["Key"] for o in page.get("Contents", []) if "/_layers/" not in o["Key"])
    return {f"/{key}" for key in found}


def bench_s3(
    original: Path,
    workdir: Path,
    run_distribution: Callable[[Path], tuple[float, int]],
    run_ours: Callable[[str, dict[str, Any]], tuple[float, int, dict[str, Any]]],
) -> tuple[float, float, dict[str, Any], bool]:
    """Distribution's seconds, ours, our result, and whether both kept the same."""
    moto = MotoS3(Path(tempfile.mkdtemp(prefix="moto-", dir=workdir))).start()
    try:
        theirs, ours = moto.new_bucket(), moto.new_bucket()
        for bucket in (theirs, ours):
            count = upload_tree(moto, original, bucket)
        print(f"uploaded {count} objects into each of two buckets", file=sys.stderr)
        theirs_s, _ = run_distribution(distribution_config(moto, theirs, workdir))
        ours_s, _, result = run_ours("s3", moto.settings(ours))
        return theirs_s, ours_s, result, kept(moto, theirs) == kept(moto, ours)
    finally:
        moto.stop()
