"""Streamed writes cut into parts, as the object-store drivers send them: the part writer's
states and the bounded set of parts on the wire."""

from __future__ import annotations

import abc
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress

from registry.storage.chunked import PendingBytes
from registry.storage.cloud import Guard
from registry.storage.driver import FileWriter, StorageError, StorageUnavailableError


class PartWriter(FileWriter):
    """A streamed write cut into parts of `part_size`; subclasses move the parts.

    Memory stays below one part plus the caller's last write, whatever the file's size.
    Writers that send parts in the background keep them in `in_flight`.
    """

    driver = "abstract"
    in_flight: InFlight | None = None

    def __init__(self, path: str, part_size: int, guard: Guard, *, size: int, pending: bytes):
        self.path = path
        self._part_size = part_size
        self._guard = guard
        self._pending = PendingBytes(pending)
        self._size = size
        self._state = "open"

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes) -> int:
        self._require_open("write")
        self._pending.add(data)
        self._size += len(data)
        with self._guard():
            while len(self._pending) >= self._part_size:
                self._make_room()
                self._upload_part(self._pending.take(self._part_size))
        return len(data)

    def commit(self) -> None:
        self._require_open("commit")
        with self._guard():
            self._finish(self._pending.take_all())
        self._state = "committed"

    def cancel(self) -> None:
        if self._state == "cancelled":
            return
        self._state = "cancelled"
        with self._guard():
            self._discard()

    def close(self) -> None:
        if self._state != "open":
            return
        self._state = "closed"
        with self._guard():
            self._persist(self._pending.take_all())

    def rollback(self) -> None:
        if self._state in ("closed", "rolled back"):
            return
        self._require_open("rollback")
        self._state = "rolled back"
        self._pending.take_all()
        if self.in_flight is not None:
            self.in_flight.settle()  # parts still landing would undo what _revert drops
        with self._guard():
            self._revert()

    def _require_open(self, op: str) -> None:
        if self._state != "open":
            raise StorageError(
                f"{op} on a {self._state} writer", driver=self.driver, path=self.path
            )

    def _make_room(self) -> None:
        """Wait until another part may be sent (writers that send parts in the background)."""

    @abc.abstractmethod
    def _upload_part(self, data: bytes) -> None:
        """Send one full part."""

    @abc.abstractmethod
    def _finish(self, tail: bytes) -> None:
        """Make everything written, plus `tail`, the file's content."""

    @abc.abstractmethod
    def _persist(self, tail: bytes) -> None:
        """Keep what was written, plus `tail`, so that writer(path, append=True) resumes it."""

    @abc.abstractmethod
    def _discard(self) -> None:
        """Drop the write and the file."""

    @abc.abstractmethod
    def _revert(self) -> None:
        """Drop what this writer sent (nothing is in flight): the file is as it was found, or
        empty for a new writer."""


class InFlight:
    """Calls run on a shared pool, at most `limit` of them unfinished for one writer.

    A writer keeps streaming while its previous parts are still on the wire; a failed call
    raises from the submit or drain that follows it, and sets `failed` for good (later parts
    may have landed while an earlier one did not).
    """

    def __init__(self, pool: ThreadPoolExecutor, limit: int) -> None:
        self._pool = pool
        self._limit = limit
        self._pending: deque[Future[object]] = deque()
        self.failed = False

    def make_room(self) -> None:
        """Wait until fewer than `limit` calls are unfinished."""
        while len(self._pending) >= self._limit:
            error = self._pending.popleft().exception()
            if error is not None:
                self.failed = True
                raise error

    def require_intact(self, part: str, path: str) -> None:
        """Refuse to commit once a call failed: a later part may have landed without it."""
        if self.failed:
            message = f"a {part} of {path} failed; nothing was kept"
            raise StorageUnavailableError(message, path=path)

    def submit(self, call: Callable[[], object]) -> None:
        self.make_room()
        self._pending.append(self._pool.submit(call))

    def settle(self) -> None:
        """Wait for every call, failed or not, and raise nothing (a failure sets `failed`).
        Each call has the backend's timeouts, so this ends."""
        with suppress(Exception):  # the caller drops these parts either way
            self.drain()

    def drain(self) -> None:
        """Wait for every call; raise the first failure once all have ended."""
        failure: BaseException | None = None
        while self._pending:
            error = self._pending.popleft().exception()
            failure = failure or error
        if failure is not None:
            self.failed = True
            raise failure
