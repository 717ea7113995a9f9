"""Task states and triggers (DESIGN §4): queued → running → succeeded | failed | cancelled."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"  # waiting for an automatic retry after a transient error
    CANCELLING = "cancelling"  # cancel requested; the running task stops at its next checkpoint
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Trigger(StrEnum):
    API = "api"
    SCHEDULE = "schedule"
    CLI = "cli"


TERMINAL = frozenset({State.SUCCEEDED, State.FAILED, State.CANCELLED})
UNFINISHED = frozenset(set(State) - TERMINAL)
# States in which a worker holds the task (and refreshes its heartbeat).
ACTIVE = frozenset({State.RUNNING, State.CANCELLING})
# States waiting for a message to be delivered to a worker.
WAITING = frozenset({State.QUEUED, State.RETRYING})
