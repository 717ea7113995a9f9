"""Executor of kind `purge_uploads` (registry/maintenance/purge_uploads.py), then the records
of the sessions it purged."""

from __future__ import annotations

from typing import Any

from registry.cluster.upload_locks import forget_sessions_before
from registry.maintenance.purge_uploads import PurgeOptions, purge_uploads
from registry.tasks.models import utcnow
from registry.tasks.params import PurgeUploadsParams
from worker.context import TaskContext


def execute(ctx: TaskContext) -> dict[str, Any]:
    defaults = ctx.settings.docker_registry.upload_purging
    options = PurgeOptions.from_params(
        PurgeUploadsParams.model_validate(ctx.params), defaults, utcnow()
    )
    report = purge_uploads(ctx.driver, options, ctx.progress)
    if not options.dry_run:  # the records of the sessions purged (and of older ones gone)
        forget_sessions_before(ctx.db, options.older_than)
    return report.as_dict()
