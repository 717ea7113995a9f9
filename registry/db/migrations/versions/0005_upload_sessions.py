"""Upload sessions: who writes each chunked upload now, and how many bytes it has committed."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "upload_sessions",
        sa.Column("upload_id", sa.String(36), primary_key=True),
        sa.Column("repository", sa.String(255), nullable=False),
        sa.Column("holder", sa.String(255), nullable=True),
        sa.Column("token", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_upload_sessions_holder", "upload_sessions", ["holder"])


def downgrade() -> None:
    op.drop_index("ix_upload_sessions_holder", table_name="upload_sessions")
    op.drop_table("upload_sessions")
