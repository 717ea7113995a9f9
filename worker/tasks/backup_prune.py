"""Celery wrapper of the `backup_prune` kind (worker/tasks/backup.py holds the backup kinds)."""

from worker.tasks.backup import execute_prune as execute

__all__ = ["execute"]
