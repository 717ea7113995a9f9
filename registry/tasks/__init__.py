"""Task and schedule records: the SQL source of truth that Celery messages only carry."""
