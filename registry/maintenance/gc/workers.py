"""Bounded parallelism with cooperative cancellation and throttled progress for one GC run."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from registry.maintenance.progress import TaskCancelled

T = TypeVar("T")
R = TypeVar("R")

ProgressFn = Callable[[str, int, int | None], None]
"""progress(phase, done, total): total is None while it is not known yet."""

_REPORT_EVERY = 0.25  # seconds between progress callbacks within a phase


def chunked(items: list[T], size: int = 64) -> list[list[T]]:
    """Items in lists of `size`: one unit of work each, to keep per-unit overhead small."""
    return [items[i : i + size] for i in range(0, len(items), size)]


class Cancelled(TaskCancelled):
    """should_stop() said yes; raised between units of work, never inside one."""


class Work:
    """Runs units of work on at most `workers` threads, stopping (or pausing) between units
    when asked."""

    def __init__(
        self,
        workers: int,
        should_stop: Callable[[], bool] | None = None,
        progress: ProgressFn | None = None,
        pace: Callable[[], None] | None = None,
    ) -> None:
        self.workers = max(1, workers)
        self._should_stop = should_stop or (lambda: False)
        self._progress = progress
        self._pace = pace or (lambda: None)  # may pause between units (gc/pacing.py)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="hth-gc")
        self._reported_at = 0.0

    def check(self) -> None:
        if self._should_stop():
            raise Cancelled()

    def report(self, phase: str, done: int, total: int | None, force: bool = False) -> None:
        if self._progress is None:
            return
        now = time.monotonic()
        if force or now - self._reported_at >= _REPORT_EVERY:
            self._reported_at = now
            self._progress(phase, done, total)

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        phase: str | None = None,
        total: int | None = None,
        done: int = 0,
    ) -> Iterator[R]:
        """fn over items in parallel, results in order; checks should_stop before each unit.
        `done`: units of the phase already done (progress counts on from there)."""
        window = self.workers * 4
        pending: deque[Future[R]] = deque()
        source = iter(items)
        try:
            while True:
                while len(pending) < window:
                    item = next(source, _END)
                    if item is _END:
                        break
                    self._pace()
                    self.check()
                    pending.append(self._pool.submit(fn, item))  # type: ignore[arg-type]
                if not pending:
                    break
                yield pending.popleft().result()
                done += 1
                if phase is not None:
                    self.report(phase, done, total)
        finally:
            for future in pending:
                future.cancel()
            for future in pending:
                if not future.cancelled():
                    future.exception()  # wait: a started unit always finishes

    def map_list(self, fn: Callable[[str], list[str]], items: Iterable[str]) -> Iterable[list[str]]:
        """`map` shaped for repositories.iter_repository_dirs."""
        return self.map(fn, list(items))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


_END = object()
