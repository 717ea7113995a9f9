"""Progress reporting for maintenance algorithms: `progress(phase, done, total)` between
units of work, `progress.log(line)`, and cooperative cancellation through both."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

T = TypeVar("T")


class TaskCancelled(Exception):
    """A cancel was requested; raised between units of work, so storage stays consistent."""


@dataclass(frozen=True)
class ProgressState:
    phase: str
    done: int
    total: int | None  # None while it is not known yet
    note: str | None = None  # a short fact about the phase (e.g. online GC's kept count)

    def as_dict(self) -> dict[str, str | int | None]:
        document: dict[str, str | int | None] = {
            "phase": self.phase,
            "done": self.done,
            "total": self.total,
        }
        if self.note is not None:
            document["note"] = self.note
        return document


class ProgressSink(Protocol):
    """Where reports go (the task record, a terminal, a test)."""

    def report(self, state: ProgressState) -> None: ...

    def log(self, line: str) -> None: ...

    def cancel_requested(self) -> bool: ...


class Progress:
    """Cheap to call often: forwards at most every `min_interval` seconds, and at once on a
    new phase or when a phase completes. Callable as `progress(phase, done, total)`."""

    def __init__(
        self,
        sink: ProgressSink | None = None,
        *,
        min_interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sink = sink
        self._min_interval = min_interval
        self._clock = clock
        self._sent_at = float("-inf")
        self._sent: ProgressState | None = None
        self.current: ProgressState | None = None

    def __call__(
        self, phase: str, done: int, total: int | None = None, note: str | None = None
    ) -> None:
        previous, self.current = self.current, ProgressState(phase, done, total, note)
        now = self._clock()
        urgent = previous is None or previous.phase != phase or done == total
        if urgent or now - self._sent_at >= self._min_interval:
            self.flush()
        self.check()

    def flush(self) -> None:
        """Forward the latest state unless it was already forwarded."""
        if self._sink is not None and self.current is not None and self.current != self._sent:
            self._sent_at, self._sent = self._clock(), self.current
            self._sink.report(self.current)

    def log(self, message: str) -> None:
        if self._sink is not None:
            self._sink.log(message)

    def should_stop(self) -> bool:
        return self._sink is not None and self._sink.cancel_requested()

    def check(self) -> None:
        if self.should_stop():
            raise TaskCancelled("cancelled on request")

    def iterate(self, phase: str, items: Sequence[T]) -> Iterator[T]:
        """Yield items, reporting done/total after each; a cancel stops between items."""
        total = len(items)
        self(phase, 0, total)
        for done, item in enumerate(items, 1):
            yield item
            self(phase, done, total)
