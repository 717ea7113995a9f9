"""`hth-ctl run worker`: a Celery worker (prefork pool) in the foreground."""

from __future__ import annotations

import os

from registry.config import Settings
from registry.tasks.db import open_database
from worker.celery_app import QUEUE, create_celery
from worker.tasks import register_tasks


def run_worker(settings: Settings, concurrency: int | None = None) -> None:
    # Migrate before forking the pool, and fork with no open connection to share.
    open_database(settings).engine.dispose()
    app = create_celery(settings)
    register_tasks(app)
    app.worker_main(
        [
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency or settings.queue.concurrency}",
            "--task-events",
            f"--queues={QUEUE}",
            f"--hostname=hth-{os.getpid()}@%h",
            f"--loglevel={settings.logging.level.upper()}",
            "--without-mingle",
            "--without-gossip",
        ]
    )
