"""Celery wrapper of the `backup_verify` kind (worker/tasks/backup.py holds the backup kinds)."""

from worker.tasks.backup import execute_verify as execute

__all__ = ["execute"]
