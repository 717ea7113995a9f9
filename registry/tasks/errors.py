"""Errors the management API answers with ({"detail": message} and the status below)."""

from __future__ import annotations

from registry.errors import RegistryError


class TaskNotFound(RegistryError):
    code, status, default_message = "NOT_FOUND", 404, "task not found"


class ScheduleNotFound(RegistryError):
    code, status, default_message = "NOT_FOUND", 404, "schedule not found"


class IllegalTransition(RegistryError):
    """The task is not in a state that allows the request (e.g. cancel a finished task)."""

    code, status, default_message = "CONFLICT", 409, "illegal state transition"


class TaskConflict(RegistryError):
    """Another task that changes storage is unfinished: only one runs at a time."""

    code, status, default_message = "CONFLICT", 409, "another maintenance task is running"


class UnknownTaskKind(RegistryError):
    code, status, default_message = "UNKNOWN_KIND", 422, "unknown task kind"


class InvalidParams(RegistryError):
    code, status, default_message = "INVALID_PARAMS", 422, "invalid task parameters"


class InvalidCron(RegistryError):
    code, status, default_message = "INVALID_CRON", 422, "invalid cron expression"


class InvalidCursor(RegistryError):
    code, status, default_message = "INVALID_CURSOR", 400, "invalid pagination cursor"
