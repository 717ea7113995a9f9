"""Online garbage collection: GC runs, the keys writes touched, the keys being deleted."""

from __future__ import annotations

import sqlalchemy as sa

from registry.db.migrations.schema import drop_tables, table, when

revision = "0012_gc_online"
down_revision = "0011_tag_protection"


def upgrade() -> None:
    with table("gc_runs") as t:
        t.key("run", sa.Integer(), autoincrement=False)
        t.required(sa.String(64), "task_id", "phase")
        t.required(sa.Integer(), "kept_by_writes")
        t.required(when(), "started_at", "updated_at")
        t.optional(when(), "finished_at")
    with table("gc_touches") as t:
        t.key("run", sa.Integer(), autoincrement=False)
        t.key("key", sa.String(320))
        t.optional(when(), "used_at")
    with table("gc_deleting") as t:
        t.key("key", sa.String(320))
        t.key("run", sa.Integer(), autoincrement=False)
        t.required(when(), "expires_at")


def downgrade() -> None:
    drop_tables("gc_deleting", "gc_touches", "gc_runs")
