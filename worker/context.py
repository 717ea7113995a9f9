"""What a running task works with: its TaskContext, progress written to its record, and a
heartbeat thread that keeps the record alive and notices cancel requests."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from registry.cluster import generations
from registry.cluster.secrets import keyring_for
from registry.config import Settings, with_shared
from registry.db.database import Database
from registry.maintenance.progress import Progress, ProgressState
from registry.storage import StorageDriver, create_driver
from registry.tasks.records import append_log
from registry.tasks.states import State
from registry.tasks.transitions import report_progress, touch


class Superseded(Exception):
    """The task was handed to another attempt (its worker was presumed dead): stop quietly."""


class RecordSink:
    """A ProgressSink writing to the task record, guarded by the attempt number."""

    def __init__(self, db: Database, task_id: str, attempt: int) -> None:
        self.db, self.task_id, self.attempt = db, task_id, attempt
        self.cancelling = threading.Event()
        self.lost = threading.Event()

    def observe(self, state: State | None) -> None:
        if state is None:
            self.lost.set()
        elif state == State.CANCELLING:
            self.cancelling.set()

    def report(self, state: ProgressState) -> None:
        self.observe(report_progress(self.db, self.task_id, self.attempt, state.as_dict()))
        if self.lost.is_set():
            raise Superseded(f"task {self.task_id}: attempt {self.attempt} was superseded")

    def log(self, line: str) -> None:
        append_log(self.db, self.task_id, line, self.attempt)

    def cancel_requested(self) -> bool:
        if self.lost.is_set():
            raise Superseded(f"task {self.task_id}: attempt {self.attempt} was superseded")
        return self.cancelling.is_set()


class Heartbeat:
    """Touches the records of the running tasks every `interval` seconds, from one daemon
    thread per worker process (started once: no thread to start and join per task)."""

    _lock = threading.Lock()
    _sinks: set[RecordSink] = set()
    _thread: tuple[int, threading.Thread] | None = None

    def __init__(self, sink: RecordSink, interval: float) -> None:
        self.sink, self.interval = sink, interval

    def __enter__(self) -> Heartbeat:
        cls = type(self)
        with cls._lock:
            cls._sinks.add(self.sink)
            if cls._thread is None or cls._thread[0] != os.getpid():  # none yet in this process
                thread = threading.Thread(
                    target=cls._beat, args=(self.interval,), name="hth-heartbeat", daemon=True
                )
                cls._thread = (os.getpid(), thread)
                thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with type(self)._lock:
            type(self)._sinks.discard(self.sink)

    @classmethod
    def _beat(cls, interval: float) -> None:
        while True:
            time.sleep(interval)
            with cls._lock:
                sinks = list(cls._sinks)
            for sink in sinks:
                try:
                    sink.observe(touch(sink.db, sink.task_id, sink.attempt))
                except Exception:  # noqa: BLE001, S112 - a missed beat is retried next interval
                    continue


_drivers: dict[int, StorageDriver] = {}
_effective: dict[tuple[int, int], Settings] = {}


def effective_settings(db: Database, local: Settings) -> Settings:
    """`local` with the newest configuration generation applied (hth-ctl reconfigure): each
    new task runs on it; one object per generation, so its driver is built once."""
    found = generations.current(db, keyring_for(local))
    if found is None:
        return local
    key = (id(local), found.number)
    if key not in _effective:
        _effective[key] = with_shared(local, found.document)
    return _effective[key]


@dataclass
class TaskContext:
    """Everything a kind's executor needs; the record's id and params, the settings,
    the storage driver and the progress reporter bound to this attempt."""

    task_id: str
    kind: str
    params: dict[str, Any]
    attempt: int
    settings: Settings
    db: Database
    sink: RecordSink
    progress: Progress = field(init=False)

    def __post_init__(self) -> None:
        self.settings = effective_settings(self.db, self.settings)
        interval = min(0.5, self.settings.queue.heartbeat.total_seconds())
        self.progress = Progress(self.sink, min_interval=interval)

    @cached_property
    def driver(self) -> StorageDriver:
        """The configured storage driver (one per worker process, reused across tasks)."""
        key = id(self.settings)
        if key not in _drivers:
            registry = self.settings.docker_registry
            _drivers[key] = create_driver(registry.storage_driver, self.settings.driver_settings())
        return _drivers[key]

    def log(self, message: str) -> None:
        self.progress.log(message)
