"""Faults that real services cannot be made to produce on cue, injected into one SDK method."""

from __future__ import annotations

from typing import Any

import pytest


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
