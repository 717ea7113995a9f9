"""The mark half of GC: read the tree and decide everything that goes; delete nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from registry import layout
from registry.content.repositories import RepositoryDir, deleted_names, iter_repository_dirs
from registry.maintenance.digestset import hex_key, key_digest
from registry.maintenance.gc.mark import Marking
from registry.maintenance.gc.refs import (
    ManifestRefs,
    ManifestUnreadable,
    check_digest,
    parse_refs,
)
from registry.maintenance.gc.run import GCError, RunContext
from registry.maintenance.gc.scan import (
    PrefixScan,
    RepoScan,
    UploadScan,
    blob_prefixes,
    children,
    layer_links,
    read_manifest,
    scan_repository,
    scan_uploads,
    stat_or_none,
)
from registry.maintenance.gc.workers import chunked
from registry.maintenance.quarantine import REPAIR_COMMAND
from registry.storage import FileInfo, StorageError, StorageUnavailableError


@dataclass
class Plan:
    marking: Marking
    scans: dict[str, RepoScan] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)  # soft-deleted repositories
    doomed: dict[str, list[bytes]] = field(default_factory=dict)  # repo -> revisions to drop
    garbage: dict[bytes, int] = field(default_factory=dict)  # blob -> size
    links: dict[str, list[str]] = field(default_factory=dict)  # repo -> digests to unlink
    stale_uploads: dict[str, list[UploadScan]] = field(default_factory=dict)
    empty: list[str] = field(default_factory=list)  # repositories left with nothing


class Planner:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.driver = ctx.driver
        self.plan = Plan(Marking(ctx.options.delete_untagged))
        self.repos: list[RepositoryDir] = []
        self._young_links: set[str] = set()  # repositories with a link inside the grace period
        self._young_blobs: set[bytes] = set()  # unmarked blobs protected by the grace period
        self._young_marked: set[bytes] = set()  # blobs only young revisions reference
        self.kept = ctx.result.kept
        self._uploads_left: dict[str, int] = {}
        # Called with (key, data) of every manifest read, from the reading threads: the
        # usage task sizes what the marking references without reading manifests twice.
        self.on_manifest: Callable[[bytes, bytes], None] | None = None

    def make(self) -> Plan:
        self._scan_repositories()
        self._read_manifests()
        self._mark()
        self._scan_blobs()
        self._scan_layer_links()
        self._scan_uploads()
        self.plan.empty = sorted(n for n in self.plan.scans if self._ends_empty(n))
        return self.plan

    def _live(self) -> list[RepositoryDir]:
        return [r for r in self.repos if r.name not in self.plan.deleted]

    def _scan_repositories(self) -> None:
        with self.ctx.phase("scan_repositories") as stats:
            deleted = deleted_names(self.driver)
            self.repos = list(iter_repository_dirs(self.driver, self.ctx.work.map_list))
            scans = self.ctx.work.map(
                lambda r: scan_repository(self.driver, r, r.name in deleted),
                self.repos,
                stats.name,
                len(self.repos),
            )
            self.plan.scans = {scan.name: scan for scan in scans}
            self.plan.deleted = sorted(deleted)  # markers without files are cleared too
            stats.items = self.ctx.result.repositories_scanned = len(self.plan.scans)

    def _read_manifests(self) -> None:
        live = [s for s in self.plan.scans.values() if not s.deleted]
        keys = sorted({key for scan in live for key in scan.revisions})
        chunks = chunked(keys)
        with self.ctx.phase("read_manifests", len(keys)) as stats:
            for read in self.ctx.work.map(self._read_chunk, chunks, stats.name, len(chunks)):
                for key, refs in read:
                    self.plan.marking.add_manifest(key, refs)
            stats.items = self.ctx.result.manifests_scanned = len(self.plan.marking.refs)

    def _read_chunk(self, keys: list[bytes]) -> list[tuple[bytes, ManifestRefs]]:
        read = []
        for key in keys:
            try:
                data = read_manifest(self.driver, key)
                if data is None:
                    continue  # a revision without blob data is skipped, as Distribution does
                check_digest(key, data)
                read.append((key, parse_refs(data)))
                if self.on_manifest is not None:
                    self.on_manifest(key, data)
            except (StorageUnavailableError, TimeoutError, ConnectionError):
                raise  # transient: the task retries
            except (ManifestUnreadable, StorageError, OSError) as exc:
                raise self._unreadable(key, exc) from None
        return read

    def _unreadable(self, key: bytes, problem: Exception) -> GCError:
        """What it cannot know stops GC: the error names the manifest and the way out."""
        digest = key_digest(key)
        scans = self.plan.scans.values()
        repos = ", ".join(sorted(s.name for s in scans if key in s.revisions)) or "?"
        return GCError(
            f"manifest {digest} (repository {repos}, {layout.blob_data(digest)}) is unreadable: "
            f"{problem}; nothing was deleted, as what it references cannot be known. "
            f"Quarantine it with `{REPAIR_COMMAND}` (or push the genuine manifest again), "
            "then run GC again"
        )

    def _mark(self) -> None:
        marking = self.plan.marking
        with self.ctx.phase("mark") as stats:
            for scan in self.plan.scans.values():
                if not scan.deleted:
                    marking.add_repository(scan)
            marking.run()
            self.plan.doomed = marking.doomed()
            live = sum(len(keys) for keys in marking.live.values())
            self.kept.referenced.manifests = live - _count(self.plan.doomed)
            if self.ctx.grace and self.plan.doomed:
                self._keep_young_revisions()
            stats.items = self.ctx.result.blobs_marked = len(marking.marked)

    def _keep_young_revisions(self) -> None:
        pairs = [(repo, key) for repo, keys in self.plan.doomed.items() for key in keys]

        def stat(pair: tuple[str, bytes]) -> FileInfo | None:
            return stat_or_none(self.driver, layout.revision_link(pair[0], key_digest(pair[1])))

        self.plan.marking.record_new()
        for (repo, key), info in zip(pairs, self.ctx.work.map(stat, pairs), strict=True):
            if info is not None and self.ctx.young(info):
                self.plan.marking.keep(repo, key)
                self.kept.grace_period.add(info.mod_time)
        self.plan.marking.run()
        self.plan.doomed = self.plan.marking.doomed()
        self.kept.grace_period.manifests = len(pairs) - _count(self.plan.doomed)
        self._young_marked = self.plan.marking.recorded or set()
        self.plan.marking.recorded = None

    def _scan_blobs(self) -> None:
        prefixes = blob_prefixes(self.driver)
        with self.ctx.phase("scan_blobs", len(prefixes)) as stats:
            for found in self.ctx.work.map(self._scan_prefix, prefixes, stats.name, len(prefixes)):
                stats.items += found.scanned
                self.plan.garbage.update(found.garbage)
                self._young_blobs |= found.young.keys()
                for size, written in found.young.values():
                    self.kept.grace_period.add(written, blobs=1, size=size)
                self.kept.grace_period.add(None, found.kept_young, found.kept_young_bytes)
                self.kept.referenced.blobs += found.referenced
            self.ctx.result.blobs_protected = len(self._young_blobs)
            self.ctx.result.blobs_scanned = stats.items

    def _scan_prefix(self, prefix: tuple[str, str]) -> PrefixScan:
        algorithm, folder = prefix
        names = children(self.driver, folder)
        found = PrefixScan(len(names))
        for encoded in names:
            key = hex_key(algorithm, encoded)
            if key is None:
                continue
            young_only = key in self._young_marked
            if key in self.plan.marking.marked and not young_only:
                found.referenced += 1
                continue
            info = stat_or_none(self.driver, f"{folder}/{encoded}/data")
            if info is None:
                continue  # no data file: Distribution leaves such folders alone too
            if young_only:  # referenced only by revisions the grace period keeps
                found.kept_young += 1
                found.kept_young_bytes += info.size
            elif self.ctx.young(info):
                found.young[key] = (info.size, info.mod_time)
            else:
                found.garbage[key] = info.size
        return found

    def _scan_layer_links(self) -> None:
        if not (self.ctx.grace or self.ctx.options.remove_layer_links):
            return  # no link to date and none to remove: skip the listing
        repos = self._live()
        with self.ctx.phase("scan_layer_links", len(repos)) as stats:
            fresh: dict[bytes, datetime] = {}
            for repo, count, linked, young in self.ctx.work.map(
                self._scan_links, repos, stats.name, len(repos)
            ):
                stats.items += count
                self.plan.links[repo] = linked
                for key, when in young.items():
                    fresh[key] = max(when, fresh.get(key, when))
                if young:
                    self._young_links.add(repo)
            # Linked recently (a mount, a re-push): about to be used.
            for key, when in fresh.items():
                size = self.plan.garbage.pop(key, None)
                if size is not None:
                    self.ctx.result.blobs_protected += 1
                    self.kept.grace_period.add(when, blobs=1, size=size)
            for repo, linked in self.plan.links.items():
                self.plan.links[repo] = [d for d in linked if _key(d) not in fresh]

    def _scan_links(self, repo: RepositoryDir) -> tuple[str, int, list[str], dict[bytes, datetime]]:
        """The repository's links to garbage or to missing blobs, and the blobs it linked
        within the grace period (those stay).

        Links of a repository about to be left without manifests are all dated: a young one
        means a push is under way, so the repository is not empty.
        """
        entries = layer_links(self.driver, repo)
        check_all = self.ctx.grace and self._revisions_left(repo.name) == 0
        linked: list[str] = []
        young: dict[bytes, datetime] = {}
        for algorithm, encoded in entries:
            key = hex_key(algorithm, encoded)
            if key is None:
                continue
            garbage = key in self.plan.garbage
            # Not marked and not in the blob store: the blob is gone (a dangling link, as
            # Distribution leaves them) or arrived after the blob scan (then the link is young).
            known = key in self.plan.marking.marked or key in self._young_blobs
            dangling = not garbage and not known
            digest = f"{algorithm}:{encoded}"
            if (garbage or dangling) and self.ctx.options.remove_layer_links:
                linked.append(digest)
            dated = dangling and self.ctx.options.remove_layer_links
            if dated or check_all or (garbage and self.ctx.grace):
                info = stat_or_none(self.driver, layout.layer_link(repo.name, digest))
                if info is not None and self.ctx.young(info):
                    young[key] = info.mod_time
        return repo.name, len(entries), linked, young

    def _scan_uploads(self) -> None:
        repos = self._live()
        with self.ctx.phase("scan_uploads", len(repos)) as stats:
            scanned = self.ctx.work.map(self._uploads_of, repos, stats.name, len(repos))
            for repo, uploads in zip(repos, scanned, strict=True):
                stale = self._stale(uploads)
                self._uploads_left[repo.name] = len(uploads) - len(stale)
                purged = {u.upload_id for u in stale}
                for upload in uploads:
                    if upload.upload_id not in purged:
                        self.kept.uploads.add(upload.last_active, upload.size)
                if stale:
                    self.plan.stale_uploads[repo.name] = stale
                stats.items += len(uploads)

    def _uploads_of(self, repo: RepositoryDir) -> list[UploadScan]:
        return scan_uploads(self.driver, repo)

    def _stale(self, uploads: list[UploadScan]) -> list[UploadScan]:
        if not self.ctx.options.purge_uploads:
            return []
        cutoff = self.ctx.cutoff
        return [u for u in uploads if u.last_active is None or u.last_active <= cutoff]

    def _revisions_left(self, name: str) -> int:
        return self.plan.scans[name].revision_dirs - len(self.plan.doomed.get(name, []))

    def _ends_empty(self, name: str) -> bool:
        """No manifest, no upload and no recent link left: the repository holds nothing."""
        if self.plan.scans[name].deleted or name in self._young_links:
            return False
        return self._revisions_left(name) == 0 and self._uploads_left.get(name, 0) == 0


def _count(doomed: dict[str, list[bytes]]) -> int:
    return sum(len(keys) for keys in doomed.values())


def _key(digest: str) -> bytes | None:
    algorithm, _, encoded = digest.partition(":")
    return hex_key(algorithm, encoded)
