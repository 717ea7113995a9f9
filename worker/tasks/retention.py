"""Executor of kind `retention`: run a stored policy, audit each deletion (one transaction per
repository), then, with `gc_after`, enqueue a GC (docs/retention.md)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from registry.audit import AuditRow
from registry.db.database import Database
from registry.db.session import Session
from registry.maintenance.retention_compile import compile_policy
from registry.maintenance.retention_run import RepositoryOutcome, Retention
from registry.tasks.models import utcnow
from registry.tasks.params import RetentionParams
from registry.tasks.retention import get_policy
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


def audit_deletions(db: Database, task_id: str, policy: str, outcome: RepositoryOutcome) -> None:
    """One audit event per tag and manifest a run deleted in a repository, in one transaction
    (a run may delete thousands): actor `retention:<policy>`, with the task id."""
    now, actor, repository = utcnow(), f"retention:{policy}", outcome.repository
    rows = [
        AuditRow(at=now, actor=actor, action="retention.tag_delete", target=f"{repository}:{tag}",
                 params={"policy": policy, "digest": outcome.digests[tag]}, task_id=task_id)
        for tag in outcome.tags
    ] + [
        AuditRow(at=now, actor=actor, action="retention.manifest_delete",
                 target=f"{repository}@{digest}", params={"policy": policy}, task_id=task_id)
        for digest in outcome.manifests
    ]  # fmt: skip
    if rows:
        with Session(db.engine) as session:
            session.add_all(rows)
            session.commit()
