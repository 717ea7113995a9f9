"""Auth (users, tokens, namespace permissions, signing keys) and the audit log."""

from __future__ import annotations

import sqlalchemy as sa

from registry.db.migrations.schema import drop_tables, table, when

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with table("auth_users") as t:
        t.key("id", sa.String(36))
        t.column(sa.Column("username", sa.String(128), nullable=False, unique=True))
        t.required(sa.String(16), "kind")
        t.optional(sa.String(255), "password_hash")
        t.required(sa.Boolean(), "admin", "disabled")
        t.required(sa.String(1024), "description")
        t.required(when(), "created_at", "updated_at")
    with table("auth_tokens") as t:
        t.key("id", sa.String(32))
        t.column(sa.Column("user_id", sa.String(36), nullable=False, index=True))
        t.required(sa.String(128), "name")
        t.required(sa.String(16), "kind")
        t.required(sa.String(64), "secret_hash")
        t.required(when(), "created_at")
        t.optional(when(), "expires_at", "revoked_at")
    with table("auth_permissions") as t:
        t.key("principal", sa.String(128))
        t.key("namespace", sa.String(255))
        t.required(sa.String(64), "actions")
        t.required(when(), "updated_at")
    with table("auth_signing_keys") as t:
        t.key("kid", sa.String(32))
        t.required(sa.Text(), "private_pem")
        t.required(when(), "created_at")
    with table("audit_log") as t:
        t.key("id", sa.Integer(), autoincrement=True)
        t.required(when(), "at")
        t.required(sa.String(128), "actor")
        t.required(sa.String(64), "source", "action")
        t.required(sa.String(512), "target")
        t.required(sa.JSON(), "params")
        t.required(sa.Integer(), "status")
        t.optional(sa.String(36), "task_id")
        t.optional(sa.String(64), "request_id")
        t.indexes("at", "actor", "action", "task_id")


def downgrade() -> None:
    drop_tables("audit_log", "auth_signing_keys", "auth_permissions", "auth_tokens", "auth_users")
