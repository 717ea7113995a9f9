"""The HTTP worker processes of each registry instance (one instance per server)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_instance_processes"
down_revision = "0006_login_limits"


def upgrade() -> None:
    op.create_table(
        "instance_processes",
        sa.Column("instance_id", sa.String(255), primary_key=True),
        sa.Column("pid", sa.Integer(), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("inflight_writes", sa.Integer(), nullable=False),
        sa.Column("lease_token", sa.Integer(), nullable=False),
        sa.Column("config_generation", sa.Integer(), nullable=False),
        sa.Column("detail", sa.String(1024), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("instance_processes")
