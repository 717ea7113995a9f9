"""`python -m worker.boot worker|flower`: the Celery worker's main process, or Flower, built
from the plan its parent computed (worker/main.py, worker/flower.py: $HTH_BOOT_PLAN) without
loading the settings: no pydantic, SQLAlchemy or task code at idle, in this process nor in
the pool processes it forks (worker/celery_app.py: HthCelery.settings loads them when a task
asks). Run by exec from `hth-ctl run worker|flower`, never by hand."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from registry.logs import apply_level
from registry.ports import Listener
from worker.celery_app import app_from_conf

# JSON, through the environment (not argv: it may hold the broker's password).
PLAN_ENV = "HTH_BOOT_PLAN"


def run_worker(plan: dict[str, Any]) -> None:
    from worker.metrics import start_exporter
    from worker.tasks import register_tasks

    app = app_from_conf(plan["conf"])
    register_tasks(app)
    # Celery sets up the root logger itself (format and level); the SDK levels are ours.
    apply_level(plan["level"])
    found = plan["metrics_listener"]
    listener = Listener(**found) if found else None
    exporter = start_exporter(listener, plan["node"], plan["concurrency"])  # before the fork
    # Celery's `celery worker` command line would load its whole CLI (every subcommand: 22 MiB
    # in this process and in each pool process): the worker is built as that command does.
    worker = app.Worker(
        hostname=plan["node"],
        pool_cls="prefork",
        concurrency=plan["concurrency"],
        loglevel=plan["level"].upper(),
        queues=[plan["queue"]],
        task_events=True,
        without_mingle=True,
        without_gossip=True,
    )
    try:
        worker.start()
    finally:
        if exporter is not None:
            exporter.close()
    sys.exit(worker.exitcode)


def run_flower(plan: dict[str, Any]) -> None:
    import click
    from celery.bin.base import CLIContext
    from flower.command import flower

    app = app_from_conf(plan["conf"])
    # As `celery flower` runs it, under a bare group instead of Celery's CLI (which would
    # load every celery subcommand: 22 MiB).
    celery = click.Group("celery", commands={"flower": flower})
    context = CLIContext(app=app, no_color=False, workdir=None)
    celery.main(args=["flower", *plan["args"]], obj=context, prog_name="celery")


def main(argv: list[str]) -> None:
    plan = json.loads(os.environ.pop(PLAN_ENV))
    {"worker": run_worker, "flower": run_flower}[argv[0]](plan)


if __name__ == "__main__":
    main(sys.argv[1:])
