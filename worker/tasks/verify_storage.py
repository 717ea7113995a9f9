"""Celery wrapper of kind `verify_storage`: scrub the storage, fail when corruption is left."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from registry.maintenance.backup.take import LeaseMode
from registry.maintenance.verify_storage import Params, raise_if_corrupt, verify_storage
from worker.context import TaskContext
from worker.lease import storage_lease


def execute(ctx: TaskContext) -> dict[str, Any]:
    params = Params.model_validate(ctx.params)

    def lease(mode: LeaseMode) -> AbstractContextManager[None]:
        return storage_lease(ctx, mode)

    result = verify_storage(ctx.driver, params, ctx.progress, lease)
    raise_if_corrupt(result)
    return result.as_dict()
