"""Maintenance algorithms: plain functions over a storage driver, run by the task kinds (the
kinds' tables are a floor below, in registry/tasks/, beside the records they validate).

Adding a task kind `foo` takes these pieces and no other change (the REST API, CLI, beat and
Flower find it in the tables; mypy checks the rows, tests/worker/test_kind_tables.py that
the three tables name the same kinds; docs/architecture.md, "How to add a task kind"):

| file | what to write |
|---|---|
| `registry/tasks/params.py` | `FooParams` (pydantic, extra="forbid", fields defaulted |
| | where they can be): imports pydantic and durations only |
| `registry/maintenance/foo.py` | the algorithm, e.g. `foo(driver, options, progress) -> dict`: |
| | no Celery, no database session it did not get, tested alone |
| `registry/tasks/kinds.py` | one row of `KINDS`: |
| | `"foo": TaskKind(FooParams, "what it does")` |
| `registry/tasks/limits.py` | one row of `TIME_LIMITS`: `"foo": hours(6)` (read by the |
| | worker's main process, which imports no pydantic) |
| `worker/executors.py` | one row of `EXECUTORS`: `"foo": run_foo`, a function |
| | `(ctx: TaskContext) -> dict` that validates `FooParams` from `ctx.params`, reads |
| | `ctx.settings` and runs the algorithm on `ctx.driver` with `ctx.progress`; one longer |
| | than a few lines goes in `worker/tasks/<capability>.py` |

A kind that changes storage takes the storage lease inside its executor, in the mode each
phase needs: `worker.lease.hold_storage_lease(ctx, mode)` around a block, or
`worker.lease.lease_taker(ctx)` handed to an algorithm that takes it phase by phase
(`registry.cluster.leases.TakeLease`). No table declares a lease.

Tasks must be idempotent: a redelivered task runs again from the start. Between units of
work call `progress(phase, done, total)`; it raises `TaskCancelled` once a cancel was asked.
Errors: `StorageUnavailableError`, `ConnectionError` and `TimeoutError` are retried with
backoff; anything else fails the task at once with its message (`outcome.FailedWithResult`
also keeps a result: what a task that did its work found wrong).
"""
