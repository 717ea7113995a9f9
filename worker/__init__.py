"""Celery workers: thin task wrappers around registry.maintenance."""
