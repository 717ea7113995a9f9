"""One Celery task per kind of `registry.maintenance.KINDS`, named `hth.<kind>`.

`worker/tasks/<kind>.py` holds only `execute(ctx)`; claiming, heartbeats, retries, time
limits and cancellation are the same for every kind (worker/runner.py), which a pool process
imports with its first task: an idle worker holds neither it nor SQLAlchemy (worker/main.py).
"""

from __future__ import annotations

from celery import Task

from registry.maintenance import KINDS, TaskKind
from worker.celery_app import HthCelery, task_name


def register_tasks(app: HthCelery) -> None:
    for kind, spec in KINDS.items():
        _register(app, kind, spec)


def _register(app: HthCelery, kind: str, spec: TaskKind) -> None:
    def body(self: Task, task_id: str) -> None:
        from worker.runner import run_task

        run_task(self, task_id)

    body.__name__ = body.__qualname__ = kind
    app.task(
        name=task_name(kind),
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        soft_time_limit=spec.soft_time_limit,
        time_limit=spec.time_limit,
        ignore_result=True,
    )(body)
