"""The newest `usage` run: its totals, a row per repository and one per namespace."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_usage"
down_revision = "0008_user_tokens"


def upgrade() -> None:
    op.create_table(
        "usage_runs",
        sa.Column("task_id", sa.String(36), primary_key=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total_bytes", sa.BigInteger(), nullable=False),
        sa.Column("gc_would_free_bytes", sa.BigInteger(), nullable=False),
        sa.Column("blobs", sa.BigInteger(), nullable=False),
        sa.Column("repositories", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
    )
    op.create_table(
        "usage_repositories",
        sa.Column("task_id", sa.String(36), primary_key=True),
        sa.Column("repository", sa.String(255), primary_key=True),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("unique_bytes", sa.BigInteger(), nullable=False),
        sa.Column("manifests", sa.Integer(), nullable=False),
        sa.Column("tags", sa.Integer(), nullable=False),
        sa.Column("last_push_at", sa.DateTime(timezone=True), nullable=True),
    )
    # The API pages by size within a run, optionally within a namespace.
    op.create_index(
        "ix_usage_repositories_size", "usage_repositories", ["task_id", "size_bytes", "repository"]
    )
    op.create_index(
        "ix_usage_repositories_namespace",
        "usage_repositories",
        ["task_id", "namespace", "size_bytes"],
    )
    op.create_table(
        "usage_namespaces",
        sa.Column("task_id", sa.String(36), primary_key=True),
        sa.Column("namespace", sa.String(255), primary_key=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("unique_bytes", sa.BigInteger(), nullable=False),
        sa.Column("repositories", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("usage_namespaces")
    op.drop_index("ix_usage_repositories_namespace", "usage_repositories")
    op.drop_index("ix_usage_repositories_size", "usage_repositories")
    op.drop_table("usage_repositories")
    op.drop_table("usage_runs")
