"""Online garbage collection: GC runs, the keys writes touched, the keys being deleted."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_gc_online"
down_revision = "0011_tag_protection"


def upgrade() -> None:
    op.create_table(
        "gc_runs",
        sa.Column("run", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("phase", sa.String(64), nullable=False),
        sa.Column("kept_by_writes", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "gc_touches",
        sa.Column("run", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "gc_deleting",
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("run", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("gc_deleting")
    op.drop_table("gc_touches")
    op.drop_table("gc_runs")
