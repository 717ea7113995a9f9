"""The HTTP worker processes of each registry instance (one instance per server)."""

from __future__ import annotations

import sqlalchemy as sa

from registry.db.migrations.schema import drop_tables, table, when

revision = "0007_instance_processes"
down_revision = "0006_login_limits"


def upgrade() -> None:
    with table("instance_processes") as t:
        t.key("instance_id", sa.String(255))
        t.key("pid", sa.Integer())
        t.required(sa.String(16), "state")
        t.required(sa.Integer(), "inflight_writes", "lease_token", "config_generation")
        t.required(sa.String(1024), "detail")
        t.required(when(), "started_at", "heartbeat_at")


def downgrade() -> None:
    drop_tables("instance_processes")
