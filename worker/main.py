"""`hth-ctl run worker`: a Celery worker (prefork pool) in the foreground, with its metrics
exporter (worker/metrics.py).

This process reads the settings and migrates the task database, then execs worker/boot.py
with what the worker needs as JSON (`worker_plan`): the main process that stays, and the pool
processes it forks, hold neither pydantic nor SQLAlchemy nor a task's code at idle; a pool
process imports them with its first task (worker/tasks/__init__.py, HthCelery.settings)."""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import asdict
from typing import Any

from registry.config import Settings
from registry.db.database import open_database
from registry.ports import worker_metrics_listener
from worker.boot import PLAN_ENV
from worker.broker import QUEUE
from worker.celery_app import celery_conf, settings_env


def run_worker(settings: Settings, concurrency: int | None = None) -> None:
    # Migrate before the pool forks; exec leaves no connection (nor module) behind.
    open_database(settings).engine.dispose()
    boot("worker", worker_plan(settings, concurrency), settings_env(settings))


def worker_plan(settings: Settings, concurrency: int | None = None) -> dict[str, Any]:
    """What worker/boot.py needs to run the Celery worker of these settings."""
    concurrency = concurrency or settings.queue.worker_concurrency()
    listener = worker_metrics_listener(settings)
    return {
        "conf": celery_conf(settings),
        "level": settings.logging.level,
        "node": f"hth-{os.getpid()}@{socket.gethostname()}",  # the PID stays across exec
        "concurrency": concurrency,
        "metrics_listener": asdict(listener) if listener else None,
        "queue": QUEUE,
    }


def boot(mode: str, plan: dict[str, Any], extra_env: dict[str, str]) -> None:
    """Become `python -m worker.boot MODE` (same PID) with the plan in the environment."""
    env = {**os.environ, **extra_env, PLAN_ENV: json.dumps(plan)}
    argv = [sys.executable, "-m", "worker.boot", mode]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0], argv, env)
