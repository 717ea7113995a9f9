"""The newest `usage` run: its totals, a row per repository and one per namespace."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from registry.db.migrations.schema import drop_tables, table, when

revision = "0009_usage"
down_revision = "0008_user_tokens"


def upgrade() -> None:
    with table("usage_runs") as t:
        t.key("task_id", sa.String(36))
        t.required(when(), "computed_at")
        t.required(sa.BigInteger(), "total_bytes", "gc_would_free_bytes", "blobs")
        t.required(sa.Integer(), "repositories")
        t.required(sa.Float(), "seconds")
    with table("usage_repositories") as t:
        t.key("task_id", sa.String(36))
        t.key("repository", sa.String(255))
        t.required(sa.String(255), "namespace")
        t.required(sa.BigInteger(), "size_bytes", "unique_bytes")
        t.required(sa.Integer(), "manifests", "tags")
        t.optional(when(), "last_push_at")
        # The API pages by size within a run, optionally within a namespace.
        t.index("task_id", "size_bytes", "repository", name="ix_usage_repositories_size")
        t.index("task_id", "namespace", "size_bytes", name="ix_usage_repositories_namespace")
    with table("usage_namespaces") as t:
        t.key("task_id", sa.String(36))
        t.key("namespace", sa.String(255))
        t.required(sa.BigInteger(), "size_bytes", "unique_bytes")
        t.required(sa.Integer(), "repositories")


def downgrade() -> None:
    drop_tables("usage_namespaces")
    op.drop_index("ix_usage_repositories_namespace", "usage_repositories")
    op.drop_index("ix_usage_repositories_size", "usage_repositories")
    drop_tables("usage_repositories", "usage_runs")
