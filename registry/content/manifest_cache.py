"""A bounded in-process cache of manifest bytes and media types, keyed by digest.

Content is addressed by its digest, so an entry can never be stale: whether a repository
or tag still points at the digest is always read from storage, only the bytes are reused.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

DEFAULT_BUDGET = 64 * 1024 * 1024
REPORTED_LIMIT = 1024


@dataclass(frozen=True)
class StoredManifest:
    digest: str
    media_type: str
    body: bytes


class ManifestCache:
    """Least-recently-used, bounded by the total size of the cached bodies; thread-safe."""

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET) -> None:
        self._budget = budget_bytes
        self._used = 0
        self._entries: OrderedDict[str, StoredManifest] = OrderedDict()
        self._lock = threading.Lock()
        self._reported: set[str] = set()  # digests of unservable manifests already logged

    def get(self, digest: str) -> StoredManifest | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is not None:
                self._entries.move_to_end(digest)
            return entry

    def put(self, manifest: StoredManifest) -> None:
        size = len(manifest.body)
        if size > self._budget // 8:
            return  # a few huge manifests must not evict everything else
        with self._lock:
            if manifest.digest in self._entries:
                return
            self._entries[manifest.digest] = manifest
            self._used += size
            while self._used > self._budget:
                _, evicted = self._entries.popitem(last=False)
                self._used -= len(evicted.body)

    def first_report(self, digest: str) -> bool:
        """True the first time an unservable manifest `digest` is reported (bounded: after
        REPORTED_LIMIT digests the record starts over, and each is logged once more)."""
        with self._lock:
            if digest in self._reported:
                return False
            if len(self._reported) >= REPORTED_LIMIT:
                self._reported.clear()
            self._reported.add(digest)
            return True

    def __len__(self) -> int:
        return len(self._entries)
