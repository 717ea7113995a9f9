"""Celery wrapper of registry.maintenance.noop."""

from __future__ import annotations

from typing import Any

from registry.maintenance.noop import Params, noop
from worker.context import TaskContext


def execute(ctx: TaskContext) -> dict[str, Any]:
    return noop(Params.model_validate(ctx.params), ctx.attempt, ctx.progress)
