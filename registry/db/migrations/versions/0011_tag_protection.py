"""Immutable tags: the protection rules, and a row per protected tag that pushes of that
tag lock while they check and link it."""

from __future__ import annotations

import sqlalchemy as sa

from registry.db.migrations.schema import drop_tables, table, when

revision = "0011_tag_protection"
down_revision = "0010_retention_policies"


def upgrade() -> None:
    with table("tag_protection_rules") as t:
        t.key("name", sa.String(64))
        t.required(sa.String(255), "repositories")
        t.required(sa.String(1024), "tags")
        t.required(sa.String(128), "created_by")
        t.required(when(), "created_at")
    with table("tag_protection_claims") as t:
        t.key("repository", sa.String(255))
        t.key("tag", sa.String(128))
        t.required(sa.String(255), "digest")
        t.required(when(), "linked_at")


def downgrade() -> None:
    drop_tables("tag_protection_claims", "tag_protection_rules")
