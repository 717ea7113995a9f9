"""Registry instances and storage leases (cluster coordination)."""

from __future__ import annotations

import sqlalchemy as sa

from registry.db.migrations.schema import drop_tables, table, when

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with table("instances") as t:
        t.key("id", sa.String(255))
        t.required(sa.String(255), "address")
        t.required(sa.String(16), "state", "admin_state")
        t.required(sa.Integer(), "inflight_writes", "lease_token", "config_generation")
        t.required(sa.String(1024), "detail")
        t.required(when(), "started_at", "heartbeat_at")
    with table("leases") as t:
        t.key("name", sa.String(64))
        t.optional(sa.String(255), "holder")
        t.required(sa.String(16), "mode")
        t.required(sa.Integer(), "token")
        t.required(when(), "acquired_at", "expires_at")


def downgrade() -> None:
    drop_tables("leases", "instances")
