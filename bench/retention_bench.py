"""Retention over the synthetic tree of bench/gc_bench.py: times and peak RSS.

Builds the GC benchmark's filesystem registry (2,000 repositories, 20,000 manifests, each
repository's 5 tags overwritten once, so 5 of its 10 manifests are untagged), dates tag
`vK` back K days, then runs in child processes, on the same tree: a dry run, the real run
of `keep_last: 2` with `delete_untagged` (3 tags and 8 manifests go per repository), and
a second run that finds nothing. Prints wall time and peak RSS of each.

    .venv/bin/python bench/retention_bench.py [--repos 2000 --blobs 100000 --manifests 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

from gc_bench import Shape, _timed, build  # noqa: E402

from testbed.synthetic_tree import V2  # noqa: E402

POLICY = {"name": "bench", "repositories": "**", "keep_last": 2, "delete_untagged": True}


def date_tags(root: Path) -> int:
    """Tag `vK`'s current/link written K days ago (K+1 for v0 ... so every age differs)."""
    now, count = time.time(), 0
    for link in (root / V2 / "repositories").glob("*/*/_manifests/tags/*/current/link"):
        age = int(link.parent.parent.name.removeprefix("v")) * 86400 + 3600
        os.utime(link, (now - age, now - age))
        count += 1
    return count


def run(root: Path, dry_run: bool) -> tuple[float, int, dict[str, object]]:
    out = root.parent / "retention.json"
    command = [sys.executable, __file__, "--run", str(root), "--result", str(out)]
    seconds, rss = _timed([*command, *(["--dry-run"] if dry_run else [])], env=dict(os.environ))
    return seconds, rss, json.loads(out.read_text())


def _in_process(root: Path, dry_run: bool, result_file: Path) -> None:
    from registry.maintenance.retention_compile import compile_policy
    from registry.maintenance.retention_run import Retention
    from registry.storage import create_driver
    from registry.tasks.retention_policy import PolicySpec

    driver = create_driver("filesystem", {"rootdirectory": str(root)})
    policy = compile_policy(PolicySpec.model_validate(POLICY))
    result = Retention(driver, policy, dry_run=dry_run).run().to_dict()
    result.pop("deleted")  # the totals suffice here
    result_file.write_text(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=2000)
    parser.add_argument("--blobs", type=int, default=100_000)
    parser.add_argument("--manifests", type=int, default=20_000)
    parser.add_argument("--run", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dry-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        _in_process(args.run, args.dry_run, args.result)
        return
    workdir = Path(tempfile.mkdtemp(prefix="retention-bench-"))
    try:
        bench(workdir / "tree", Shape(args.repos, args.blobs, args.manifests))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def bench(root: Path, shape: Shape) -> None:
    started = time.monotonic()
    blobs = build(root, shape)
    tags = date_tags(root)
    print(
        f"built {shape.repos} repositories, {blobs} blobs, {tags} tags in "
        f"{time.monotonic() - started:.1f}s; policy {json.dumps(POLICY)}"
    )
    for label, dry_run in (("dry run", True), ("real run", False), ("second run", False)):
        seconds, rss, result = run(root, dry_run)
        print(
            f"{label:<10} {seconds:7.2f}s (retention itself {result['seconds']:.2f}s; peak RSS "
            f"{rss / 1024:.0f} MiB): {result['tags_deleted']} tags, "
            f"{result['manifests_deleted']} manifests {'to delete' if dry_run else 'deleted'}"
        )


if __name__ == "__main__":
    main()
