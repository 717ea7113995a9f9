"""Celery wrapper of registry.maintenance.purge_uploads."""

from __future__ import annotations

from typing import Any

from registry.maintenance.purge_uploads import Params, PurgeOptions, purge_uploads
from registry.tasks.models import utcnow
from worker.context import TaskContext


def execute(ctx: TaskContext) -> dict[str, Any]:
    defaults = ctx.settings.docker_registry.upload_purging
    options = PurgeOptions.from_params(Params.model_validate(ctx.params), defaults, utcnow())
    return purge_uploads(ctx.driver, options, ctx.progress).as_dict()
