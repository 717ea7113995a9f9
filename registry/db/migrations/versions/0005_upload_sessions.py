"""Upload sessions: who writes each chunked upload now, and how many bytes it has committed."""

from __future__ import annotations

import sqlalchemy as sa

from registry.db.migrations.schema import drop_indexes, drop_tables, table, when

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with table("upload_sessions") as t:
        t.key("upload_id", sa.String(36))
        t.required(sa.String(255), "repository")
        t.optional(sa.String(255), "holder")
        t.required(sa.Integer(), "token")
        t.optional(when(), "expires_at")
        t.optional(sa.BigInteger(), "size")
        t.required(when(), "created_at")
        t.indexes("holder")


def downgrade() -> None:
    drop_indexes("upload_sessions", "holder")
    drop_tables("upload_sessions")
