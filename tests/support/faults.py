"""Faults that real services cannot be made to produce on cue, injected into one SDK method."""

from __future__ import annotations

import os
from typing import Any

import pytest

from registry.storage import StorageDriver, StorageUnavailableError


def refuse_nth_call(
    monkeypatch: pytest.MonkeyPatch, owner: type, method: str, nth: int, error: BaseException
) -> list[tuple[Any, ...]]:
    """Make the `nth` call of `owner.method` raise `error` while the others go through to the
    real service; returns the arguments of every call, in order."""
    real = getattr(owner, method)
    calls: list[tuple[Any, ...]] = []

    def sometimes_refused(self: object, *args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == nth:
            raise error
        return real(self, *args, **kwargs)

    monkeypatch.setattr(owner, method, sometimes_refused)
    return calls


def resume_with_a_refused_part(
    monkeypatch: pytest.MonkeyPatch,
    driver: StorageDriver,
    path: str,
    part_size: int,
    refused: tuple[type, str, BaseException],
) -> list[tuple[Any, ...]]:
    """Store b"kept;" at `path` (closed, not committed), then resume it and stream four parts
    while the second call of `refused` (owner, method, error) fails: the write must fail with
    StorageUnavailableError. Returns the arguments of every call of that method."""
    with driver.writer(path) as writer:
        writer.write(b"kept;")
    owner, method, error = refused
    calls = refuse_nth_call(monkeypatch, owner, method, 2, error)
    writer = driver.writer(path, append=True)
    with pytest.raises(StorageUnavailableError):
        for _ in range(4):
            writer.write(os.urandom(part_size))
        writer.commit()
    writer.close()
    monkeypatch.undo()
    return calls
