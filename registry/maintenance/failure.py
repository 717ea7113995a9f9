"""A task that did its work and found it wanting (a corrupt backup): it ends `failed`, so
that monitors watching for failed tasks see it, and keeps what it found as its result."""

from __future__ import annotations

from typing import Any


class FailedWithResult(Exception):
    """Fails the task with this message (never retried) and records `result` as well."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result
