"""Task and schedule records: the SQL source of truth that Celery messages only carry, and
the task-kind vocabulary they are validated against (`kinds`, `params`, `limits`: light
modules, pydantic and durations only, that load no algorithm)."""
