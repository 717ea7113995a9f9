"""Personal access tokens users make for themselves may be limited to some namespaces and
actions: the limits a token carries."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_user_tokens"
down_revision = "0007_instance_processes"


def upgrade() -> None:
    with op.batch_alter_table("auth_tokens") as batch:
        batch.add_column(sa.Column("permissions", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("auth_tokens") as batch:
        batch.drop_column("permissions")
