"""Immutable tags: the protection rules, and a row per protected tag that pushes of that
tag lock while they check and link it."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_tag_protection"
down_revision = "0010_retention_policies"


def upgrade() -> None:
    op.create_table(
        "tag_protection_rules",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("repositories", sa.String(255), nullable=False),
        sa.Column("tags", sa.String(1024), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "tag_protection_claims",
        sa.Column("repository", sa.String(255), primary_key=True),
        sa.Column("tag", sa.String(128), primary_key=True),
        sa.Column("digest", sa.String(255), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tag_protection_claims")
    op.drop_table("tag_protection_rules")
