"""Retention policies: one row per policy, its JSON document as the API serves it."""

from __future__ import annotations

import sqlalchemy as sa

from registry.db.migrations.schema import drop_tables, table, when

revision = "0010_retention_policies"
down_revision = "0009_usage"


def upgrade() -> None:
    with table("retention_policies") as t:
        t.key("name", sa.String(64))
        t.required(sa.JSON(), "document")
        t.required(when(), "created_at", "updated_at")


def downgrade() -> None:
    drop_tables("retention_policies")
