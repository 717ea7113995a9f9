"""Failed logins shared by every process and instance, and the client of a refresh token."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from registry.db.migrations.schema import drop_tables, table

revision = "0006_login_limits"
down_revision = "0005"


def upgrade() -> None:
    with table("auth_login_failures") as t:
        t.key("id", sa.Integer(), autoincrement=True)
        t.required(sa.Float(), "at")
        t.required(sa.String(64), "address")
        t.required(sa.String(128), "username")
        t.index("username", "at")
        t.index("address", "at")
    with op.batch_alter_table("auth_tokens") as batch:
        batch.add_column(sa.Column("client_id", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("auth_tokens") as batch:
        batch.drop_column("client_id")
    drop_tables("auth_login_failures")
