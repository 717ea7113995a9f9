"""What runs each task kind: kind -> executor, the worker's half of the kinds' tables
(registry/tasks/kinds.py:KINDS; tests/worker/test_kind_tables.py keeps the kinds the
same, mypy the signatures).

An executor reads its params (`XParams.model_validate(ctx.params)`) and the settings from
`ctx`, runs the algorithm on `ctx.driver` with `ctx.progress`, takes the storage lease
itself when the algorithm needs it (worker/lease.py) and returns the task's result, JSON-ready.
One that only validates and calls is a function here; the others are named functions of
worker/tasks/<capability>.py. Imported by a pool process with its first task (worker/runner.py),
never by an idle worker: it loads every algorithm.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from registry.maintenance.noop import noop
from registry.tasks.params import NoopParams
from worker.context import TaskContext
from worker.tasks import backup, gc, purge_uploads, reconfigure, retention, usage, verify_storage

Execute = Callable[[TaskContext], dict[str, Any]]


def run_noop(ctx: TaskContext) -> dict[str, Any]:
    return noop(NoopParams.model_validate(ctx.params), ctx.attempt, ctx.progress)


EXECUTORS: dict[str, Execute] = {
    "purge_uploads": purge_uploads.execute,
    "gc": gc.execute,
    "noop": run_noop,
    "backup": backup.execute_backup,
    "restore": backup.execute_restore,
    "backup_verify": backup.execute_verify,
    "backup_export": backup.execute_export,
    "reconfigure": reconfigure.execute,
    "backup_prune": backup.execute_prune,
    "verify_storage": verify_storage.execute,
    "usage": usage.execute,
    "retention": retention.execute,
}
