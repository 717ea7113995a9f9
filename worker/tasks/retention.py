"""Celery wrapper of kind `retention`: run a stored policy, audit each deletion, then, with
`gc_after`, enqueue a GC (docs/retention.md)."""

from __future__ import annotations

from typing import Any

from registry import audit
from registry.durations import parse_duration
from registry.maintenance.retention import nothing_protected
from registry.maintenance.retention_policy import Params, compile_policy
from registry.maintenance.retention_run import Retention
from registry.tasks.retention import get_policy
from registry.tasks.states import Trigger
from worker.client import enqueue
from worker.context import TaskContext
from worker.lease import storage_lease


def execute(ctx: TaskContext) -> dict[str, Any]:
    params = Params.model_validate(ctx.params)
    policy = compile_policy(get_policy(ctx.db, params.policy).spec)
    actor = f"retention:{params.policy}"

    def audited(what: str, repository: str, reference: str, digest: str) -> None:
        target = f"{repository}:{reference}" if what == "tag" else f"{repository}@{reference}"
        details = {"policy": params.policy, "digest": digest}
        audit.record_quietly(
            ctx.db, f"retention.{what}_delete", target, params=details, task_id=ctx.task_id,
            actor=actor,
        )  # fmt: skip

    retention = Retention(
        ctx.driver,
        policy,
        dry_run=params.dry_run,
        protected=nothing_protected,  # immutable-tag rules plug in here
        untagged_grace=parse_duration(ctx.settings.docker_registry.gc.grace_period),
        progress=ctx.progress,
        log_line=ctx.log,
        on_deleted=audited,
    )
    # Deletes what DELETE /v2 deletes: instances keep serving; GC, backups wait meanwhile.
    with storage_lease(ctx, "shared"):
        result = retention.run().to_dict()
    result["gc_task"] = None
    if policy.spec.gc_after and not params.dry_run:
        gc = enqueue(ctx.db, ctx.settings, "gc", {}, Trigger.SCHEDULE)
        ctx.log(f"gc_after: enqueued gc task {gc.id}")
        result["gc_task"] = gc.id
    return result
