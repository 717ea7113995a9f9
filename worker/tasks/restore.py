"""Celery wrapper of the `restore` kind (worker/tasks/backup.py holds the backup kinds)."""

from worker.tasks.backup import execute_restore as execute

__all__ = ["execute"]
