"""Executor of kind `reconfigure` (registry/maintenance/reconfigure.py): it takes the storage
lease itself, only for the final pass of a migration."""

from __future__ import annotations

from typing import Any

from registry.maintenance.reconfigure import Cluster, reconfigure
from registry.tasks.params import ReconfigureParams
from worker.context import TaskContext
from worker.lease import lease_taker


def execute(ctx: TaskContext) -> dict[str, Any]:
    params = ReconfigureParams.model_validate(ctx.params)
    cluster = Cluster(
        db=ctx.db,
        running=ctx.settings,
        driver=ctx.driver,
        take_lease=lease_taker(ctx),
        progress=ctx.progress,
        instance_ttl=ctx.settings.cluster.instance_ttl,
        task_id=ctx.task_id,
    )
    return reconfigure(params, cluster)
