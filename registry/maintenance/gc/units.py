"""How the sweep cuts its work into units, and (online GC) units into claims.

A unit is what one thread does at a time, and the sweep stops only between units. Online, the
fence's agreement with writers (docs/gc.md) is made for many units at once: one claim (one
mark insert, one touch read, one unmark) for CLAIM_KEYS keys, whose units then run on the whole
pool while the claim holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from registry.content.gc_guard import repository_key, upload_key
from registry.maintenance.digestset import key_digest
from registry.maintenance.gc.scan import UploadScan
from registry.maintenance.gc.workers import chunked

T = TypeVar("T")
RevisionUnit = list[tuple[str, list[bytes]]]  # (repository, revisions) pairs
MayDelete = Callable[[str], bool]
# Online GC: keys per claim (one mark insert, one touch read, one unmark for all of them,
# whose units then run on the whole pool), and keys per unit of blobs or links within it
# (small units keep the threads busy to the end of a claim).
CLAIM_KEYS = 2048
ONLINE_UNIT = 16


def groups(items: list[T], keys: Callable[[T], Iterable[str]], size: int) -> list[list[T]]:
    """Consecutive items in groups holding at least `size` keys (the last one fewer)."""
    found: list[list[T]] = [[]]
    count = 0
    for item in items:
        if count >= size:
            found.append([])
            count = 0
        found[-1].append(item)
        count += sum(1 for _ in keys(item))
    return [group for group in found if group]


def packed(doomed: dict[str, list[bytes]], pack: bool, size: int = 64) -> list[RevisionUnit]:
    """Repositories' doomed revisions in units of at most `size` revisions; with `pack`,
    several small repositories share a unit (fewer units for online GC's claims),
    otherwise each repository's chunk is a unit of its own (the most parallel)."""
    units: list[RevisionUnit] = [[]]
    count = 0
    for repo in sorted(doomed):
        for chunk in chunked(doomed[repo], size):
            if count and (not pack or count + len(chunk) > size):
                units.append([])
                count = 0
            units[-1].append((repo, chunk))
            count += len(chunk)
    return [unit for unit in units if unit]


# The keys a unit of each step claims (what writers protect before using it: docs/gc.md).


def no_keys(_: str) -> tuple[str, ...]:
    return ()  # soft-deleted repositories: every request to them is refused


def revision_keys(unit: RevisionUnit) -> list[str]:
    return [key_digest(key) for _, keys in unit for key in keys]


def blob_keys(keys: list[bytes]) -> list[str]:
    return [key_digest(key) for key in keys]


def link_keys(pairs: list[tuple[str, str]]) -> list[str]:
    return [digest for _, digest in pairs]


def upload_keys(item: tuple[str, UploadScan | None]) -> list[str]:
    return [upload_key(item[1].upload_id)] if item[1] is not None else []


def repository_keys(name: str) -> list[str]:
    return [repository_key(name)]
