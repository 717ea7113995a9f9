"""`hth-ctl run worker`: a Celery worker (prefork pool) in the foreground, with its metrics
exporter (worker/metrics.py)."""

from __future__ import annotations

import os
import socket

from registry.config import Settings
from registry.logs import apply_levels
from registry.tasks.db import open_database
from worker.celery_app import QUEUE, create_celery
from worker.metrics import start_exporter
from worker.tasks import register_tasks


def run_worker(settings: Settings, concurrency: int | None = None) -> None:
    # Migrate before forking the pool, and fork with no open connection to share.
    open_database(settings).engine.dispose()
    app = create_celery(settings)
    register_tasks(app)
    concurrency = concurrency or settings.queue.worker_concurrency()
    node = f"hth-{os.getpid()}@{socket.gethostname()}"
    # Celery sets up the root logger itself (format and level); the SDK levels are ours.
    apply_levels(settings.logging)
    exporter = start_exporter(settings, node, concurrency)  # before the pool forks
    try:
        app.worker_main(
            [
                "worker",
                "--pool=prefork",
                f"--concurrency={concurrency}",
                "--task-events",
                f"--queues={QUEUE}",
                f"--hostname={node}",
                f"--loglevel={settings.logging.level.upper()}",
                "--without-mingle",
                "--without-gossip",
            ]
        )
    finally:
        if exporter is not None:
            exporter.close()
