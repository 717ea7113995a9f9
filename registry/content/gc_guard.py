"""What a request does before it relies on stored content an online GC could be deleting.

Before a request answers success because a blob exists, or makes a new reference to stored
content (a link, a manifest, a tag, an upload's data), it calls `guard.protect(keys)` and only
then checks that the content exists. With an online GC running, `protect` records that the
keys are in use (the sweep then keeps them) and waits while the sweep is deleting one of
them, so the existence check that follows sees the outcome. docs/gc.md, "Online GC", has the
protocol and its proof; registry/cluster/gc_writer.py is the implementation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class GCGuard(Protocol):
    def protect(self, keys: Iterable[str], strict: bool = True) -> None:
        """Return once the keys are safe from the sweep of any running GC. `strict`: the
        request makes a reference (a write); otherwise it only answers "exists"."""
        ...


class NoGuard:
    """No online GC can run (a single-process tool, a test of the content layer)."""

    def protect(self, keys: Iterable[str], strict: bool = True) -> None:
        return None


NO_GUARD: GCGuard = NoGuard()


def repository_key(name: str) -> str:
    """The key of a repository's own files (what the GC removes when it is left empty)."""
    return f"repository:{name}"


def upload_key(upload_id: str) -> str:
    return f"upload:{upload_id}"
