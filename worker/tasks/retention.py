"""Executor of kind `retention`: run a stored policy, audit each deletion, then, with
`gc_after`, enqueue a GC (docs/retention.md)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from registry.maintenance.retention_policy import compile_policy
from registry.maintenance.retention_run import RepositoryOutcome, Retention
from registry.tasks.params import RetentionParams
from registry.tasks.retention import audit_deletions, get_policy
from registry.tasks.states import Trigger
from registry.tasks.tag_protections import load_tag_protection
from worker.client import enqueue
from worker.context import TaskContext
from worker.lease import hold_storage_lease

log = logging.getLogger("hth.tasks")


def execute(ctx: TaskContext) -> dict[str, Any]:
    params = RetentionParams.model_validate(ctx.params)
    policy = compile_policy(get_policy(ctx.db, params.policy).spec)

    def audited(outcome: RepositoryOutcome) -> None:
        if params.dry_run:
            return
        try:
            audit_deletions(ctx.db, ctx.task_id, params.policy, outcome)
        except SQLAlchemyError as exc:  # the deletes happened: report, and go on with the run
            log.error("retention %s: audit of %s not written: %s", ctx.task_id, outcome, exc)
            ctx.log(f"{outcome.repository}: audit records not written: {exc}")

    retention = Retention(
        ctx.driver,
        policy,
        dry_run=params.dry_run,
        protected=load_tag_protection(ctx.db).protects,  # rules as the run starts
        untagged_grace=ctx.settings.docker_registry.gc.grace_period,
        progress=ctx.progress,
        log_line=ctx.log,
        on_repository=audited,
    )
    # Deletes what DELETE /v2 deletes: instances keep serving; GC, backups wait meanwhile.
    with hold_storage_lease(ctx, "shared"):
        result = retention.run().to_dict()
    result["gc_task"] = None
    if policy.spec.gc_after and not params.dry_run:
        gc = enqueue(ctx.db, ctx.settings, "gc", {}, Trigger.SCHEDULE)
        ctx.log(f"gc_after: enqueued gc task {gc.id}")
        result["gc_task"] = gc.id
    return result
