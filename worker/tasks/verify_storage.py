"""Executor of kind `verify_storage`: scrub the storage, fail when corruption is left."""

from __future__ import annotations

from typing import Any

from registry.maintenance.verify_storage import raise_if_corrupt, verify_storage
from registry.tasks.params import VerifyStorageParams
from worker.context import TaskContext
from worker.lease import lease_taker


def execute(ctx: TaskContext) -> dict[str, Any]:
    params = VerifyStorageParams.model_validate(ctx.params)
    result = verify_storage(ctx.driver, params, ctx.progress, lease_taker(ctx))
    raise_if_corrupt(result)
    return result.as_dict()
