"""Celery wrapper of registry.maintenance.reconfigure (it takes the storage lease itself,
only for the final pass of a migration)."""

from __future__ import annotations

from typing import Any

from registry.maintenance.reconfigure import Cluster, Params, reconfigure
from worker.context import TaskContext
from worker.lease import storage_lease


def execute(ctx: TaskContext) -> dict[str, Any]:
    params = Params.model_validate(ctx.params)
    cluster = Cluster(
        db=ctx.db,
        running=ctx.settings,
        driver=ctx.driver,
        lease=lambda mode: storage_lease(ctx, mode),
        progress=ctx.progress,
        instance_ttl=ctx.settings.cluster.instance_ttl,
        task_id=ctx.task_id,
    )
    return reconfigure(params, cluster)
