"""Failed logins shared by every process and instance, and the client of a refresh token."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_login_limits"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "auth_login_failures",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("username", sa.String(128), nullable=False),
    )
    op.create_index("ix_auth_login_failures_username_at", "auth_login_failures", ["username", "at"])
    op.create_index("ix_auth_login_failures_address_at", "auth_login_failures", ["address", "at"])
    with op.batch_alter_table("auth_tokens") as batch:
        batch.add_column(sa.Column("client_id", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("auth_tokens") as batch:
        batch.drop_column("client_id")
    op.drop_table("auth_login_failures")
