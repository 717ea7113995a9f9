"""One Celery task per task kind, named `hth.<kind>`, with the kind's time limits
(registry/tasks/limits.py: the worker's main process reads no other table of the kinds).

Claiming, heartbeats, retries, time limits and cancellation are the same for every kind
(worker/runner.py), which a pool process imports with its first task, and with it the
executors (worker/executors.py; the non-trivial ones are the modules of this package): an
idle worker holds neither them nor pydantic or SQLAlchemy (worker/boot.py).
"""

from __future__ import annotations

from celery import Task

from registry.tasks.limits import TIME_LIMITS, TimeLimits
from worker.celery_app import HthCelery, task_name


def register_tasks(app: HthCelery) -> None:
    for kind, limits in TIME_LIMITS.items():
        _register(app, kind, limits)


def _register(app: HthCelery, kind: str, limits: TimeLimits) -> None:
    def body(self: Task, task_id: str) -> None:
        from worker.runner import run_task

        run_task(self, task_id)

    body.__name__ = body.__qualname__ = kind
    app.task(
        name=task_name(kind),
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        soft_time_limit=limits.soft_time_limit,
        time_limit=limits.time_limit,
        ignore_result=True,
        shared=False,  # this app's task only: not added to every Celery app made afterwards
    )(body)
