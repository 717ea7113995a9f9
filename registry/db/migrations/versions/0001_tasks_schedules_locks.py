"""Tasks, schedules and named locks."""

from __future__ import annotations

import sqlalchemy as sa

from registry.db.migrations.schema import drop_indexes, drop_tables, table, when

revision = "0001"
down_revision = None


def upgrade() -> None:
    with table("tasks") as t:
        t.key("id", sa.String(36))
        t.required(sa.String(64), "kind")
        t.required(sa.JSON(), "params")
        t.required(sa.String(16), "state", "trigger")
        t.required(sa.Integer(), "attempts", "max_attempts")
        t.optional(sa.JSON(), "progress", "result")
        t.optional(sa.Text(), "error")
        t.required(sa.Text(), "log")
        t.required(sa.String(64), "celery_id")
        t.optional(sa.String(255), "worker")
        t.optional(sa.String(36), "schedule_id", "retry_of")
        t.required(when(), "created_at", "updated_at")
        t.optional(when(), "sent_at", "started_at", "finished_at", "heartbeat_at", "retry_at")
        t.optional(when(), "scheduled_for")
        t.indexes("kind", "state", "schedule_id")
    with table("schedules") as t:
        t.key("id", sa.String(64))
        t.required(sa.String(64), "kind")
        t.required(sa.JSON(), "params")
        t.required(sa.String(128), "cron")
        t.required(sa.Boolean(), "enabled")
        t.required(when(), "created_at", "updated_at")
        t.optional(when(), "next_run_at", "last_run_at")
        t.optional(sa.String(36), "last_task_id")
    with table("locks") as t:
        t.key("name", sa.String(64))
        t.required(sa.String(255), "holder")
        t.required(sa.Integer(), "token")
        t.required(when(), "expires_at")


def downgrade() -> None:
    drop_tables("locks", "schedules")
    drop_indexes("tasks", "schedule_id", "state", "kind")
    drop_tables("tasks")
