"""Retention policies in the database (migration 0010_retention_policies), each with its
own schedule: a policy with `cron` owns the schedule `retention-<name>` (kind `retention`),
written, changed and removed in the same transaction as the policy. Every change is audited.

What a policy selects and keeps is checked before it gets here, by compiling it
(registry/maintenance/retention_compile.py, a floor above); its cron is checked here, where
schedules are."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column

from registry import audit
from registry.db.database import Database
from registry.db.rows import Field, Row, col, select
from registry.db.session import Session, get_row
from registry.tasks.errors import InvalidCron
from registry.tasks.kinds import validate_params
from registry.tasks.models import ScheduleRow, utc_time, utcnow
from registry.tasks.retention_policy import InvalidPolicy, PolicyExists, PolicyNotFound, PolicySpec
from registry.tasks.schedules import check_cron


class RetentionPolicyRow(Row, table=True):
    __tablename__ = "retention_policies"

    name: str = Field(primary_key=True, max_length=64)
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))  # the PolicySpec
    created_at: datetime = utc_time()
    updated_at: datetime = utc_time()

    @property
    def spec(self) -> PolicySpec:
        return PolicySpec.model_validate(self.document)


def schedule_id(name: str) -> str:
    return f"retention-{name}"


def checked(spec: PolicySpec, allow_seconds: bool) -> PolicySpec:
    """The spec as stored (cron normalised); InvalidPolicy (400) when its cron cannot work.
    The caller compiled it first (compile_policy): what it selects and keeps can work."""
    if spec.cron is None:
        return spec
    try:
        cron = check_cron(spec.cron, allow_seconds)
    except InvalidCron as exc:
        raise InvalidPolicy(f"cron: {exc.message}") from None
    return spec.model_copy(update={"cron": cron})


def list_policies(db: Database) -> list[RetentionPolicyRow]:
    with Session(db.engine, expire_on_commit=False) as session:
        query = select(RetentionPolicyRow).order_by(col(RetentionPolicyRow.name))
        return list(session.exec(query).all())


def get_policy(db: Database, name: str) -> RetentionPolicyRow:
    return get_row(db, RetentionPolicyRow, name, _not_found(name))


def create_policy(db: Database, spec: PolicySpec, *, allow_seconds: bool) -> RetentionPolicyRow:
    spec = checked(spec, allow_seconds)
    now = utcnow()
    row = RetentionPolicyRow(
        name=spec.name, document=spec.model_dump(mode="json"), created_at=now, updated_at=now
    )
    with Session(db.engine, expire_on_commit=False) as session:
        if session.get(RetentionPolicyRow, spec.name) is not None:
            raise PolicyExists(f"retention policy {spec.name!r} already exists")
        session.add(row)
        _sync_schedule(session, spec)
        session.commit()
    audit.record_quietly(db, "retention_policy.create", spec.name, params=row.document)
    return row


def replace_policy(db: Database, spec: PolicySpec, *, allow_seconds: bool) -> RetentionPolicyRow:
    spec = checked(spec, allow_seconds)
    with Session(db.engine, expire_on_commit=False) as session:
        row = session.require(RetentionPolicyRow, spec.name, _not_found(spec.name))
        row.document, row.updated_at = spec.model_dump(mode="json"), utcnow()
        session.add(row)
        _sync_schedule(session, spec)
        session.commit()
    audit.record_quietly(db, "retention_policy.update", spec.name, params=row.document)
    return row


def delete_policy(db: Database, name: str) -> None:
    with Session(db.engine) as session:
        row = session.require(RetentionPolicyRow, name, _not_found(name))
        schedule = session.get(ScheduleRow, schedule_id(name))
        if schedule is not None:
            session.delete(schedule)
        session.delete(row)
        session.commit()
    audit.record_quietly(db, "retention_policy.delete", name)


def _sync_schedule(session: Session, spec: PolicySpec) -> None:
    """The policy's schedule as its cron and enabled say: present iff cron is set."""
    row = session.get(ScheduleRow, schedule_id(spec.name))
    if spec.cron is None:
        if row is not None:
            session.delete(row)
        return
    params = validate_params("retention", {"policy": spec.name, "dry_run": False})
    now = utcnow()
    if row is None:
        row = ScheduleRow(
            id=schedule_id(spec.name), kind="retention", cron=spec.cron, created_at=now,
            updated_at=now,
        )  # fmt: skip
    row.params, row.cron, row.enabled = params, spec.cron, spec.enabled
    row.next_run_at, row.updated_at = None, now  # beat recomputes the next run
    session.add(row)


def _not_found(name: str) -> PolicyNotFound:
    return PolicyNotFound(f"retention policy {name!r} not found")
