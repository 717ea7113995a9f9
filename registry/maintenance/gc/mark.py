"""Marking: which manifest revisions stay in which repository, and every blob they reference.

Roots are the revisions of every live repository (with `delete_untagged`, only the tagged
ones). A kept manifest marks its own blob, the blobs it references and its index children
with theirs; a child that is a revision of the index's own repository is kept there too
(Distribution's `--delete-untagged` deletes it). A revision is kept in a repository only for
reasons inside it: an index in another repository marks the child's blobs, not its revision
here (Distribution's `--delete-untagged` too). A manifest with a `subject` is a referrer:
unless tagged, it is kept in a repository exactly while its subject is kept there.
"""

from __future__ import annotations

from collections import defaultdict

from registry.maintenance.digestset import DigestSet
from registry.maintenance.gc.refs import ManifestRefs
from registry.maintenance.gc.scan import RepoScan


class Marking:
    def __init__(self, delete_untagged: bool) -> None:
        self.delete_untagged = delete_untagged
        self.marked = DigestSet()  # blobs (manifests included) that must stay
        self.refs: dict[bytes, ManifestRefs] = {}  # every readable live revision's references
        self.live: dict[str, list[bytes]] = {}  # repository -> its readable revisions
        self.kept: dict[str, set[bytes]] = {}  # repository -> revisions that stay
        self._repos_of: dict[bytes, set[str]] = defaultdict(set)
        self._referrers: dict[tuple[str, bytes], list[bytes]] = defaultdict(list)
        self._expanded: set[bytes] = set()
        self._queue: list[tuple[str, bytes]] = []
        self.recorded: set[bytes] | None = None  # what record_new() saw marked since

    def record_new(self) -> None:
        """From now on, remember every newly marked blob (what young revisions alone keep)."""
        self.recorded = set()

    def _mark(self, key: bytes) -> None:
        if self.marked.add(key) and self.recorded is not None:
            self.recorded.add(key)

    def add_manifest(self, key: bytes, refs: ManifestRefs) -> None:
        self.refs[key] = refs

    def add_repository(self, scan: RepoScan) -> None:
        """Register a live repository (after add_manifest of its revisions) and its roots."""
        live = [key for key in scan.revisions if key in self.refs]
        self.live[scan.name] = live
        self.kept[scan.name] = set()
        tagged = {key for _, key in scan.tags if key is not None}
        for key in live:
            self._repos_of[key].add(scan.name)
            subject = self.refs[key].subject
            if subject is not None:
                self._referrers[(scan.name, subject)].append(key)
            if key in tagged or (not self.delete_untagged and subject is None):
                self._queue.append((scan.name, key))

    def keep(self, repo: str, key: bytes) -> None:
        """Make a revision a root (e.g. younger than the grace period); call run() after."""
        self._queue.append((repo, key))

    def run(self) -> None:
        """Mark from every queued root until nothing new is reached."""
        while self._queue:
            repo, key = self._queue.pop()
            kept = self.kept[repo]
            if key in kept:
                continue
            kept.add(key)
            self._expand(key)
            ours = (c for c in self.refs[key].children if repo in self._repos_of.get(c, ()))
            self._queue.extend((repo, child) for child in ours)
            self._queue.extend((repo, r) for r in self._referrers.get((repo, key), ()))

    def _expand(self, root: bytes) -> None:
        """Mark a manifest's blob, its references and, recursively, its children's."""
        stack = [root]
        while stack:
            key = stack.pop()
            if key in self._expanded:
                continue
            self._expanded.add(key)
            self._mark(key)
            refs = self.refs[key]
            for blob in refs.blobs:
                self._mark(blob)
            for child in refs.children:
                self._mark(child)
                if child in self.refs:
                    stack.append(child)

    def doomed(self) -> dict[str, list[bytes]]:
        """Per repository, the readable revisions that are not kept."""
        result = {}
        for repo, live in self.live.items():
            kept = self.kept[repo]
            gone = [key for key in live if key not in kept]
            if gone:
                result[repo] = gone
        return result
