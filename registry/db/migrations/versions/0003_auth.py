"""Auth (users, tokens, namespace permissions, signing keys) and the audit log."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "auth_users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("username", sa.String(128), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("description", sa.String(1024), nullable=False),
        _when("created_at", nullable=False),
        _when("updated_at", nullable=False),
    )
    op.create_table(
        "auth_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False, index=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        _when("created_at", nullable=False),
        _when("expires_at"),
        _when("revoked_at"),
    )
    op.create_table(
        "auth_permissions",
        sa.Column("principal", sa.String(128), primary_key=True),
        sa.Column("namespace", sa.String(255), primary_key=True),
        sa.Column("actions", sa.String(64), nullable=False),
        _when("updated_at", nullable=False),
    )
    op.create_table(
        "auth_signing_keys",
        sa.Column("kid", sa.String(32), primary_key=True),
        sa.Column("private_pem", sa.Text(), nullable=False),
        _when("created_at", nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _when("at", nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(512), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(36), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    op.create_index("ix_audit_log_task_id", "audit_log", ["task_id"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("auth_signing_keys")
    op.drop_table("auth_permissions")
    op.drop_table("auth_tokens")
    op.drop_table("auth_users")
