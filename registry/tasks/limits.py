"""Each task kind's time limits, the one table of the kinds that the Celery worker's main
process reads (worker/tasks/__init__.py declares a task per row): plain data, so an idle
worker imports neither pydantic nor any algorithm (docs/benchmarks.md, "Footprint").

Everything else about a kind is in registry/tasks/kinds.py:KINDS (its params model,
what it does) and worker/executors.py:EXECUTORS (what runs it); a test keeps the three
tables' kinds the same (tests/worker/test_kind_tables.py).
"""

from __future__ import annotations

from dataclasses import dataclass

HOUR = 3600


@dataclass(frozen=True)
class TimeLimits:
    soft_time_limit: float  # seconds; then the task is asked to stop (and fails)
    time_limit: float  # seconds; then its worker process is killed


def hours(count: int) -> TimeLimits:
    """`count` hours, then five minutes more to stop before the process is killed."""
    return TimeLimits(count * HOUR, count * HOUR + 300)


TIME_LIMITS: dict[str, TimeLimits] = {
    "purge_uploads": hours(6),
    "gc": hours(12),
    "noop": TimeLimits(HOUR, HOUR + 60),
    "backup": hours(24),
    "restore": hours(24),
    "backup_verify": hours(24),
    "backup_export": hours(24),
    "reconfigure": hours(24),
    "backup_prune": hours(6),
    "verify_storage": hours(24),
    "usage": hours(12),
    "retention": hours(12),
}
