"""`hth-ctl run worker`: a Celery worker (prefork pool) in the foreground, with its metrics
exporter (worker/metrics.py).

The main process and the pool processes it forks stay small at idle: the main process
neither runs tasks nor touches the task database (a forked child migrates it), so neither it
nor an idle pool process holds SQLAlchemy or a task's code; a pool process imports them with
its first task (worker/tasks/__init__.py)."""

from __future__ import annotations

import os
import socket

from registry.config import Settings
from registry.logs import apply_levels
from worker.celery_app import QUEUE, create_celery
from worker.metrics import start_exporter
from worker.tasks import register_tasks


def run_worker(settings: Settings, concurrency: int | None = None) -> None:
    # Migrate before forking the pool; the pool forks with no connection to share.
    migrate_apart(settings)
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


def migrate_apart(settings: Settings) -> None:
    """Migrate the task database in a forked child, so that this process never loads
    SQLAlchemy; raise RuntimeError with the child's reason if it could not."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: migrate, say why not, never return
        os.close(reader)
        code = 0
        try:
            from registry.tasks.db import open_database

            open_database(settings).engine.dispose()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            os.write(writer, f"{type(exc).__name__}: {exc}".encode())
            code = 1
        finally:
            os._exit(code)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        reason = pipe.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"cannot migrate the task database: {reason or 'the child died'}")
