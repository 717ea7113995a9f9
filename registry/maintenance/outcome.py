"""How an algorithm says "I ran to the end, and the outcome is a failure" without losing its
result: the runner fails the task with the message and keeps the result beside the error."""

from __future__ import annotations

from typing import Any


class FailedWithResult(Exception):
    """Not a crash: e.g. a scrub that found corruption and left it in place. A monitor
    watching failed tasks must see it, and the operator must still get the full report."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result
