"""Deleting what GC found: each function is one unit of work, safe to stop after.

Order matters for a run that stops half way: revisions and links go before the blobs they
reference, a repository's marker after its files, so every stop leaves a tree the next run can
finish and that never serves a manifest whose blobs are gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import TypeVar

from registry import layout
from registry.content.gc_guard import repository_key, upload_key
from registry.content.repositories import REPOSITORY_PARTS, clear_deleted
from registry.maintenance.digestset import hex_key, key_digest
from registry.maintenance.gc.plan import Plan
from registry.maintenance.gc.run import NoFence, RunContext
from registry.maintenance.gc.scan import UploadScan, children, delete_quietly
from registry.maintenance.gc.units import (
    CLAIM_KEYS,
    ONLINE_UNIT,
    MayDelete,
    RevisionUnit,
    blob_keys,
    groups,
    link_keys,
    no_keys,
    packed,
    repository_keys,
    revision_keys,
    upload_keys,
)
from registry.maintenance.gc.workers import chunked
from registry.storage import StorageDriver

T = TypeVar("T")
LINK = ("link",)  # what a revision, tag history or layer link folder holds


def _run(fn: Callable[[T, MayDelete], T], may_delete: MayDelete, item: T) -> T:
    return fn(item, may_delete)


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def delete_revisions(
    driver: StorageDriver, repo: str, doomed: dict[bytes, bytes | None], tags: list[str]
) -> None:
    """Remove manifest revisions (digest -> subject) from a repository, as Distribution's
    vacuum does: each tag's history entry first, then the revision itself."""
    algorithms = {key_digest(key).partition(":")[0] for key in doomed}
    for tag in tags:
        for algorithm in algorithms:
            history = f"{layout.tag_dir(repo, tag)}/index/{algorithm}"
            for encoded in children(driver, history):
                if hex_key(algorithm, encoded) in doomed:
                    delete_quietly(driver, f"{history}/{encoded}", LINK)
    for key, subject in doomed.items():
        digest = key_digest(key)
        if subject is not None:
            entry = layout.referrer_link(repo, key_digest(subject), digest)
            delete_quietly(driver, entry)
            _delete_if_empty(driver, _parent(entry), layout.referrers_repo_root(repo))
        delete_quietly(driver, _parent(layout.revision_link(repo, digest)), LINK)


def delete_blob(driver: StorageDriver, key: bytes) -> bool:
    return delete_quietly(driver, layout.blob_dir(key_digest(key)), ("data",))


def delete_layer_link(driver: StorageDriver, repo: str, digest: str) -> bool:
    return delete_quietly(driver, _parent(layout.layer_link(repo, digest)), LINK)


def _delete_referrers(driver: StorageDriver, repo: str) -> None:
    # Only the subject folders: a nested repository's referrers live beside them.
    root = layout.referrers_repo_root(repo)
    for algorithm in children(driver, root):
        for encoded in children(driver, f"{root}/{algorithm}"):
            if hex_key(algorithm, encoded) is not None:
                delete_quietly(driver, f"{root}/{algorithm}/{encoded}")
        _delete_if_empty(driver, f"{root}/{algorithm}", root)


def _delete_if_empty(driver: StorageDriver, path: str, stop: str) -> None:
    """Remove `path` and then its parents up to `stop` while they hold nothing."""
    while path != stop and path.startswith(stop + "/") and not children(driver, path):
        delete_quietly(driver, path)
        path = _parent(path)


def delete_repository_files(driver: StorageDriver, repo: str) -> None:
    """Everything of repository `repo` but its nested repositories."""
    root = layout.repository(repo)
    for part in REPOSITORY_PARTS:
        delete_quietly(driver, f"{root}/{part}")
    _delete_referrers(driver, repo)
    _delete_if_empty(driver, root, layout.REPOSITORIES)
    _delete_if_empty(driver, layout.referrers_repo_root(repo), f"{layout.HTH_ROOT}/referrers")


def is_empty_now(driver: StorageDriver, repo: str) -> bool:
    """Re-checked just before deleting an empty repository: no manifest or upload arrived."""
    revisions = layout.revisions_root(repo)
    if any(children(driver, f"{revisions}/{alg}") for alg in children(driver, revisions)):
        return False
    return not children(driver, layout.uploads_root(repo))


class Sweeper:
    """Carries out a Plan (or, in a dry run, only counts it) and fills in the result."""

    def __init__(self, ctx: RunContext, plan: Plan) -> None:
        self.ctx, self.plan = ctx, plan
        self.driver = ctx.driver
        self.result = ctx.result

    def sweep(self) -> None:
        self._deleted_repositories()
        self._revisions()
        self._layer_links()  # before the blobs: a stop in between leaves no dangling link
        self._blobs()
        self._uploads()
        self._empty_repositories()

    @property
    def _online(self) -> bool:
        return not isinstance(self.ctx.fence, NoFence)

    def _each(
        self,
        items: list[T],
        keys: Callable[[T], Iterable[str]],
        fn: Callable[[T, MayDelete], T],
        phase: str,
    ) -> Iterator[T]:
        """Run `fn(item, may_delete)` on each item, unless this is a dry run; yield the items
        done either way. The fence claims the keys of many items at once (CLAIM_KEYS), whose
        items then run in parallel while the claim holds (one claim in all without a fence)."""
        if self.ctx.options.dry_run:
            yield from items
            return
        fence, done = self.ctx.fence, 0
        for group in groups(items, keys, CLAIM_KEYS) if self._online else [items]:
            self.ctx.pace()  # never within a claim, whose marks would expire meanwhile
            wanted = {key for item in group for key in keys(item)} if self._online else ()
            with fence.claim(wanted) as may_delete:
                run = partial(_run, fn, may_delete)
                for unit in self.ctx.work.map(run, group, phase, len(items), done):
                    done += 1
                    yield unit

    def _deleted_repositories(self) -> None:
        names = self.plan.deleted
        with self.ctx.phase("delete_repositories", len(names)) as stats:
            for name in self._each(names, no_keys, self._drop_repository, stats.name):
                scan = self.plan.scans.get(name)
                self.result.manifests_deleted += scan.revision_dirs if scan else 0
                self.result.repositories_deleted.append(name)
                stats.items += 1

    def _drop_repository(self, name: str, _: MayDelete) -> str:
        delete_repository_files(self.driver, name)
        clear_deleted(self.driver, name)  # last: until here the name stays refused
        return name

    def _revisions(self) -> None:
        units = packed(self.plan.doomed, pack=self._online)
        total = sum(len(keys) for keys in self.plan.doomed.values())
        with self.ctx.phase("delete_manifests", total) as stats:
            for unit in self._each(units, revision_keys, self._drop_revisions, stats.name):
                deleted = sum(len(keys) for _, keys in unit)
                stats.items += deleted
                self.result.manifests_deleted += deleted

    def _drop_revisions(self, unit: RevisionUnit, may_delete: MayDelete) -> RevisionUnit:
        """Doomed revisions of a few repositories, less those writes touched: one unit of
        work (returns what it deleted)."""
        refs = self.plan.marking.refs
        done: RevisionUnit = []
        for repo, keys in unit:
            doomed = {key: refs[key].subject for key in keys if may_delete(key_digest(key))}
            if doomed:
                tags = [tag for tag, _ in self.plan.scans[repo].tags]
                delete_revisions(self.driver, repo, doomed, tags)
            done.append((repo, list(doomed)))
        return done

    def _blobs(self) -> None:
        garbage = self.plan.garbage
        with self.ctx.phase("delete_blobs", len(garbage)) as stats:
            units = chunked(sorted(garbage), self._unit_size)
            for keys in self._each(units, blob_keys, self._drop_blobs, stats.name):
                freed = sum(garbage[k] for k in keys)
                stats.items += len(keys)
                stats.bytes += freed
                self.result.blobs_deleted += len(keys)
                self.result.bytes_freed += freed
                self.result.deleted_blobs.extend(key_digest(k) for k in keys)

    @property
    def _unit_size(self) -> int:
        return ONLINE_UNIT if self._online else 64

    def _drop_blobs(self, keys: list[bytes], may_delete: MayDelete) -> list[bytes]:
        """Returns the keys deleted (all of them but those writes touched)."""
        deleted = [key for key in keys if may_delete(key_digest(key))]
        for key in deleted:
            delete_blob(self.driver, key)
        return deleted

    def _layer_links(self) -> None:
        pairs = [(repo, d) for repo, digests in sorted(self.plan.links.items()) for d in digests]
        with self.ctx.phase("delete_layer_links", len(pairs)) as stats:
            units = chunked(pairs, self._unit_size)
            for chunk in self._each(units, link_keys, self._drop_links, stats.name):
                stats.items += len(chunk)
                self.result.layer_links_deleted += len(chunk)

    def _drop_links(
        self, pairs: list[tuple[str, str]], may_delete: MayDelete
    ) -> list[tuple[str, str]]:
        deleted = [(repo, digest) for repo, digest in pairs if may_delete(digest)]
        for repo, digest in deleted:
            delete_layer_link(self.driver, repo, digest)
        return deleted

    def _uploads(self) -> None:
        stale: list[tuple[str, UploadScan | None]] = [
            (repo, u) for repo, ups in sorted(self.plan.stale_uploads.items()) for u in ups
        ]
        with self.ctx.phase("purge_uploads", len(stale)) as stats:
            for _, upload in self._each(stale, upload_keys, self._drop_upload, stats.name):
                if upload is None:  # a request used it during the run
                    continue
                stats.items += 1
                stats.bytes += upload.size
                self.result.uploads_purged += 1
                self.result.upload_bytes_freed += upload.size

    def _drop_upload(
        self, item: tuple[str, UploadScan | None], may_delete: MayDelete
    ) -> tuple[str, UploadScan | None]:
        repo, upload = item
        if upload is None:
            return item
        if not may_delete(upload_key(upload.upload_id)):
            return repo, None
        delete_quietly(self.driver, layout.upload_dir(repo, upload.upload_id))
        return item

    def _empty_repositories(self) -> None:
        names = self.plan.empty
        with self.ctx.phase("delete_empty_repositories", len(names)) as stats:
            for name in self._each(names, repository_keys, self._drop_if_empty, stats.name):
                if name:  # "" when something arrived since the scan
                    self.result.repositories_deleted.append(name)
                    stats.items += 1

    def _drop_if_empty(self, name: str, may_delete: MayDelete) -> str:
        if not may_delete(repository_key(name)) or not is_empty_now(self.driver, name):
            return ""
        delete_repository_files(self.driver, name)
        return name
