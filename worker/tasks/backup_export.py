"""Celery wrapper of the `backup_export` kind (worker/tasks/backup.py holds the backup kinds)."""

from worker.tasks.backup import execute_export as execute

__all__ = ["execute"]
