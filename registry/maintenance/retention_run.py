"""Running a retention policy over the storage, one repository at a time (docs/retention.md).

Push time is the modification time of a tag's `current/link`, which Distribution's layout
rewrites on every push of the tag and nothing else touches: the only record of "when the
tag last moved" the layout has (the same one `usage` reports as `last_push_at`). Tags are
deleted as `DELETE /v2/<name>/manifests/<tag>` does (the tag only); untagged manifests as a
delete by digest does (revision link and referrers-index entry); blobs are left to GC.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from registry import layout
from registry.content import referrers
from registry.content.repositories import MANIFESTS, RepositoryDir, list_repositories
from registry.content.tags import untag
from registry.maintenance.digestset import key_digest
from registry.maintenance.gc.refs import ManifestUnreadable, check_digest, parse_refs
from registry.maintenance.gc.scan import read_key, read_manifest, scan_repository, stat_or_none
from registry.maintenance.retention import (
    ManifestNode,
    Protected,
    TagState,
    nothing_protected,
    select_tags,
    untagged_to_delete,
)
from registry.maintenance.retention_compile import CompiledPolicy
from registry.storage import PathNotFoundError, StorageDriver

ProgressFn = Callable[[str, int, int | None], None]
ROUND = 8  # repositories processed at once (bench/retention_bench.py: 2 -> 8 took 1/3 off)


@dataclass
class RepositoryOutcome:
    repository: str
    tags_kept: int = 0
    tags: list[str] = field(default_factory=list)  # deleted (or, dry run, to delete)
    digests: dict[str, str] = field(default_factory=dict)  # each of those tags: its manifest
    manifests: list[str] = field(default_factory=list)  # untagged manifests deleted
    skipped: list[str] = field(default_factory=list)  # why something was left alone


@dataclass
class RetentionResult:
    policy: str
    dry_run: bool
    repositories: list[RepositoryOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The task's result: totals, and per repository every tag and manifest deleted."""
        return {
            "policy": self.policy,
            "dry_run": self.dry_run,
            "repositories": len(self.repositories),
            "tags_kept": sum(r.tags_kept for r in self.repositories),
            "tags_deleted": sum(len(r.tags) for r in self.repositories),
            "manifests_deleted": sum(len(r.manifests) for r in self.repositories),
            "deleted": {
                r.repository: {"tags": r.tags, "manifests": r.manifests}
                for r in self.repositories
                if r.tags or r.manifests
            },
            "skipped": {r.repository: r.skipped for r in self.repositories if r.skipped},
            "seconds": self.seconds,
        }


@dataclass
class Retention:
    """One run of `policy`; `run()` walks the repositories the policy's glob selects."""

    driver: StorageDriver
    policy: CompiledPolicy
    dry_run: bool = False
    protected: Protected = nothing_protected
    untagged_grace: timedelta = timedelta(0)  # untagged revisions younger than it stay
    progress: ProgressFn | None = None  # raises TaskCancelled between rounds of repositories
    log_line: Callable[[str], None] | None = None
    # Called in the calling thread after each repository, in order (e.g. to audit it).
    on_repository: Callable[[RepositoryOutcome], None] | None = None
    # Repositories at once; None: ROUND (or more if the driver reads more at once).
    workers: int | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def run(self) -> RetentionResult:
        started = time.monotonic()
        names = [n for n in list_repositories(self.driver) if self.policy.glob.matches(n)]
        result = RetentionResult(self.policy.spec.name, self.dry_run)
        # Eight repositories at a time (deletes wait on the disk or the network, and overlap
        # well), each done whole: a cancel stops between two such rounds.
        workers = self.workers or max(ROUND, self.driver.read_concurrency)
        with ThreadPoolExecutor(workers, thread_name_prefix="hth-retention") as pool:
            for start in range(0, len(names), workers):
                self._report(start, len(names))
                for outcome in pool.map(self.repository, names[start : start + workers]):
                    result.repositories.append(outcome)
                    self._say_outcome(outcome)
                    if self.on_repository is not None:
                        self.on_repository(outcome)
        self._report(len(names), len(names))
        result.seconds = round(time.monotonic() - started, 3)
        verb = "would delete" if self.dry_run else "deleted"
        totals = result.to_dict()
        self._say(
            f"retention {self.policy.spec.name}: {len(names)} repositories, {verb} "
            f"{totals['tags_deleted']} tags and {totals['manifests_deleted']} manifests"
        )
        return result

    def repository(self, name: str) -> RepositoryOutcome:
        outcome = RepositoryOutcome(name)
        scan = scan_repository(self.driver, RepositoryDir(name, frozenset({MANIFESTS})), False)
        tags = [t for tag, key in scan.tags if (t := self._tag_state(name, tag, key))]
        selection = select_tags(name, tags, self.policy.rules, self.now, self.protected)
        outcome.tags_kept = len(selection.kept)
        for tag in selection.deleted:
            if self._delete_tag(name, tag):
                outcome.tags.append(tag.name)
                outcome.digests[tag.name] = tag.digest
            else:
                outcome.skipped.append(f"tag {tag.name}: moved during the run, kept")
        if self.policy.spec.delete_untagged:
            self._delete_untagged(name, set(outcome.tags), outcome)
        return outcome

    def _tag_state(self, name: str, tag: str, key: bytes | None) -> TagState | None:
        info = stat_or_none(self.driver, layout.tag_current_link(name, tag))
        if key is None or info is None:
            return None  # a broken tag link: not ours to judge
        return TagState(tag, key_digest(key), info.mod_time.astimezone(UTC))

    def _delete_tag(self, name: str, tag: TagState) -> bool:
        """Delete unless the tag moved since it was read (a push meanwhile keeps it)."""
        if self.dry_run:
            return True
        now = self._tag_state(name, tag.name, _key_of(self.driver, name, tag.name))
        if now != tag:
            return False
        untag(self.driver, name, tag.name)
        return True

    def _delete_untagged(self, name: str, deleted_tags: set[str], out: RepositoryOutcome) -> None:
        # Re-read: the roots are the tags left now (a push meanwhile adds one), minus in a
        # dry run those the run would have deleted.
        scan = scan_repository(self.driver, RepositoryDir(name, frozenset({MANIFESTS})), False)
        gone = deleted_tags if self.dry_run else set()
        roots = [key_digest(k) for tag, k in scan.tags if k and tag not in gone]
        nodes: dict[str, ManifestNode] = {}
        for key in sorted(scan.revisions):
            node = _node(self.driver, key)
            if node is None:
                out.skipped.append(f"untagged: manifest {key_digest(key)} unreadable, none deleted")
                return  # what it names is unknown: deleting around it could break a kept one
            nodes[node.digest] = node
        # A young manifest stays, and so does what it holds (an index pushed a moment ago
        # keeps its children): it joins the roots.
        young = [d for d in untagged_to_delete(roots, nodes) if self._young(name, d)]
        out.skipped += [f"manifest {d}: younger than the grace period, kept" for d in young]
        for digest in untagged_to_delete([*roots, *young], nodes):
            if not self.dry_run:
                self._delete_revision(name, nodes[digest])
            out.manifests.append(digest)

    def _young(self, name: str, digest: str) -> bool:
        info = stat_or_none(self.driver, layout.revision_link(name, digest))
        return info is not None and self.now - info.mod_time < self.untagged_grace

    def _delete_revision(self, name: str, node: ManifestNode) -> None:
        try:  # the folder holds only `link`: one unlink and one rmdir, as GC deletes them
            self.driver.delete_dir(
                layout.revision_link(name, node.digest).rsplit("/", 1)[0], ("link",)
            )
        except PathNotFoundError:
            pass  # deleted meanwhile: the outcome is the same
        if node.subject is not None:
            referrers.remove_referrer(self.driver, name, node.subject, node.digest)

    def _report(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress("retention", done, total)

    def _say(self, line: str) -> None:
        if self.log_line is not None:
            self.log_line(line)

    def _say_outcome(self, outcome: RepositoryOutcome) -> None:
        verb = "would delete" if self.dry_run else "deleted"
        if outcome.tags or outcome.manifests:
            tags = ", ".join(outcome.tags) or "none"
            self._say(
                f"{outcome.repository}: {verb} tags {tags}; {len(outcome.manifests)} untagged "
                f"manifests; kept {outcome.tags_kept} tags"
            )
        for reason in outcome.skipped:
            self._say(f"{outcome.repository}: {reason}")


def _key_of(driver: StorageDriver, name: str, tag: str) -> bytes | None:
    return read_key(driver, layout.tag_current_link(name, tag))


def _node(driver: StorageDriver, key: bytes) -> ManifestNode | None:
    data = read_manifest(driver, key)
    if data is None:
        return None
    try:
        check_digest(key, data)
        refs = parse_refs(data)
    except ManifestUnreadable:
        return None
    subject = key_digest(refs.subject) if refs.subject is not None else None
    return ManifestNode(key_digest(key), tuple(key_digest(c) for c in refs.children), subject)
