"""Configuration generations (hth-ctl reconfigure)."""

from __future__ import annotations

import sqlalchemy as sa

from registry.db.migrations.schema import drop_tables, table, when

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    with table("config_generations") as t:
        t.key("number", sa.Integer(), autoincrement=False)
        t.required(sa.Text(), "document")
        t.required(sa.String(1024), "source")
        t.optional(sa.String(36), "task_id")
        t.required(when(), "created_at")


def downgrade() -> None:
    drop_tables("config_generations")
