"""`usage`: storage used per repository and namespace, and what a GC would free now.

It runs GC's planner (mark, blob scan) and its sweeper in dry-run form, so "would free" is
exactly what `gc` with the same options would report; sizes come from the manifests the
planner reads anyway, so no layer data is downloaded (docs/usage.md).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime

from registry import layout
from registry.config import GCSettings
from registry.maintenance.gc.collect import GCOptions
from registry.maintenance.gc.plan import Plan, Planner
from registry.maintenance.gc.refs import ManifestRefs
from registry.maintenance.gc.run import RunContext
from registry.maintenance.gc.scan import RepoScan, stat_or_none
from registry.maintenance.gc.sweep import Sweeper
from registry.maintenance.gc.workers import ProgressFn, Work
from registry.maintenance.usage_sizes import BlobSizes
from registry.storage import StorageDriver
from registry.tasks.params import UsageParams
from registry.tasks.usage_result import NamespaceUsage, RepositoryUsage, UsageResult


def options_from_params(params: UsageParams, defaults: GCSettings) -> GCOptions:
    untagged, grace = params.delete_untagged, params.grace_period
    return GCOptions(
        dry_run=True,
        delete_untagged=defaults.delete_untagged if untagged is None else untagged,
        grace_period=defaults.grace_period if grace is None else grace,  # 0 is a grace period
    )


def namespace_of(repository: str) -> str:
    return repository.partition("/")[0]


def compute_usage(
    driver: StorageDriver,
    options: GCOptions | None = None,
    *,
    stat_blobs: bool = False,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    log_line: Callable[[str], None] | None = None,
) -> UsageResult:
    """Usage of every live repository. Raises TaskCancelled between units of work when
    should_stop() (or progress) says so, GCError when a manifest cannot be read."""
    options = replace(options or GCOptions(), dry_run=True)
    readers = min(options.workers, driver.read_concurrency)
    ctx = RunContext(driver, options, Work(readers, should_stop, progress), log_line)
    started = time.monotonic()
    sizes = BlobSizes()
    try:
        planner = Planner(ctx)
        planner.on_manifest = sizes.add
        plan = planner.make()
        Sweeper(ctx, plan).sweep()  # a dry run: counts what a GC would free, deletes nothing
        would_free = ctx.result.bytes_freed + ctx.result.upload_bytes_freed
        result = _tally(ctx, plan, sizes, would_free, stat_blobs)
    finally:
        ctx.work.close()
    result.seconds = round(time.monotonic() - started, 3)
    ctx.say(
        f"usage: {len(result.repositories)} repositories, {result.total_bytes} bytes "
        f"referenced, a GC would free {result.gc_would_free_bytes} bytes"
    )
    return result


def _tally(
    ctx: RunContext, plan: Plan, sizes: BlobSizes, would_free: int, stat_blobs: bool
) -> UsageResult:
    refs = plan.marking.refs
    live = sorted((s for s in plan.scans.values() if not s.deleted), key=lambda s: s.name)
    held = {scan.name: _held_blobs(scan, refs) for scan in live}
    everything: set[bytes] = set()
    for blobs in held.values():
        everything |= blobs
    with ctx.phase("usage_sizes", len(everything)):

        def stat_each(fn: Callable[[bytes], int], keys: list[bytes]) -> Iterable[int]:
            return ctx.work.map(fn, keys, "usage_sizes", len(keys))

        size = sizes.complete(ctx.driver, everything, stat_each, stat_blobs)
    with ctx.phase("usage_tags", len(live)):
        pushed = dict(
            zip(
                (s.name for s in live),
                ctx.work.map(
                    lambda s: _last_push(ctx.driver, s, refs), live, "usage_tags", len(live)
                ),
                strict=True,
            )
        )
    repositories = _repositories(live, held, size, pushed, refs.keys())
    namespaces = _namespaces(held, size)
    return UsageResult(
        computed_at=ctx.started,
        total_bytes=sum(size.values()),
        gc_would_free_bytes=would_free,
        blobs=len(everything),
        repositories=repositories,
        namespaces=namespaces,
    )


def _held_blobs(scan: RepoScan, refs: Mapping[bytes, ManifestRefs]) -> set[bytes]:
    """The repository's readable manifests and every blob and child manifest they name."""
    blobs: set[bytes] = set()
    for key in scan.revisions:
        if key in refs:
            blobs.add(key)
            blobs.update(refs[key].blobs)
            blobs.update(refs[key].children)
    return blobs


def _repositories(
    live: list[RepoScan],
    held: dict[str, set[bytes]],
    size: dict[bytes, int],
    pushed: dict[str, datetime | None],
    readable: Container[bytes],
) -> list[RepositoryUsage]:
    holders = Counter(key for blobs in held.values() for key in blobs)
    return [
        RepositoryUsage(
            repository=scan.name,
            namespace=namespace_of(scan.name),
            size_bytes=sum(size[k] for k in held[scan.name]),
            unique_bytes=sum(size[k] for k in held[scan.name] if holders[k] == 1),
            manifests=sum(1 for key in scan.revisions if key in readable),
            tags=len(_live_tags(scan, readable)),
            last_push_at=pushed[scan.name],
        )
        for scan in live
    ]


def _namespaces(held: dict[str, set[bytes]], size: dict[bytes, int]) -> list[NamespaceUsage]:
    blobs_of: dict[str, set[bytes]] = {}
    repositories: Counter[str] = Counter()
    for name, blobs in held.items():
        namespace = namespace_of(name)
        blobs_of.setdefault(namespace, set()).update(blobs)
        repositories[namespace] += 1
    holders = Counter(key for blobs in blobs_of.values() for key in blobs)
    return [
        NamespaceUsage(
            namespace=namespace,
            size_bytes=sum(size[k] for k in blobs),
            unique_bytes=sum(size[k] for k in blobs if holders[k] == 1),
            repositories=repositories[namespace],
        )
        for namespace, blobs in sorted(blobs_of.items())
    ]


def _live_tags(scan: RepoScan, readable: Container[bytes]) -> list[str]:
    """Tags pointing at a manifest the repository still has (a pull of the others fails)."""
    return [tag for tag, key in scan.tags if key is not None and key in readable]


def _last_push(
    driver: StorageDriver, scan: RepoScan, readable: Container[bytes]
) -> datetime | None:
    """When a tag of the repository last moved: the newest write of a tag's `current/link`
    (Distribution rewrites it on every push of the tag; one stat per tag)."""
    times = [
        info.mod_time.astimezone(UTC)
        for tag in _live_tags(scan, readable)
        if (info := stat_or_none(driver, layout.tag_current_link(scan.name, tag))) is not None
    ]
    return max(times, default=None)
