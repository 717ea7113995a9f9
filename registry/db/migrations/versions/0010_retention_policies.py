"""Retention policies: one row per policy, its JSON document as the API serves it."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_retention_policies"
down_revision = "0009_usage"


def upgrade() -> None:
    op.create_table(
        "retention_policies",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("retention_policies")
